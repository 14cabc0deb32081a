"""Every open signaling socket, the end-of-turn flush and the heartbeat that finds dead ones.

No task or timer is held per idle socket: one sweeper keeps the heartbeat for all of them, and
one end-of-turn callback flushes every socket written to in that turn.
"""

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from parley.server.socket_output import CLOSE_GRACE_SECONDS, SocketOutput

if TYPE_CHECKING:
    from parley.server.signaling_socket import SignalingSocket

log = logging.getLogger(__name__)


class OpenSockets:
    """Every open signaling socket, and the heartbeat that finds the dead ones."""

    def __init__(self, heartbeat_seconds: float) -> None:
        self._sockets: set[SignalingSocket] = set()
        self._heartbeat = heartbeat_seconds
        self.loop = asyncio.get_running_loop()
        self._to_flush: list[SocketOutput] = []

    def flush_soon(self, socket: SocketOutput) -> None:
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

    def add(self, socket: "SignalingSocket") -> None:
        self._sockets.add(socket)

    def discard(self, socket: "SignalingSocket") -> None:
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
