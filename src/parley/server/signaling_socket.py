"""A signaling socket's receiving half: frames in, checked and rate-limited, to the hub.

picows calls a SignalingSocket for every frame; it decodes text in picows's C code, reassembles
fragments, holds each client to its message rate and answers pings. What goes out, and the
close handshake, is its base class's (parley.server.socket_output).
"""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from picows import WSFrame, WSMsgType, WSTransport

from parley.protocol.close_codes import CloseCode
from parley.server.socket_output import (
    DIRECT_WRITE_LIMIT,
    GOODBYE_CODES,
    UNRESUMABLE_CLOSES,
    SocketLimits,
    SocketOutput,
)

if TYPE_CHECKING:
    from parley.server.open_sockets import OpenSockets


class SocketHub(Protocol):
    """What a socket needs of the hub (parley.server.hub.Hub)."""

    def open(self, sink: "SignalingSocket", client: str) -> str: ...

    def on_text(self, connection: str, frame: str) -> None: ...

    def on_binary(self, connection: str) -> None: ...

    def close(self, connection: str, *, resumable: bool) -> None: ...


class SignalingSocket(SocketOutput):
    """One client's WebSocket, and the session sink the hub writes to."""

    # Thousands are held idle: no __dict__ each.
    __slots__ = (
        "_client",
        "_fragments",
        "_fragments_binary",
        "_hub",
        "_on_end",
        "_tokens",
        "_tokens_at",
        "connection_id",
        "last_heard",
    )

    def __init__(
        self,
        sockets: "OpenSockets",
        hub: SocketHub,
        limits: SocketLimits,
        on_end: Callable[["SignalingSocket", bool], None],
        client: str = "",
    ) -> None:
        super().__init__(sockets, limits)
        self._client = client  # its client network (an address, or an IPv6 /64)
        self._hub = hub
        self._on_end = on_end
        self.connection_id = ""
        self.last_heard = 0.0
        # The token bucket, inline: one object fewer per socket.
        self._tokens = limits.message_burst
        self._tokens_at = 0.0
        self._fragments: bytearray | None = None
        self._fragments_binary = False

    # -- picows callbacks

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._transport = transport
        raw = transport.underlying_transport
        self._raw = raw
        raw.set_write_buffer_limits(high=DIRECT_WRITE_LIMIT)
        self.last_heard = time.monotonic()
        self._sockets.add(self)
        self.connection_id = self._hub.open(self, self._client)

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
