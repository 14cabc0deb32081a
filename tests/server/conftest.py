"""Fixtures of the server tests. The app and client fixtures they share with tests/cluster
(`start_server`, `http`, `connect_ws`, `client`) are in tests/support/fixtures.py."""

from collections.abc import AsyncIterator

import pytest

from .helpers import OpenRaw, RawWebSocket, StartServer


@pytest.fixture
async def server(start_server: StartServer) -> str:
    """Base URL (ending in /) of a server with default settings."""
    return await start_server()


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
