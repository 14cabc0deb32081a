"""The first-request reader of parley.server.site, on its own: what it does while a handshake
waits for its turn of the event loop."""

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from parley.server import site as site_module
from parley.server.site import _FirstRequest

HEAD = b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n"


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.aborted = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 5000) if name == "peername" else default

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True


class Site:
    """Defers every handshake, as HandshakeTurns does when a turn is full."""

    def __init__(self) -> None:
        self.deferred: list[Callable[[], None]] = []

    def turns(self) -> "Site":
        return self

    def run(self, start: Callable[[], None]) -> None:
        self.deferred.append(start)

    def max_message_bytes(self) -> int:
        return 1000

    def answer(self, *_: Any) -> None:
        return None

    def admit_connection(self, _transport: asyncio.BaseTransport) -> str:
        return "127.0.0.1"

    def release_connection(self, *_: Any) -> None:
        return None


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    calls: list[bytes] = []
    monkeypatch.setattr(
        site_module, "start_websocket", lambda transport, received, *_: calls.append(received)
    )
    return calls


async def test_data_after_the_head_waits_with_it_and_the_hand_over_happens_once(
    started: list[bytes],
) -> None:
    site = Site()
    reader = _FirstRequest(site)  # type: ignore[arg-type]
    reader.connection_made(Transport())
    reader.data_received(HEAD)
    reader.data_received(b"frame-1")
    reader.data_received(b"frame-2")
    assert len(site.deferred) == 1, "one turn asked for, however many reads follow"
    site.deferred[0]()
    assert started == [HEAD + b"frame-1frame-2"]


async def test_a_waiting_connection_that_keeps_sending_is_cut(started: list[bytes]) -> None:
    site = Site()
    transport = Transport()
    reader = _FirstRequest(site)  # type: ignore[arg-type]
    reader.connection_made(transport)
    reader.data_received(HEAD)
    for _ in range(40):
        reader.data_received(b"x" * 1000)
    assert transport.aborted
    reader.connection_lost(None)
    site.deferred[0]()
    assert started == [], "a connection gone while it waited is not handed over"


async def test_a_head_never_finished_is_cut_after_the_timeout(
    monkeypatch: pytest.MonkeyPatch, started: list[bytes]
) -> None:
    monkeypatch.setattr(site_module, "HEAD_TIMEOUT_SECONDS", 0.05)
    transport = Transport()
    reader = _FirstRequest(Site())  # type: ignore[arg-type]
    reader.connection_made(transport)
    reader.data_received(b"GET /ws HT")
    await asyncio.sleep(0.2)
    assert transport.aborted
