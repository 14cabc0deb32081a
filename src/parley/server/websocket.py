"""Signaling sockets on picows: frames in to the hub, frames out to the client.

picows's Cython frame parser and writer cost a fraction of aiohttp's per-message reader, queue
and task wake-up, and a fraction of its memory per idle connection. A socket reaches picows
from parley.server.site (a connection that opens with the upgrade) or from aiohttp
(`take_over`, an upgrade on a connection that served a page first); parley.server.admission
decides whether it is let in. No task or timer is held per idle socket: one sweeper keeps the
heartbeat for all of them.
"""

import asyncio
import contextlib
import logging
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from picows import (
    WSAutoPingStrategy,
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
)

# Not in picows's stubs; api.ws_create_server builds it the same way.
from picows.picows import WSProtocol  # type: ignore[attr-defined]

from parley.protocol.close_codes import CloseCode

log = logging.getLogger(__name__)

# picows logs every accepted connection at INFO with several getsockopt calls, and makes a
# child logger per socket when given a Logger: an adapter avoids both.
_picows_log = logging.LoggerAdapter(logging.getLogger("parley.picows"), {})
logging.getLogger("parley.picows").setLevel(logging.WARNING)

# How long a closing socket may take to flush and say goodbye before it is cut.
CLOSE_GRACE_SECONDS = 2.0
# A socket that closed while its client was not reading keeps its last frames (the close among
# them) this much longer for the client to read, then is cut.
CLOSE_LINGER_SECONDS = 10.0
# While the kernel takes what is written, frames go straight to the socket; beyond this much
# unsent data they wait in the socket's outbox, which has a byte budget.
DIRECT_WRITE_LIMIT = 64 * 1024
# picows's smallest read buffer; it grows for larger frames and shrinks back.
READ_BUFFER_BYTES = 2048
GOODBYE_CODES = (1000, 1001)
UNRESUMABLE_CLOSES = (CloseCode.SLOW_CONSUMER, CloseCode.POLICY_VIOLATION)


_SHORT_HEADER = struct.Struct("!BB")
_MEDIUM_HEADER = struct.Struct("!BBH")
_LONG_HEADER = struct.Struct("!BBQ")


def text_frame_header(size: int) -> bytes:
    """The header of an unmasked, unfragmented WebSocket text frame (RFC 6455 §5.2) of `size`
    payload bytes, as a server sends it."""
    if size < 126:
        return _SHORT_HEADER.pack(0x81, size)
    if size < 65536:
        return _MEDIUM_HEADER.pack(0x81, 126, size)
    return _LONG_HEADER.pack(0x81, 127, size)


def text_frame(payload: bytes) -> bytes:
    """A whole text frame: for the outbox, which counts each frame's bytes."""
    return text_frame_header(len(payload)) + payload


class SocketHub(Protocol):
    """What a socket needs of the hub (parley.server.hub.Hub)."""

    def open(self, sink: "SignalingSocket") -> str: ...

    def on_text(self, connection: str, frame: str) -> None: ...

    def on_binary(self, connection: str) -> None: ...

    def close(self, connection: str, *, resumable: bool) -> None: ...


@dataclass(frozen=True, slots=True)
class SocketLimits:
    max_message_bytes: int
    max_queued_bytes: int
    messages_per_second: float
    message_burst: float


@dataclass(frozen=True, slots=True)
class _CloseRequest:
    code: int
    reason: str


class SignalingSocket(WSListener):
    """One client's WebSocket, and the session sink the hub writes to."""

    # Thousands are held idle: no __dict__ each.
    __slots__ = (
        "_close_sent",
        "_closing",
        "_ended",
        "_fragments",
        "_fragments_binary",
        "_hub",
        "_limits",
        "_on_end",
        "_outbox",
        "_paused",
        "_pending",
        "_queued_bytes",
        "_raw",
        "_sockets",
        "_tokens",
        "_tokens_at",
        "_transport",
        "close_code",
        "connection_id",
        "last_heard",
        "peer_close_code",
        "pinged",
    )

    def __init__(
        self,
        sockets: "OpenSockets",
        hub: SocketHub,
        limits: SocketLimits,
        on_end: Callable[["SignalingSocket", bool], None],
    ) -> None:
        self._sockets = sockets
        self._hub = hub
        self._limits = limits
        self._on_end = on_end
        self._transport: WSTransport | None = None
        self._raw: asyncio.Transport | None = None
        self.connection_id = ""
        self.last_heard = 0.0
        self.pinged = False
        # The token bucket, inline: one object fewer per socket.
        self._tokens = limits.message_burst
        self._tokens_at = 0.0
        self._pending: list[bytes] | None = None
        # Made when first needed: most sockets never fill the kernel's buffer.
        self._outbox: deque[bytes | _CloseRequest] | None = None
        self._queued_bytes = 0
        self._paused = False
        self._fragments: bytearray | None = None
        self._fragments_binary = False
        self._closing = False
        self._close_sent = False
        self._ended = False
        # The code this server closed with, if it closed first; else the client's.
        self.close_code: int | None = None
        self.peer_close_code: int | None = None

    # -- picows callbacks

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._transport = transport
        raw = transport.underlying_transport
        self._raw = raw
        raw.set_write_buffer_limits(high=DIRECT_WRITE_LIMIT)
        self.last_heard = time.monotonic()
        self._sockets.add(self)
        self.connection_id = self._hub.open(self)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        self.last_heard = now = time.monotonic()
        self.pinged = False
        kind = frame.msg_type
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            # No extension was agreed (no permessage-deflate: inflating is a memory-bomb vector).
            self._fail(CloseCode.PROTOCOL_ERROR, "no extension was agreed")
        elif kind == WSMsgType.TEXT and frame.fin and self._fragments is None:
            # The common case, decoded in picows's C code: one copy, not two.
            try:
                text = frame.get_payload_as_utf8_text()
            except UnicodeDecodeError:
                self._fail(CloseCode.INVALID_TEXT, "text frame is not UTF-8")
                return
            if self._take_token(now):
                self._hub.on_text(self.connection_id, text)
        elif kind == WSMsgType.TEXT or kind == WSMsgType.BINARY:
            if self._fragments is not None:
                self._fail(CloseCode.PROTOCOL_ERROR, "a new message inside a fragmented one")
            elif frame.fin:
                self._message(True, b"", now)  # binary: its content is never read
            else:
                self._fragments = bytearray(frame.get_payload_as_memoryview())
                self._fragments_binary = kind == WSMsgType.BINARY
        elif kind == WSMsgType.CONTINUATION:
            fragments = self._fragments
            if fragments is None:
                self._fail(CloseCode.PROTOCOL_ERROR, "a continuation of no message")
                return
            fragments += frame.get_payload_as_memoryview()
            if len(fragments) > self._limits.max_message_bytes:
                self._fragments = None
                self._fail(CloseCode.MESSAGE_TOO_BIG, "message too big")
            elif frame.fin:
                self._fragments = None
                self._message(self._fragments_binary, bytes(fragments), now)
        elif kind == WSMsgType.CLOSE:
            self._peer_closed(frame.get_close_code().value)
        elif kind == WSMsgType.PING:
            self._ping(frame, now)

    def _ping(self, frame: WSFrame, now: float) -> None:
        """Answered like any message: within the client's message rate, and not while frames
        for it already wait (a client that sends pings and reads nothing would otherwise fill
        the server's memory with pongs)."""
        transport = self._transport
        if transport is None or not self._take_token(now) or self._paused or self._outbox:
            return
        transport.send_pong(frame.get_payload_as_bytes())

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._end()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._drain()

    # -- the hub's side (SessionSink)

    def push(self, frame: bytes) -> None:
        if self._closing:
            return
        if self._paused or self._outbox:
            if self._queued_bytes + len(frame) > self._limits.max_queued_bytes:
                if self._outbox is not None:
                    self._outbox.clear()
                self._queued_bytes = 0
                self.close(CloseCode.SLOW_CONSUMER, "outbox overflow")
                return
            framed = text_frame(frame)
            self._queued_bytes += len(framed)
            self._enqueue(framed)
            return
        # The common case: no task switch per relayed message, and the frames for this socket
        # from one turn of the event loop leave in one write (one syscall).
        # Header and payload are kept apart until the flush joins them: one copy, not two.
        pending = self._pending
        if pending is None:
            self._pending = [text_frame_header(len(frame)), frame]
            self._sockets.flush_soon(self)
        else:
            pending += (text_frame_header(len(frame)), frame)

    def close(self, code: int, reason: str) -> None:
        """Says goodbye after the frames already queued; cuts the socket if the client does not
        answer within the grace period."""
        if self._closing:
            return
        self._closing = True
        self.close_code = code
        self._flush()
        self._enqueue(_CloseRequest(code, reason))
        self._sockets.loop.call_later(CLOSE_GRACE_SECONDS, self._close_timed_out)

    def ping(self) -> None:
        """Asks a silent client for a sign of life (once, until it sends anything)."""
        self.pinged = True
        if self._transport is not None:
            self._transport.send_ping()

    def cut(self) -> None:
        """Drops the connection at once: the client is gone or must be."""
        if self._raw is not None:
            self._raw.abort()

    # -- internals

    def _message(self, binary: bool, payload: bytes, now: float) -> None:
        if binary:
            if self._take_token(now):
                self._hub.on_binary(self.connection_id)
            return
        try:
            text = payload.decode()
        except UnicodeDecodeError:
            self._fail(CloseCode.INVALID_TEXT, "text frame is not UTF-8")
            return
        self._text(text, now)

    def _text(self, text: str, now: float) -> None:
        if self._take_token(now):
            self._hub.on_text(self.connection_id, text)

    def _take_token(self, now: float) -> bool:
        """False (and the socket closing) when the client is over its message rate, or after
        our close frame: then nothing the client says changes anything."""
        if self._closing:
            return False
        limits = self._limits
        tokens = min(
            limits.message_burst,
            self._tokens + (now - self._tokens_at) * limits.messages_per_second,
        )
        self._tokens_at = now
        if tokens < 1.0:
            self._tokens = tokens
            self.close(CloseCode.POLICY_VIOLATION, "message rate exceeded")
            return False
        self._tokens = tokens - 1.0
        return True

    def _fail(self, code: int, reason: str) -> None:
        """A protocol error: the socket is closed with its code; the session may resume. A
        close already under way keeps its code (and what it means: a refused sign-in, a
        flood)."""
        if self._closing:
            return
        self.close(code, reason)
        self.close_code = None

    def _peer_closed(self, code: int) -> None:
        self.peer_close_code = int(code) if code else 1005
        if not self._closing:
            # The client said goodbye first: answer, after nothing else.
            self._closing = True
            self._pending = None
            if self._outbox is not None:
                self._outbox.clear()
            # 1005 and 1006 say "no code" and may not be sent back.
            self._send_close(code if code and code not in (1005, 1006) else 1000, "")
        if self._transport is not None:
            self._transport.disconnect()
            # A graceful close waits for the client to read what is left: not for ever.
            self._sockets.loop.call_later(CLOSE_LINGER_SECONDS, self.cut)
        self._end()

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        raw = self._raw
        if pending and raw is not None and not raw.is_closing() and not self._closed_on_wire():
            raw.write(b"".join(pending))

    def _closed_on_wire(self) -> bool:
        """A close frame went out (ours, or picows's own after a protocol error): nothing may
        follow it."""
        transport = self._transport
        return self._close_sent or (transport is not None and transport.is_close_frame_sent)

    def _enqueue(self, item: bytes | _CloseRequest) -> None:
        if self._outbox is None:
            self._outbox = deque()
        self._outbox.append(item)
        if not self._paused:
            self._drain()

    def _drain(self) -> None:
        outbox = self._outbox
        raw = self._raw
        while outbox and not self._paused and raw is not None and not raw.is_closing():
            if self._closed_on_wire():
                outbox.clear()
                return
            item = outbox.popleft()
            if isinstance(item, _CloseRequest):
                self._send_close(item.code, item.reason)
                return
            self._queued_bytes -= len(item)
            raw.write(item)

    def _send_close(self, code: int, reason: str) -> None:
        if self._close_sent or self._transport is None:
            return
        self._close_sent = True
        self._transport.send_close(WSCloseCode(code), reason.encode()[:120])

    def _close_timed_out(self) -> None:
        """The client did not answer our close: its session ends now; the last frames wait a
        little longer for it to read them."""
        if self._ended:
            return
        raw = self._raw
        if raw is not None and not raw.is_closing():
            # What is queued, the close frame last, goes to the transport's own buffer now
            # (bounded by the outbox budget), for a client that starts reading again.
            outbox, self._outbox = self._outbox, None
            for item in outbox or ():
                if isinstance(item, _CloseRequest):
                    self._send_close(item.code, item.reason)
                elif not self._closed_on_wire():
                    raw.write(item)
        self._end()
        if raw is not None:
            raw.close()
            self._sockets.loop.call_later(CLOSE_LINGER_SECONDS, self.cut)

    def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        self._fragments = None
        self._outbox = None
        self._sockets.discard(self)
        # A dead network, a missed heartbeat or a server restart keep the session for a resume.
        # A client that closed with 1000/1001 said goodbye; one cut for flooding or for not
        # reading has lost more than a resume could replay: those sessions end now.
        if self.close_code is None:
            resumable = self.peer_close_code not in GOODBYE_CODES
        else:
            resumable = self.close_code not in UNRESUMABLE_CLOSES
        self._on_end(self, resumable)


class OpenSockets:
    """Every open signaling socket, and the heartbeat that finds the dead ones."""

    def __init__(self, heartbeat_seconds: float) -> None:
        self._sockets: set[SignalingSocket] = set()
        self._heartbeat = heartbeat_seconds
        self.loop = asyncio.get_running_loop()
        self._to_flush: list[SignalingSocket] = []

    def flush_soon(self, socket: SignalingSocket) -> None:
        """Writes the socket's frames of this turn at its end: one callback for every socket
        written to in a turn, one write (syscall) per socket."""
        if not self._to_flush:
            self.loop.call_soon(self._flush_all)
        self._to_flush.append(socket)

    def _flush_all(self) -> None:
        to_flush, self._to_flush = self._to_flush, []
        for socket in to_flush:
            socket._flush()

    def __len__(self) -> int:
        return len(self._sockets)

    def add(self, socket: SignalingSocket) -> None:
        self._sockets.add(socket)

    def discard(self, socket: SignalingSocket) -> None:
        self._sockets.discard(socket)

    async def keep_heartbeat(self) -> None:
        """Pings a socket silent for a heartbeat; cuts one still silent half a heartbeat later
        (as aiohttp's heartbeat did). Runs until cancelled (the server stops)."""
        period = self._heartbeat / 4
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for socket in tuple(self._sockets):
                silent = now - socket.last_heard
                if silent >= 1.5 * self._heartbeat:
                    socket.cut()
                elif silent >= self._heartbeat and not socket.pinged:
                    socket.ping()

    async def close_all(self, code: int, reason: str) -> None:
        """Closes every socket, waiting at most the grace period for them to go."""
        for socket in tuple(self._sockets):
            socket.close(code, reason)
        deadline = time.monotonic() + CLOSE_GRACE_SECONDS
        while self._sockets and time.monotonic() < deadline:  # noqa: ASYNC110 (polls a set, bounded)
            await asyncio.sleep(0.02)
        for socket in tuple(self._sockets):
            socket.cut()
            try:
                socket._end()
            except Exception:
                log.exception("failed while ending a socket at shutdown")


class HandshakeTurns:
    """At most `per_turn` sockets are handed to picows in one turn of the event loop. A burst
    of clients connecting at once is spread over turns, and a relay arriving meanwhile waits
    for one share of the burst, not for all of it."""

    def __init__(self, per_turn: int) -> None:
        self._per_turn = per_turn
        self._used = 0
        self._waiting: deque[Callable[[], None]] = deque()
        self._loop = asyncio.get_running_loop()

    def run(self, start: Callable[[], None]) -> None:
        """Calls `start` in this turn if it has room, else in the first turn that has."""
        if self._used < self._per_turn and not self._waiting:
            self._take()
            start()
        else:
            self._waiting.append(start)

    async def turn(self) -> None:
        """Returns in a turn that has room (in coroutines)."""
        arrived: asyncio.Future[None] = self._loop.create_future()

        def admit() -> None:
            if not arrived.done():
                arrived.set_result(None)

        self.run(admit)
        await arrived

    def _take(self) -> None:
        if self._used == 0:
            self._loop.call_soon(self._new_turn)
        self._used += 1

    def _new_turn(self) -> None:
        self._used = 0
        waiting = self._waiting
        while waiting and self._used < self._per_turn:
            self._take()
            waiting.popleft()()


def take_over(
    request: web.Request,
    listener_for: Callable[[WSUpgradeRequest], object],
    max_message_bytes: int,
) -> None:
    """Hands the connection of an upgrade request from aiohttp to picows.

    picows reads the same request again (rebuilt from aiohttp's raw headers), answers it
    through `listener_for` and owns the socket from then on. aiohttp is told its connection is
    gone, with no transport left to write a response to or close.
    """
    transport = request.transport
    assert transport is not None
    lines = [b"%s %s HTTP/1.1" % (request.method.encode(), request.raw_path.encode())]
    lines.extend(name + b": " + value for name, value in request.raw_headers)
    aiohttp_side = request.protocol
    # What the client sent after the request without waiting for the 101 (aiohttp keeps it).
    early_frames: bytes = getattr(aiohttp_side, "_message_tail", b"")
    aiohttp_side.transport = None
    with contextlib.suppress(Exception):
        aiohttp_side.connection_lost(None)
    start_websocket(
        transport,
        b"\r\n".join(lines) + b"\r\n\r\n" + early_frames,
        listener_for,
        max_message_bytes,
    )


def start_websocket(
    transport: asyncio.Transport,
    received: bytes,
    listener_for: Callable[[WSUpgradeRequest], object],
    max_message_bytes: int,
) -> None:
    """Makes picows the protocol of `transport`, fed what was `received` so far (the upgrade
    request, and any frames after it). `listener_for` answers the parsed request with a
    SignalingSocket or a refusal (picows's WSUpgradeResponseWithListener)."""
    protocol = WSProtocol(
        None,  # host and port: a client's
        None,  # path: a client's
        False,  # server side
        listener_for,
        _picows_log,
        True,  # an exception in a callback closes the socket (1011)
        None,  # no handshake timeout: the request is already here
        False,  # no auto-ping task per socket: OpenSockets.keep_heartbeat does it for all
        20.0,
        20.0,
        WSAutoPingStrategy.PING_WHEN_IDLE,
        False,  # pings are answered by SignalingSocket, within the client's limits
        max_message_bytes,
        None,
        READ_BUFFER_BYTES,
    )
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    if not transport.is_reading():
        transport.resume_reading()  # aiohttp pauses a connection whose early data piles up
    while received:
        view = protocol.get_buffer(len(received))
        size = min(len(view), len(received))
        view[:size] = received[:size]
        received = received[size:]
        protocol.buffer_updated(size)
