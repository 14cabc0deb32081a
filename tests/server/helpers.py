"""Plain helpers shared by the server tests (fixtures live in conftest.py)."""

import asyncio
import json
import socket
import struct
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from yarl import URL

HELLO = {"type": "hello", "v": 1}
# Bounds every "read until" loop so a misbehaving server fails a test instead of hanging it.
MAX_FRAMES_BEFORE_CLOSE = 10_000


@dataclass
class Peer:
    """One connected, welcomed WebSocket client."""

    ws: aiohttp.ClientWebSocketResponse
    session: str


StartServer = Callable[..., Awaitable[str]]
ConnectWs = Callable[[str], Awaitable[aiohttp.ClientWebSocketResponse]]
Client = Callable[[str], Awaitable[Peer]]


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1) + "ws"


async def send_json(ws: aiohttp.ClientWebSocketResponse, message: Any) -> None:
    await ws.send_str(json.dumps(message))


# `timeout` goes to aiohttp's own receive(timeout=...), which cleans up its read state itself.
async def receive_json(
    ws: aiohttp.ClientWebSocketResponse,
    timeout: float = 2.0,  # noqa: ASYNC109
) -> dict[str, Any]:
    """The next frame as a JSON object; fails the test on timeout, close or a non-text frame."""
    try:
        message = await ws.receive(timeout=timeout)
    except TimeoutError:
        pytest.fail(f"no message within {timeout} s")
    if message.type is not aiohttp.WSMsgType.TEXT:
        pytest.fail(f"expected a text frame, got {message.type.name} (close code {ws.close_code})")
    decoded = json.loads(message.data)
    assert isinstance(decoded, dict), f"server sent a non-object: {message.data!r}"
    return without_seq(ws, decoded)


_last_seq: "weakref.WeakKeyDictionary[object, int]" = weakref.WeakKeyDictionary()


def without_seq(ws: object, message: dict[str, Any]) -> dict[str, Any]:
    """Checks the message's `seq` (each socket sees it rise; `welcome` has none) and drops it,
    so that tests compare what was said."""
    seq = message.pop("seq", None)
    if message.get("type") == "welcome":
        assert seq is None, message
    else:
        assert isinstance(seq, int), f"no seq on {message}"
        last = _last_seq.get(ws, 0)
        assert seq > last, f"seq went from {last} to {seq}: {message}"
        _last_seq[ws] = seq
    return message


async def receive_close(
    ws: aiohttp.ClientWebSocketResponse,
    timeout: float = 5.0,  # noqa: ASYNC109
) -> int | None:
    """Reads (and drops) frames until the server closes; returns the close code."""
    deadline = time.monotonic() + timeout
    for _ in range(MAX_FRAMES_BEFORE_CLOSE):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            message = await ws.receive(timeout=remaining)
        except TimeoutError:
            break
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return ws.close_code
        if message.type is aiohttp.WSMsgType.ERROR:
            pytest.fail(f"socket failed instead of closing cleanly: {message.data!r}")
    pytest.fail(f"the server did not close the socket within {timeout} s")


async def hello(ws: aiohttp.ClientWebSocketResponse) -> str:
    await send_json(ws, HELLO)
    welcome = await receive_json(ws)
    assert welcome["type"] == "welcome", welcome
    return welcome["session"]


async def join(peer: Peer, room: str, request_id: int | str = 1) -> dict[str, Any]:
    await send_json(peer.ws, {"type": "join", "room": room, "id": request_id})
    joined = await receive_json(peer.ws)
    assert joined["type"] == "joined", joined
    assert joined["id"] == request_id
    assert joined["room"] == room
    return joined


async def join_pair(first: Peer, second: Peer, room: str) -> None:
    """Puts two clients in one room and consumes the announcement the first one gets."""
    await join(first, room)
    await join(second, room)
    announced = await receive_json(first.ws)
    assert announced == {"type": "peer-joined", "peer": second.session}


def assert_error(message: dict[str, Any], code: str, request_id: int | str | None = None) -> None:
    assert message["type"] == "error", message
    assert message["code"] == code, message
    assert message.get("id") == request_id, message
    assert isinstance(message["message"], str)
    assert message["message"]


async def assert_silent(ws: aiohttp.ClientWebSocketResponse, seconds: float = 0.3) -> None:
    """Nothing arrives for a while (used only where no later event can prove absence)."""
    try:
        message = await ws.receive(timeout=seconds)
    except TimeoutError:
        return
    pytest.fail(f"expected silence, got {message.type.name}: {message.data!r}")


async def wait_closed(ws: aiohttp.ClientWebSocketResponse) -> None:
    await asyncio.wait_for(ws.close(), timeout=5)


class RawWebSocket:
    """A hand-rolled WebSocket client on a plain socket, for what aiohttp's client won't do.

    It can keep a tiny receive buffer and never read, so the server's writes to it back up at
    once, and it can send frame headers that it never completes.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    @classmethod
    async def open(cls, base_url: str, receive_buffer: int | None = None) -> "RawWebSocket":
        url = URL(base_url)
        assert url.host == "127.0.0.1"
        assert url.port is not None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        if receive_buffer is not None:
            # Set before connect, so the window the server sees is small from the first packet.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_connect(sock, (url.host, url.port)), timeout=5)
        raw = cls(sock)
        await raw.send_raw(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        return raw

    async def read_handshake(self) -> bytes:
        loop = asyncio.get_running_loop()
        response = b""
        for _ in range(100):
            if b"\r\n\r\n" in response:
                break
            chunk = await asyncio.wait_for(loop.sock_recv(self._sock, 4096), timeout=5)
            assert chunk, "the server closed the connection during the handshake"
            response += chunk
        return response

    async def send_raw(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_sendall(self._sock, data), timeout=5)

    async def send_text(self, text: str) -> None:
        """One complete masked text frame (an all-zero mask leaves the payload as it is)."""
        payload = text.encode()
        assert len(payload) < 65536
        header = b"\x81" + (
            bytes([0x80 | len(payload)])
            if len(payload) < 126
            else bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
        )
        await self.send_raw(header + b"\x00\x00\x00\x00" + payload)

    def abort(self) -> None:
        if self._sock.fileno() == -1:
            return
        # SO_LINGER 0 makes close() send a RST: the peer sees the connection vanish at once.
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._sock.close()


OpenRaw = Callable[..., Awaitable[RawWebSocket]]


SDP_40K = "a=" + "x" * 40_000


@dataclass
class FloodResult:
    offers_sent: int
    slowest_reply: float
    peer_left: dict[str, Any] | None


async def flood(
    flooder: Peer, target: str, offers: int, sdp: str = SDP_40K, seconds: float = 60.0
) -> FloodResult:
    """Sends offers in lock step until `offers` went out or the target left the room.

    After each offer the flooder makes a request and waits for its reply, so the server handles
    one offer per round and the target's writer runs in between: the target's outbox can only
    grow once the TCP buffers towards it are full, however fast this machine is.
    """
    slowest = 0.0
    peer_left: dict[str, Any] | None = None
    deadline = time.monotonic() + seconds
    for index in range(offers):
        assert time.monotonic() < deadline, f"flood stalled after {index} offers"
        await send_json(flooder.ws, {"type": "offer", "to": target, "sdp": sdp})
        # A join while joined is refused at once: a cheap request that echoes its id.
        sent = time.monotonic()
        await send_json(flooder.ws, {"type": "join", "room": "ping", "id": index})
        for _ in range(3):
            reply = await receive_json(flooder.ws, timeout=5)
            if reply["type"] == "peer-left":
                peer_left = reply
            elif peer_left is not None and reply.get("code") == "peer-not-found":
                pass  # the offer sent after the target left
            else:
                assert reply == {
                    "type": "error",
                    "id": index,
                    "code": "already-joined",
                    "message": reply["message"],
                }
                break
        slowest = max(slowest, time.monotonic() - sent)
        if peer_left is not None:
            return FloodResult(index + 1, slowest, peer_left)
    return FloodResult(offers, slowest, None)


async def join_stalled_pair(
    base_url: str, raw_ws: OpenRaw, client: Client, room: str
) -> tuple[Peer, str]:
    """A raw client that will never read joins `room`, then a normal one (the flooder).

    Returns the flooder and the raw client's session id, learnt from the flooder's `joined`.
    """
    stalled = await raw_ws(base_url, receive_buffer=4096)
    await stalled.send_text(json.dumps(HELLO))
    await stalled.send_text(json.dumps({"type": "join", "room": room}))
    flooder = await client(base_url)
    joined = await join(flooder, room)
    if joined["peers"]:
        return flooder, joined["peers"][0]["id"]
    # The flooder's join overtook the raw client's on the server; its arrival is announced.
    announced = await receive_json(flooder.ws)
    assert announced["type"] == "peer-joined", announced
    return flooder, announced["peer"]
