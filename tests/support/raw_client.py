"""One raw WebSocket client for tests that hold the server to its numbering: each `Tab` reads
every message and checks its `seq` is exactly the next one, as a page does before it can resume
with `lastSeq`. Used against apps in the test process (tests/server, tests/cluster/test_nodes.py)
and against real `parley serve` processes (tests/cluster/test_processes.py). Also what such
clients send (relays numbered by `n`) and a free loopback port to run a server on."""

import asyncio
import dataclasses
import json
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

READ_SECONDS = 5.0


async def read_frame(
    ws: aiohttp.ClientWebSocketResponse,
    timeout: float = READ_SECONDS,  # noqa: ASYNC109
) -> dict[str, Any]:
    """The next text frame as JSON; fails on timeout, close or anything else."""
    deadline = time.monotonic() + timeout
    try:
        # aiohttp's own timeout restarts on every ping it answers: bound the whole wait here.
        async with asyncio.timeout(timeout):
            frame = await ws.receive(timeout=max(deadline - time.monotonic(), 0.01))
    except TimeoutError:
        pytest.fail(f"no message within {timeout} s")
    if frame.type is not aiohttp.WSMsgType.TEXT:
        pytest.fail(f"expected a text frame, got {frame.type.name} (close code {ws.close_code})")
    message = json.loads(frame.data)
    assert isinstance(message, dict), message
    return message


async def say_hello(ws: aiohttp.ClientWebSocketResponse, **fields: Any) -> dict[str, Any]:
    """Sends `hello` with `fields`; returns the welcome (which carries no `seq`)."""
    await ws.send_str(json.dumps({"type": "hello", "v": 1, **fields}))
    welcome = await read_frame(ws)
    assert welcome["type"] == "welcome", welcome
    assert "seq" not in welcome, welcome
    return welcome


async def sign_in(
    connect_ws: Callable[[str], Awaitable[aiohttp.ClientWebSocketResponse]],
    base: str,
    **fields: Any,
) -> "Tab":
    """A new session on `base` (hello with `fields`), as a `Tab`."""
    ws = await connect_ws(base)
    welcome = await say_hello(ws, **fields)
    assert welcome.get("resumed", False) is False
    return Tab(
        ws,
        welcome["session"],
        welcome["user"]["id"],
        welcome.get("token") or fields.get("token") or "",
        welcome["resume"],
    )


def cut(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Resets the client's TCP connection: the server sees it vanish with no close frame, as
    when a network drops (a close frame with 1000/1001 would be a goodbye)."""
    sock = ws.get_extra_info("socket")
    if sock is not None and sock.fileno() != -1:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # aiohttp has no public way to reset a client socket.
    connection = ws._response.connection
    if connection is not None and connection.transport is not None:
        connection.transport.abort()


def sync_request(tag: str) -> dict[str, Any]:
    """A request answered at once: hanging up a call that does not exist is refused."""
    return {"type": "hangup", "call": "no-such-call", "id": tag}


def is_sync_reply(message: dict[str, Any], tag: str) -> bool:
    return (message.get("type"), message.get("code"), message.get("id")) == (
        "error",
        "call-not-found",
        tag,
    )


@dataclasses.dataclass
class Tab:
    """A client as the server sees it: its socket now, what its welcome gave it, and the highest
    `seq` it has read (what it sends as `lastSeq`)."""

    ws: aiohttp.ClientWebSocketResponse
    session: str
    user: str
    token: str
    resume: str
    instance: str = ""
    last_seq: int = 0
    # Messages read while waiting for others (presence news, a peer leaving a room).
    news: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    async def read(self, timeout: float = READ_SECONDS) -> dict[str, Any]:  # noqa: ASYNC109
        """The next message; its `seq` must be exactly one more than the last one read."""
        message = await self.read_within(timeout)
        if message is None:
            pytest.fail(f"no message within {timeout} s")
        return message

    async def read_within(self, timeout: float) -> dict[str, Any] | None:  # noqa: ASYNC109
        """Like `read`, but None when nothing arrived in time."""
        deadline = time.monotonic() + timeout
        try:
            # aiohttp's own timeout restarts on every ping it answers: bound the wait here.
            async with asyncio.timeout(timeout):
                frame = await self.ws.receive(timeout=max(deadline - time.monotonic(), 0.01))
        except TimeoutError:
            return None
        if frame.type is not aiohttp.WSMsgType.TEXT:
            pytest.fail(
                f"expected a text frame, got {frame.type.name} (close code {self.ws.close_code})"
            )
        message = json.loads(frame.data)
        assert isinstance(message, dict), message
        seq = message.pop("seq", None)
        if message["type"] == "welcome":
            assert seq is None, message
        elif message["type"] == "error" and message.get("code") == "unavailable":
            assert seq is None, f"`unavailable` is sent without seq: {message}"
        else:
            assert seq == self.last_seq + 1, f"seq {seq} after {self.last_seq}: {message}"
            self.last_seq = seq
        return message

    async def next_of(
        self,
        kind: str,
        timeout: float = READ_SECONDS,  # noqa: ASYNC109
        skip: tuple[str, ...] = ("presence",),
    ) -> dict[str, Any]:
        """The next message not of a type in `skip` (those are kept in `news`); it must be of
        type `kind`."""
        deadline = time.monotonic() + timeout
        for _ in range(100):
            message = await self.read(max(deadline - time.monotonic(), 0.01))
            if message["type"] in skip:
                self.news.append(message)
                continue
            assert message["type"] == kind, message
            return message
        pytest.fail(f"no {kind} among 100 messages")

    async def news_of(
        self,
        wanted: dict[str, Any],
        deadline: float,
    ) -> float:
        """Waits (until `deadline`, monotonic) for `wanted` among the news (messages skipped so
        far, then whatever arrives); returns when it was found."""
        for _ in range(100):
            if wanted in self.news:
                self.news.remove(wanted)
                return time.monotonic()
            message = await self.read_within(deadline - time.monotonic())
            if message is None:
                break
            self.news.append(message)
        pytest.fail(f"{wanted} did not arrive in time; got {self.news}")

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def round_trip(self, tag: str = "sync") -> None:
        """A request answered at once (see `sync_request`): every frame sent before it has been
        handled once the answer is here."""
        await self.send(sync_request(tag))
        reply = await self.next_of("error")
        assert is_sync_reply(reply, tag), reply


# --- what tabs send each other --------------------------------------------------------------


def offer(to: Tab, n: int) -> dict[str, Any]:
    return {"type": "offer", "to": to.session, "sdp": f"v=0 offer-{n}"}


def candidate(to: Tab, n: int) -> dict[str, Any]:
    return {
        "type": "candidate",
        "to": to.session,
        "candidate": {"candidate": f"candidate:{n} 1 udp 1 192.0.2.1 {5000 + n} typ host"},
    }


def relayed(message: dict[str, Any], sender: Tab) -> dict[str, Any]:
    """What the recipient of `message` gets: the same, from the sender, without `to`."""
    out = {k: v for k, v in message.items() if k != "to"}
    out["from"] = sender.session
    return out


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (another process may still
    take it before the caller binds it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    assert 0 < port < 65536, port
    return port
