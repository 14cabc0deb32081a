"""One socket's outbox and the one task that writes it.

Fan-out only appends to outboxes, so a client that reads slowly delays nobody but itself; when
its outbox passes a byte budget the socket is closed rather than left to grow without bound.
"""

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from parley.protocol.close_codes import CloseCode

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _CloseRequest:
    code: int
    reason: str


# How long a closing socket may take to flush and say goodbye before it is cut.
CLOSE_GRACE_SECONDS = 2.0
# While the kernel takes what is written, frames go straight to the socket; beyond this much
# unsent data they queue in the outbox (and count against its budget) for the writer task.
DIRECT_WRITE_LIMIT = 64 * 1024


def text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented WebSocket text frame (RFC 6455 §5.2), as a server sends it."""
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 65536:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


class Connection:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None,
        max_queued_bytes: int,
    ) -> None:
        self._ws = ws
        self._transport = transport
        self._max_queued_bytes = max_queued_bytes
        # Made when first needed: an empty deque weighs 600 bytes on every idle connection.
        self._outbox: deque[bytes | _CloseRequest] | None = None
        self._queued_bytes = 0
        self._writing = False
        self._pending: list[bytes] = []
        self._flush_scheduled = False
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self.close_code: int | None = None
        # Started only when frames must queue (a slow reader, or the close): an idle connection
        # holds no task.
        self._writer: asyncio.Task[None] | None = None

    def push(self, frame: bytes) -> None:
        # aiohttp closes by itself on a protocol error (1009, 1007…): nothing may follow its
        # close frame, and its writer is not ours to ask.
        if self._closing or self._ws.closed:
            return
        transport = self._transport
        if (
            not self._outbox
            and not self._writing
            and transport is not None
            and not transport.is_closing()
            and transport.get_write_buffer_size() < DIRECT_WRITE_LIMIT
        ):
            # The common case: no task switch per relayed message, and the frames for this
            # socket from one turn of the event loop leave in one write (one syscall).
            self._pending.append(text_frame(frame))
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self._loop.call_soon(self._flush)
            return
        if self._queued_bytes + len(frame) > self._max_queued_bytes:
            if self._outbox is not None:
                self._outbox.clear()
            self._queued_bytes = 0
            self.close(CloseCode.SLOW_CONSUMER, "outbox overflow")
            return
        self._enqueue(frame)
        self._queued_bytes += len(frame)

    def _flush(self) -> None:
        """Writes the frames gathered this turn; whole frames, so they cannot interleave with
        aiohttp's own pings and close."""
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        transport = self._transport
        if pending and transport is not None and not transport.is_closing() and not self._ws.closed:
            transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self, code: int, reason: str) -> None:
        if self._closing:
            return
        self._closing = True
        self.close_code = code
        self._enqueue(_CloseRequest(code, reason))
        # A client that stopped reading blocks the writer forever: cut it after a grace period.
        asyncio.get_running_loop().call_later(CLOSE_GRACE_SECONDS, self._abort)

    async def shutdown(self, code: int, reason: str) -> None:
        """Closes the socket, waiting at most the grace period for it to go."""
        self.close(code, reason)
        if self._writer is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._writer), CLOSE_GRACE_SECONDS)
        self._abort()

    def _abort(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            log.info("cut a socket that did not close in time")
            self._transport.abort()

    async def finish(self) -> None:
        """The reading side is done: stop writing and release the task."""
        writer = self._writer
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    def _enqueue(self, item: bytes | _CloseRequest) -> None:
        if self._outbox is None:
            self._outbox = deque()
        self._outbox.append(item)
        if self._writer is None or self._writer.done():
            self._writer = self._loop.create_task(self._write_loop())

    async def _write_loop(self) -> None:
        outbox = self._outbox
        assert outbox is not None
        ws = self._ws
        try:
            while outbox:
                item = outbox.popleft()
                if isinstance(item, _CloseRequest):
                    await ws.close(code=item.code, message=item.reason.encode())
                    return
                self._queued_bytes -= len(item)
                self._writing = True
                try:
                    await ws.send_frame(item, WSMsgType.TEXT)
                finally:
                    self._writing = False
        except (ConnectionError, RuntimeError) as exc:
            # The peer went away mid-write; the reader side will see the close and clean up.
            log.debug("writer stopped: %s", exc.__class__.__name__)
