"""Fixtures for every test folder (a plugin: tests/conftest.py lists it in `pytest_plugins`):
real Parley apps on loopback ports and real WebSocket clients for them. Used by tests/server
and tests/cluster; no conftest imports another folder's conftest for them."""

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from parley.config import ServerSettings
from parley.server.app import READY_KEY, create_app
from parley.server.site import parley_runner, signaling_site
from tests.server.helpers import Client, ConnectWs, Peer, StartServer, hello, ws_url

# Short close waits keep teardown quick when the server has already dropped a socket.
WS_TIMEOUT = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=2.0)
SHUTDOWN_SECONDS = 15.0


def loopback_crowd(settings: ServerSettings) -> ServerSettings:
    """`settings` with the per-address limits of new guests, sign-ins and invites lifted."""
    core = dataclasses.replace(
        settings.core,
        new_guests_per_minute_per_client=100_000,
        new_guests_per_minute_in_all=100_000,
        sign_ins_per_minute_per_client=100_000,
        sign_ins_per_minute_in_all=100_000,
        invites_per_minute_per_client=100_000,
        invites_per_minute_in_all=100_000,
    )
    return dataclasses.replace(settings, core=core)


@pytest.fixture
async def start_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[StartServer]:
    """Starts apps on 127.0.0.1 with an OS-chosen port; returns each one's base URL.

    Each app gets a fresh data directory, so no test touches the user's database or secret.
    Every client of a test comes from 127.0.0.1: to the per-address limits that is a crowd
    behind one NAT, so they are lifted (loopback_crowd) unless `address_limits=True` (the
    tests of those limits, in tests/security).
    """
    runners: list[web.AppRunner] = []

    async def start(settings: ServerSettings | None = None, *, address_limits: bool = False) -> str:
        data_dir = tmp_path_factory.mktemp("parley-data")
        settings = dataclasses.replace(settings or ServerSettings(), data_dir=data_dir)
        if not address_limits:
            settings = loopback_crowd(settings)
        runner = parley_runner(create_app(settings))
        await runner.setup()
        runners.append(runner)
        # The app's services ran in setup: a started server is a ready one (what /readyz says).
        assert runner.app[READY_KEY].is_set(), "the server started without becoming ready"
        await signaling_site(runner, "127.0.0.1", 0).start()
        assert runner.addresses, "the site bound no address"
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}/"

    yield start
    for runner in reversed(runners):
        # A shutdown that hangs is a server bug: report it here instead of stalling the run.
        try:
            await asyncio.wait_for(runner.cleanup(), timeout=SHUTDOWN_SECONDS)
        except TimeoutError:
            pytest.fail(f"the server did not shut down within {SHUTDOWN_SECONDS} s")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


# Client fixtures depend on start_server so that their sockets are torn down before the servers:
# a server shutting down while its clients still hold sockets waits on them.


@pytest.fixture
async def connect_ws(
    start_server: StartServer, http: aiohttp.ClientSession
) -> AsyncIterator[ConnectWs]:
    """Opens a WebSocket to a server's /ws without saying hello."""
    sockets: list[aiohttp.ClientWebSocketResponse] = []

    async def connect(base_url: str) -> aiohttp.ClientWebSocketResponse:
        ws = await http.ws_connect(ws_url(base_url), timeout=WS_TIMEOUT, autoclose=True)
        sockets.append(ws)
        return ws

    yield connect
    for ws in sockets:
        await ws.close()


@pytest.fixture
def client(connect_ws: ConnectWs) -> Client:
    """Connects to a server, says hello, and returns the socket with its session id."""

    async def connect(base_url: str) -> Peer:
        ws = await connect_ws(base_url)
        return Peer(ws, await hello(ws))

    return connect
