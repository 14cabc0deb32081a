"""Clients that hold the server to its numbering: each reads every message and checks its `seq`
is exactly the next one, as a page does before it can resume with `lastSeq`."""

import dataclasses
import json
import socket
import struct
from typing import Any

import aiohttp
import pytest

from .helpers import send_json

READ_SECONDS = 5.0


@dataclasses.dataclass
class Tab:
    """A page as the server sees it: its socket now, what its welcome gave it, and the highest
    `seq` it has read (what it would send as `lastSeq`)."""

    ws: aiohttp.ClientWebSocketResponse
    session: str
    user: str
    token: str
    resume: str
    instance: str = ""
    last_seq: int = 0

    async def read(self, timeout: float = READ_SECONDS) -> dict[str, Any]:  # noqa: ASYNC109
        """The next message; its `seq` must be exactly one more than the last one read."""
        message = await read_frame(self.ws, timeout)
        seq = message.pop("seq", None)
        if message["type"] != "welcome":
            assert seq == self.last_seq + 1, f"seq {seq} after {self.last_seq}: {message}"
            self.last_seq = seq
        return message

    async def next_of(self, kind: str) -> dict[str, Any]:
        """The next message of a type, skipping presence news."""
        for _ in range(20):
            message = await self.read()
            if message["type"] != "presence":
                assert message["type"] == kind, message
                return message
        pytest.fail(f"no {kind} among 20 messages")


async def read_frame(
    ws: aiohttp.ClientWebSocketResponse,
    timeout: float = READ_SECONDS,  # noqa: ASYNC109
) -> dict[str, Any]:
    try:
        frame = await ws.receive(timeout=timeout)
    except TimeoutError:
        pytest.fail(f"no message within {timeout} s")
    if frame.type is not aiohttp.WSMsgType.TEXT:
        pytest.fail(f"expected a text frame, got {frame.type.name} (close code {ws.close_code})")
    message = json.loads(frame.data)
    assert isinstance(message, dict), message
    return message


async def say_hello(ws: aiohttp.ClientWebSocketResponse, **fields: Any) -> dict[str, Any]:
    await send_json(ws, {"type": "hello", "v": 1, **fields})
    welcome = await read_frame(ws)
    assert welcome["type"] == "welcome", welcome
    assert "seq" not in welcome
    return welcome


def cut(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Resets the client's TCP connection: the server sees it vanish with no close frame, as
    when a network drops (a close frame with 1000/1001 would be a goodbye)."""
    sock = ws.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # aiohttp has no public way to reset a client socket.
    ws._response.connection.transport.abort()  # type: ignore[union-attr]


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
