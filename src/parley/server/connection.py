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


class Connection:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.BaseTransport | None,
        max_queued_bytes: int,
    ) -> None:
        self._ws = ws
        self._transport = transport
        self._max_queued_bytes = max_queued_bytes
        self._outbox: deque[bytes | _CloseRequest] = deque()
        self._queued_bytes = 0
        self._closing = False
        self.close_code: int | None = None
        self._wakeup = asyncio.Event()
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    def push(self, frame: bytes) -> None:
        if self._closing:
            return
        if self._queued_bytes + len(frame) > self._max_queued_bytes:
            self._outbox.clear()
            self._queued_bytes = 0
            self.close(CloseCode.SLOW_CONSUMER, "outbox overflow")
            return
        self._outbox.append(frame)
        self._queued_bytes += len(frame)
        self._wakeup.set()

    def close(self, code: int, reason: str) -> None:
        if self._closing:
            return
        self._closing = True
        self.close_code = code
        self._outbox.append(_CloseRequest(code, reason))
        self._wakeup.set()
        # A client that stopped reading blocks the writer forever: cut it after a grace period.
        asyncio.get_running_loop().call_later(CLOSE_GRACE_SECONDS, self._abort)

    async def shutdown(self, code: int, reason: str) -> None:
        """Closes the socket, waiting at most the grace period for it to go."""
        self.close(code, reason)
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._writer), CLOSE_GRACE_SECONDS)
        self._abort()

    def _abort(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            log.info("cut a socket that did not close in time")
            self._transport.abort()  # type: ignore[attr-defined]

    async def finish(self) -> None:
        """The reading side is done: stop writing and release the task."""
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer

    async def _write_loop(self) -> None:
        outbox = self._outbox
        ws = self._ws
        try:
            while True:
                if not outbox:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                item = outbox.popleft()
                if isinstance(item, _CloseRequest):
                    await ws.close(code=item.code, message=item.reason.encode())
                    return
                self._queued_bytes -= len(item)
                await ws.send_frame(item, WSMsgType.TEXT)
        except (ConnectionError, RuntimeError) as exc:
            # The peer went away mid-write; the reader side will see the close and clean up.
            log.debug("writer stopped: %s", exc.__class__.__name__)
