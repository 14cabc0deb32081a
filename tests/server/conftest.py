"""Fixtures: a real Parley app on a loopback port and real WebSocket clients for it."""

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from parley.config import ServerSettings
from parley.server.app import create_app
from parley.server.site import signaling_site

from .helpers import (
    Client,
    ConnectWs,
    OpenRaw,
    Peer,
    RawWebSocket,
    StartServer,
    hello,
    ws_url,
)

# Short close waits keep teardown quick when the server has already dropped a socket.
WS_TIMEOUT = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=2.0)
SHUTDOWN_SECONDS = 15.0


@pytest.fixture
async def start_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[StartServer]:
    """Starts apps on 127.0.0.1 with an OS-chosen port; returns each one's base URL.

    Each app gets a fresh data directory, so no test touches the user's database or secret.
    """
    runners: list[web.AppRunner] = []

    async def start(settings: ServerSettings | None = None) -> str:
        data_dir = tmp_path_factory.mktemp("parley-data")
        settings = dataclasses.replace(settings or ServerSettings(), data_dir=data_dir)
        runner = web.AppRunner(create_app(settings), handle_signals=False)
        await runner.setup()
        runners.append(runner)
        await signaling_site(runner, "127.0.0.1", 0).start()
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
async def server(start_server: StartServer) -> str:
    """Base URL (ending in /) of a server with default settings."""
    return await start_server()


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


@pytest.fixture
async def raw_ws(start_server: StartServer) -> AsyncIterator[OpenRaw]:
    """Opens hand-rolled WebSocket clients; each is reset (not closed politely) at teardown."""
    opened: list[RawWebSocket] = []

    async def open_raw(base_url: str, receive_buffer: int | None = None) -> RawWebSocket:
        raw = await RawWebSocket.open(base_url, receive_buffer)
        opened.append(raw)
        return raw

    yield open_raw
    for raw in opened:
        raw.abort()
