"""The Python peer's tests run in a namespace of their own, with a veth pair for aiortc (aioice
leaves loopback out of its candidates) and a real Parley server as a subprocess."""

from collections.abc import Iterator

import pytest

from tests.netns import private_netns, veth_pair
from tests.parley_server import running_server


@pytest.fixture(scope="package")
def peer_network() -> Iterator[None]:
    with private_netns(), veth_pair("198.51.100.20", "198.51.100.21"):
        yield


@pytest.fixture(scope="package")
def server_url(peer_network: None) -> Iterator[str]:
    with running_server("--ring-timeout", "5") as url:
        yield url
