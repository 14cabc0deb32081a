"""The WebSocket layer under the protocol (parley.server.websocket): what a hand-rolled client
can do that a browser rarely does, and that the server must still get right.

aiohttp reads the upgrade request and picows owns the socket after it, so these also cover
the hand-over: frames sent before the 101 arrived, and an upgrade on a connection that served
a page first (a reverse proxy reuses its upstream connections).
"""

import asyncio
import json
import socket
from typing import Any

from yarl import URL

from parley.config import ServerSettings
from parley.server.websocket import text_frame
from tests.server.helpers import (
    HELLO,
    Client,
    OpenRaw,
    StartServer,
    flood,
    join_stalled_pair,
)

UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
MASK = b"\x00\x00\x00\x00"  # an all-zero mask leaves the payload as it is


def client_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    size = len(payload)
    first = (0x80 if fin else 0) | opcode
    if size < 126:
        header = bytes((first, 0x80 | size))
    elif size < 65536:
        header = bytes((first, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((first, 0x80 | 127)) + size.to_bytes(8, "big")
    return header + MASK + payload


def text(message: dict[str, Any]) -> bytes:
    return client_frame(0x1, json.dumps(message).encode())


class Wire:
    """A plain TCP client that speaks HTTP and WebSocket frames by hand, reading with a
    buffer so that nothing read past one reply is lost."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    @classmethod
    async def connect(cls, base_url: str) -> "Wire":
        url = URL(base_url)
        assert url.host is not None and url.port is not None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        await asyncio.wait_for(
            asyncio.get_running_loop().sock_connect(sock, (url.host, url.port)), 5
        )
        return cls(sock)

    async def send(self, data: bytes) -> None:
        await asyncio.wait_for(asyncio.get_running_loop().sock_sendall(self.sock, data), 5)

    async def _fill(self) -> None:
        chunk = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(self.sock, 65536), 5)
        assert chunk, f"the server closed the connection; unread: {self.buffer[:80]!r}"
        self.buffer += chunk

    async def read_http_response(self) -> tuple[bytes, bytes]:
        """The status line and the body of one response (Content-Length framed, or none)."""
        while b"\r\n\r\n" not in self.buffer:
            await self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.buffer) < length:
            await self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return head.split(b"\r\n")[0], body

    async def read_frame(self) -> tuple[int, bytes]:
        """The next frame from the server (unmasked): its opcode and payload."""
        while len(self.buffer) < 2:
            await self._fill()
        opcode, size = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
        start = 2
        if size == 126:
            start = 4
        elif size == 127:
            start = 10
        while len(self.buffer) < start:
            await self._fill()
        if start > 2:
            size = int.from_bytes(self.buffer[2:start], "big")
        while len(self.buffer) < start + size:
            await self._fill()
        payload = self.buffer[start : start + size]
        self.buffer = self.buffer[start + size :]
        return opcode, payload

    async def read_message(self) -> dict[str, Any]:
        """The next text frame as JSON, skipping presence news."""
        for _ in range(20):
            opcode, payload = await self.read_frame()
            assert opcode == 0x1, (opcode, payload)
            message: dict[str, Any] = json.loads(payload)
            if message["type"] != "presence":
                return message
        raise AssertionError("only presence news")

    async def read_close_code(self) -> int:
        opcode, payload = await self.read_frame()
        assert opcode == 0x8, (opcode, payload)
        return int.from_bytes(payload[:2], "big")

    def close(self) -> None:
        self.sock.close()


async def open_session(base_url: str) -> tuple[Wire, str]:
    wire = await Wire.connect(base_url)
    await wire.send(UPGRADE + text(HELLO))
    status, _ = await wire.read_http_response()
    assert b" 101 " in status, status
    welcome = await wire.read_message()
    assert welcome["type"] == "welcome", welcome
    return wire, welcome["session"]


async def test_frames_sent_before_the_101_arrives_are_all_read(server: str) -> None:
    wire = await Wire.connect(server)
    try:
        await wire.send(UPGRADE + text(HELLO) + text({"type": "join", "room": "early", "id": 7}))
        status, _ = await wire.read_http_response()
        assert b" 101 " in status
        assert (await wire.read_message())["type"] == "welcome"
        joined = await wire.read_message()
        assert joined["type"] == "joined" and joined["id"] == 7, joined
    finally:
        wire.close()


async def test_an_upgrade_on_a_connection_that_served_a_page_first_works(server: str) -> None:
    wire = await Wire.connect(server)
    try:
        await wire.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, body = await wire.read_http_response()
        assert b" 200 " in status and b"ok" in body, (status, body)
        await wire.send(UPGRADE + text(HELLO))
        status, _ = await wire.read_http_response()
        assert b" 101 " in status, status
        assert (await wire.read_message())["type"] == "welcome"
        await wire.send(text({"type": "join", "room": "reused", "id": 1}))
        assert (await wire.read_message())["type"] == "joined"
    finally:
        wire.close()


async def test_a_fragmented_message_is_put_together_and_relayed(server: str) -> None:
    ana, ana_id = await open_session(server)
    bo, bo_id = await open_session(server)
    try:
        for wire in (ana, bo):
            await wire.send(text({"type": "join", "room": "fragments"}))
            assert (await wire.read_message())["type"] == "joined"
        assert (await ana.read_message())["type"] == "peer-joined"
        sdp = "v=0\r\n" + "a=x\r\n" * 2000
        whole = json.dumps({"type": "offer", "to": bo_id, "sdp": sdp}).encode()
        parts = [whole[:10], whole[10:5000], whole[5000:]]
        # A ping between fragments is allowed (RFC 6455 5.4) and answered.
        await ana.send(
            client_frame(0x1, parts[0], fin=False)
            + client_frame(0x9, b"between")
            + client_frame(0x0, parts[1], fin=False)
            + client_frame(0x0, parts[2])
        )
        assert await ana.read_frame() == (0xA, b"between")
        relayed = await bo.read_message()
        assert relayed["type"] == "offer" and relayed["from"] == ana_id
        assert relayed["sdp"] == sdp
    finally:
        ana.close()
        bo.close()


async def test_a_fragmented_message_over_the_limit_closes_with_1009(server: str) -> None:
    wire, _ = await open_session(server)
    try:
        piece = b"x" * 40_000  # each frame is under the 64 KiB limit; together they are not
        await wire.send(client_frame(0x1, b'{"type":"join","room":"' + piece, fin=False))
        await wire.send(client_frame(0x0, piece, fin=False))
        assert await wire.read_close_code() == 1009
    finally:
        wire.close()


async def test_a_continuation_of_nothing_closes_with_1002(server: str) -> None:
    wire, _ = await open_session(server)
    try:
        await wire.send(client_frame(0x0, b"stray"))
        assert await wire.read_close_code() == 1002
    finally:
        wire.close()


async def test_text_that_is_not_utf8_closes_with_1007_and_the_server_carries_on(
    server: str,
) -> None:
    wire, _ = await open_session(server)
    try:
        await wire.send(client_frame(0x1, b'{"type":"join","room":"\xff\xfe"}'))
        assert await wire.read_close_code() == 1007
    finally:
        wire.close()
    other, _ = await open_session(server)
    other.close()


async def test_a_client_closing_first_gets_its_code_echoed_and_the_socket_closed(
    server: str,
) -> None:
    wire, _ = await open_session(server)
    try:
        await wire.send(client_frame(0x8, (1000).to_bytes(2, "big") + b"bye"))
        assert await wire.read_close_code() == 1000
        chunk = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(wire.sock, 100), 5)
        assert chunk == b"", "after the close handshake the server closes the TCP connection"
    finally:
        wire.close()


async def test_a_connection_header_that_includes_upgrade_among_others_is_accepted(
    server: str,
) -> None:
    """Firefox sends `Connection: keep-alive, Upgrade` (RFC 6455 4.2.1: the header includes
    the token)."""
    wire = await Wire.connect(server)
    try:
        await wire.send(UPGRADE.replace(b"Connection: Upgrade", b"Connection: keep-alive, Upgrade"))
        status, _ = await wire.read_http_response()
        assert b" 101 " in status, status
    finally:
        wire.close()


async def test_malformed_upgrades_get_400_and_hold_no_connection_slot(
    start_server: StartServer,
) -> None:
    base = await start_server(ServerSettings(connections_per_client=2))
    for _ in range(3):
        wire = await Wire.connect(base)
        try:
            await wire.send(
                UPGRADE.replace(b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", b"")
            )
            status, _ = await wire.read_http_response()
            assert b" 400 " in status, status
        finally:
            wire.close()
    first, _ = await open_session(base)
    second, _ = await open_session(base)
    third = await Wire.connect(base)
    try:
        await third.send(UPGRADE)
        status, _ = await third.read_http_response()
        assert b" 429 " in status, "the cap still holds, at the two real sockets"
    finally:
        for wire in (first, second, third):
            wire.close()


async def test_an_upgrade_on_a_reused_connection_is_refused_like_any_other(
    server: str,
) -> None:
    wire = await Wire.connect(server)
    try:
        await wire.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await wire.read_http_response()
        foreign = UPGRADE.replace(
            b"Host: 127.0.0.1\r\n", b"Host: 127.0.0.1\r\nOrigin: https://evil.example\r\n"
        )
        await wire.send(foreign)
        status, body = await wire.read_http_response()
        assert b" 403 " in status and b"origin" in body, (status, body)
    finally:
        wire.close()


async def test_pings_count_against_the_message_rate(start_server: StartServer) -> None:
    """picows would answer pings by itself; here they are messages like any other, so a client
    cannot make the server queue pongs without limit."""
    base = await start_server(ServerSettings(messages_per_second=10.0, message_burst=20.0))
    wire, _ = await open_session(base)
    try:
        await wire.send(b"".join(client_frame(0x9, b"p%d" % n) for n in range(60)))
        pongs = 0
        for _ in range(61):
            opcode, payload = await wire.read_frame()
            if opcode == 0x8:
                assert int.from_bytes(payload[:2], "big") == 1008
                break
            assert opcode == 0xA, (opcode, payload)
            pongs += 1
        else:
            raise AssertionError("never closed")
        assert 15 <= pongs <= 21, pongs  # the burst (less hello), then the close
    finally:
        wire.close()


async def test_a_protocol_error_after_a_refused_sign_in_keeps_the_refusal_counted(
    start_server: StartServer,
) -> None:
    """The close code decides whether the failed sign-in is counted (and whether a session may
    resume): a bad frame sent after the server's close must not change it."""
    base = await start_server(ServerSettings(auth="jwt", jwt_key="k" * 40))
    refused = 0
    for _ in range(8):
        wire = await Wire.connect(base)
        try:
            await wire.send(UPGRADE + text({"type": "hello", "v": 1, "token": "guess"}))
            status, _ = await wire.read_http_response()
            if b" 429 " in status:
                break
            assert b" 101 " in status, status
            assert (await wire.read_message())["code"] == "auth-failed"
            assert await wire.read_close_code() == 4401
            await wire.send(client_frame(0x1, b"\xff\xfe"))  # invalid UTF-8, after the close
            refused += 1
        finally:
            wire.close()
    else:
        raise AssertionError("8 refused sign-ins and never throttled")
    assert refused == 5, "5 free failures, then the wait"


async def test_a_client_that_stops_reading_still_gets_its_close_frame_later(
    start_server: StartServer, raw_ws: OpenRaw, client: Client
) -> None:
    """The slow-consumer close waits in the socket's buffers past the grace period, for a
    client that reads again: it learns why it was cut (4429) instead of seeing 1006."""
    base = await start_server(
        ServerSettings(
            outbox_max_bytes=256 * 1024,
            heartbeat_seconds=300.0,
            messages_per_second=1e9,
            message_burst=1e9,
        )
    )
    opened: list[Any] = []

    async def open_raw(base_url: str, receive_buffer: int | None = None) -> Any:
        opened.append(await raw_ws(base_url, receive_buffer))
        return opened[-1]

    flooder, stalled_session = await join_stalled_pair(base, open_raw, client, "late")
    result = await flood(flooder, stalled_session, 1200)
    assert result.peer_left is not None or result.offers_sent == 1200
    await asyncio.sleep(3.0)  # past the 2-s grace period: the server has let go of the session
    stalled = opened[0]
    loop = asyncio.get_running_loop()
    received = bytearray()
    async with asyncio.timeout(20):
        while chunk := await loop.sock_recv(stalled._sock, 1 << 20):
            received += chunk
    tail = bytes(received[-64:])
    close_at = tail.rfind(b"\x88")
    assert close_at >= 0, f"no close frame at the end: {tail!r}"
    assert int.from_bytes(tail[close_at + 2 : close_at + 4], "big") == 4429


def test_server_frames_carry_their_length_in_the_smallest_form_rfc_6455_allows() -> None:
    """7-bit up to 125 bytes, then 16-bit, then 64-bit lengths; FIN and the text opcode set,
    no mask (a server never masks)."""
    for size in (0, 1, 125, 126, 127, 65535, 65536, 70000):
        payload = bytes(size)
        frame = text_frame(payload)
        assert frame[0] == 0x81
        short = frame[1]
        assert short & 0x80 == 0, "unmasked"
        if size < 126:
            assert short == size and frame[2:] == payload
        elif size < 65536:
            assert short == 126 and int.from_bytes(frame[2:4], "big") == size
            assert frame[4:] == payload
        else:
            assert short == 127 and int.from_bytes(frame[2:10], "big") == size
            assert frame[10:] == payload
