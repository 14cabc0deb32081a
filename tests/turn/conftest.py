"""Fixtures for the tests against a real coturn (tests/turn/test_coturn_*.py).

Where the test's side of the network lives: the test process's main thread — the one pytest,
the event loop, every socket the TURN client opens, and every `ip`/coturn subprocess run on —
moves into a fresh network namespace holding only loopback (tests.netns.enter_private_netns),
for as long as the tests of this folder run, and moves back into the namespace it came from
afterwards (setns on a descriptor kept from before). Namespaces belong to threads, not to
processes, so this is exact and reversible:

- nothing the tests do can touch the host's interfaces, routes or addresses: the veth to
  coturn's namespace is created inside the private namespace, and topology.py refuses to run
  in PID 1's namespace;
- the rest of the suite is unaffected: a PostgreSQL server started earlier on the host's
  loopback is reachable again once this folder is done, and the browser tests still start
  from the host namespace and make their own;
- the client side needs no subprocess: sockets are ordinary asyncio sockets in the test.

coturn and its peers run in named namespaces (`ip netns add`) made by topology.py; sockets
inside those are created by a short-lived thread that setns(2)s into them. If any of it cannot
be set up the fixtures raise, so the tests fail (never skip) with the reason.
"""

import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from tests.netns import private_netns
from tests.turn.topology import (
    PEER_ADDRESS,
    PEER_ADDRESS6,
    PeerNamespace,
    TurnServer,
    coturn_namespace,
)
from tests.turn.turn_client import TurnTestClient

# The peer the coturn under test is told to allow: the positive control of the deny list.
ALLOWED_PEERS = (PEER_ADDRESS, PEER_ADDRESS6)


@pytest.fixture(scope="package")
def private_network() -> Iterator[None]:
    """The test thread in a namespace of its own for this folder's coturn tests (see above)."""
    with private_netns():
        yield


@pytest.fixture(scope="package")
def turn_server(private_network: None) -> Iterator[TurnServer]:
    """A real coturn, configured by parley.turn.coturn.render_config, allowing ALLOWED_PEERS."""
    with coturn_namespace(secrets.token_urlsafe(24), allowed_peer_ips=ALLOWED_PEERS) as server:
        yield server


@pytest.fixture(scope="package")
def peer(turn_server: TurnServer) -> Iterator[PeerNamespace]:
    """203.0.113.2 / 2001:db8:2::2, behind coturn: a relay peer the tests listen on."""
    with turn_server.peer_namespace() as namespace:
        yield namespace


@pytest.fixture(autouse=True)
def coturn_survives(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that used coturn fails if coturn is no longer running at its end."""
    yield
    if "turn_server" in request.fixturenames:
        server: TurnServer = request.getfixturevalue("turn_server")
        server.assert_running()


OpenClient = Callable[..., Awaitable[TurnTestClient]]


@pytest.fixture
async def open_client(turn_server: TurnServer) -> AsyncIterator[OpenClient]:
    """Opens TURN clients to the coturn under test (IPv4 transport); all closed after the test."""
    clients: list[TurnTestClient] = []

    async def open_(username: str | None = None, password: str | None = None) -> TurnTestClient:
        client = await TurnTestClient.open((turn_server.host, turn_server.port), username, password)
        clients.append(client)
        return client

    yield open_
    for client in clients:
        await client.close()


Allocate = Callable[[int], Awaitable[TurnTestClient]]


@pytest.fixture
def allocate(turn_server: TurnServer, open_client: OpenClient) -> Allocate:
    """Opens a client with fresh credentials from Parley's issuer and allocates a relay of the
    given address family (4 or 6)."""

    async def allocate_(family: int = 4) -> TurnTestClient:
        ice_server = turn_server.issuer().issue("peer-test-" + secrets.token_hex(4), time.time())
        client = await open_client(ice_server.username, ice_server.credential)
        await client.allocate(family)
        return client

    return allocate_
