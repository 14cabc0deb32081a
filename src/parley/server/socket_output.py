"""A signaling socket's sending half: frames out to the client, the outbox that holds them
while the client is slow to read, and the close handshake.

parley.server.signaling_socket adds the receiving half; the two are one object (one per
client, thousands held idle), split in two classes only to keep each readable.
"""

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from picows import WSCloseCode, WSListener, WSTransport

from parley.protocol.close_codes import CloseCode
from parley.server.frames import text_frame, text_frame_header

if TYPE_CHECKING:
    from parley.server.open_sockets import OpenSockets

# How long a closing socket may take to flush and say goodbye before it is cut.
CLOSE_GRACE_SECONDS = 2.0
# A socket that closed while its client was not reading keeps its last frames (the close among
# them) this much longer for the client to read, then is cut.
CLOSE_LINGER_SECONDS = 10.0
# While the kernel takes what is written, frames go straight to the socket; beyond this much
# unsent data they wait in the socket's outbox, which has a byte budget.
DIRECT_WRITE_LIMIT = 64 * 1024
GOODBYE_CODES = (1000, 1001)
UNRESUMABLE_CLOSES = (CloseCode.SLOW_CONSUMER, CloseCode.POLICY_VIOLATION)


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


class SocketOutput(WSListener):
    """What goes out to one client, and how its socket closes."""

    # Thousands are held idle: no __dict__ each.
    __slots__ = (
        "_close_sent",
        "_closing",
        "_ended",
        "_limits",
        "_outbox",
        "_paused",
        "_pending",
        "_queued_bytes",
        "_raw",
        "_sockets",
        "_transport",
        "close_code",
        "peer_close_code",
        "pinged",
    )

    def __init__(self, sockets: "OpenSockets", limits: SocketLimits) -> None:
        self._sockets = sockets
        self._limits = limits
        self._transport: WSTransport | None = None
        self._raw: asyncio.Transport | None = None
        self.pinged = False
        self._pending: list[bytes] | None = None
        # Made when first needed: most sockets never fill the kernel's buffer.
        self._outbox: deque[bytes | _CloseRequest] | None = None
        self._queued_bytes = 0
        self._paused = False
        self._closing = False
        self._close_sent = False
        self._ended = False
        # The code this server closed with, if it closed first; else the client's.
        self.close_code: int | None = None
        self.peer_close_code: int | None = None

    # -- picows callbacks

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

    def _end(self) -> None:
        """Ends the socket's session, once (SignalingSocket tells the hub)."""
        raise NotImplementedError

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
