"""A call over https/wss with the self-signed certificate `--tls self-signed` makes."""

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page

from tests.e2e.helpers import assert_media_flows, wait_for_remote_video, wait_for_state
from tests.e2e.recorded_pages import ARTIFACTS
from tests.parley_server import running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def https_url(private_network: list[str]) -> Iterator[str]:
    with running_server("--tls", "self-signed", log_path=ARTIFACTS / "e2e-tls-server.log") as url:
        yield url


def test_a_call_over_https_and_wss(
    https_url: str, open_page: Callable[..., Page], room_name: str
) -> None:
    assert https_url.startswith("https://")
    url = f"{https_url}/r/{room_name}?autojoin=1"
    # The person accepted the certificate warning once; the test does the same.
    pages = [open_page(url, ignore_https_errors=True) for _ in range(2)]
    for page in pages:
        assert page.evaluate("() => window.isSecureContext") is True
        wait_for_state(page, "in-call", timeout_ms=30_000)
        assert_media_flows(page, ("audio", "video"))
        wait_for_remote_video(page)
