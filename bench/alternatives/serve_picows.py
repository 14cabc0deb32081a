"""Prototype: Parley's real core and hub (SignalingCore, Hub, MemoryBackplane, Metrics, the call
history thread) behind a picows WebSocket server on uvloop, instead of aiohttp. Serves /ws only
(no pages, no /metrics HTTP route): it is what a separate WebSocket listener next to aiohttp's
HTTP would be.

What app.py/connection.py do, done the picows way:
- admission per client address (ConnectionCounter), Origin check, the token bucket per socket;
- each socket's frames from one loop turn written in one write (as connection.py does), or with
  --write direct, one picows send (one syscall) per frame;
- a socket whose kernel buffer passes the outbox budget is closed (1013, as SLOW_CONSUMER);
- heartbeat: one sweeper for all sockets (ping a socket silent for `heartbeat` seconds, drop one
  silent for 1.5x), not a task or timer per socket;
- close codes 1000/1001 from the client end the session, any other loss keeps it resumable.
Not done (a prototype): fragmented messages (refused with 1003), the failed-auth throttle.

    python bench/alternatives/serve_picows.py [--raw] [--gc tuned|off|default]
        [--write batch|direct] [--read-buffer 2048] [--transport aiofastnet|uvloop]

picows's default read buffer is 16 KiB per socket (23-28 KiB per idle connection measured);
2 KiB (its minimum) is the default here.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import uvloop
from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    ws_create_server,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from parley.backplane.memory import MemoryBackplane
from parley.core.signaling import SignalingCore
from parley.identity import GuestIdentities
from parley.protocol.close_codes import CloseCode
from parley.server.hub import Hub
from parley.server.limits import ConnectionCounter, TokenBucket, client_network
from parley.server.metrics import Metrics
from parley.server.websocket import text_frame
from parley.storage.database import migrate, open_engine
from parley.storage.history import CallHistory

GOODBYE_CODES = (1000, 1001)
UNRESUMABLE_CLOSES = (CloseCode.SLOW_CONSUMER, CloseCode.POLICY_VIOLATION)


class Sink:
    """A socket's SessionSink: frames of one loop turn gathered and written at once."""

    __slots__ = ("_flush_scheduled", "_pending", "close_code", "direct", "transport")

    loop: asyncio.AbstractEventLoop
    max_buffered: int

    def __init__(self, transport: WSTransport, direct: bool) -> None:
        self.transport = transport
        self.direct = direct
        self._pending: list[bytes] | None = None
        self._flush_scheduled = False
        self.close_code: int | None = None

    def push(self, frame: bytes) -> None:
        if self.close_code is not None:
            return
        transport = self.transport
        if transport.underlying_transport.get_write_buffer_size() > self.max_buffered:
            self.close(CloseCode.SLOW_CONSUMER, "outbox overflow")
            return
        if self.direct:
            transport.send(WSMsgType.TEXT, frame)
            return
        if self._pending is None:
            self._pending = [text_frame(frame)]
        else:
            self._pending.append(text_frame(frame))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, None
        if pending:
            underlying = self.transport.underlying_transport
            if not underlying.is_closing():
                underlying.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self, code: int, reason: str) -> None:
        if self.close_code is not None:
            return
        self.close_code = code
        self._flush()
        self.transport.send_close(code, reason.encode())  # type: ignore[arg-type]
        self.transport.disconnect()


class Server:
    def __init__(self, hub: Hub, direct: bool, heartbeat: float) -> None:
        self.hub = hub
        self.direct = direct
        self.heartbeat = heartbeat
        self.counter = ConnectionCounter(1_000_000)
        self.sockets: set[Socket] = set()
        self.clock = asyncio.get_running_loop().time

    def factory(self, request: WSUpgradeRequest) -> WSListener | None:
        if request.path != b"/ws" and request.path != "/ws":
            return None
        origin = request.headers.get("Origin")
        if origin is not None and origin not in ("http://127.0.0.1", "http://localhost"):
            return None
        return Socket(self)

    async def sweep_heartbeats(self) -> None:
        """Pings sockets silent for `heartbeat` s; drops those silent for 1.5x. One pass over
        all sockets every heartbeat/2 seconds (bounded: runs until the server stops)."""
        while True:
            await asyncio.sleep(self.heartbeat / 2)
            now = self.clock()
            for socket in tuple(self.sockets):
                silent = now - socket.last_data
                if silent > 1.5 * self.heartbeat:
                    socket.transport.disconnect(graceful=False)
                elif silent > self.heartbeat:
                    socket.transport.send_ping()


class Socket(WSListener):
    __slots__ = ("bucket", "client", "connection_id", "last_data", "server", "sink", "transport")

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: Any = None
        self.sink: Sink | None = None
        self.connection_id = ""
        self.client = ""
        self.last_data = 0.0
        self.bucket = TokenBucket(
            common_settings.messages_per_second, common_settings.message_burst
        )

    def on_ws_connected(self, transport: WSTransport) -> None:
        server = self.server
        peer = transport.underlying_transport.get_extra_info("peername")
        self.client = client_network(peer[0] if peer else None)
        if not server.counter.admit(self.client):
            self.client = ""
            transport.send_close(WSCloseCode.POLICY_VIOLATION, b"too many connections")
            transport.disconnect()
            return
        self.transport = transport
        self.sink = Sink(transport, server.direct)
        self.last_data = server.clock()
        server.sockets.add(self)
        self.connection_id = server.hub.open(self.sink)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        now = self.last_data = self.server.clock()
        if msg_type is WSMsgType.TEXT:
            if not frame.fin:
                self._cut(1003, "fragmented messages are not supported here")
                return
            if not self.bucket.take(now):
                self._cut(CloseCode.POLICY_VIOLATION, "message rate exceeded")
                return
            self.server.hub.on_text(self.connection_id, frame.get_payload_as_utf8_text())
        elif msg_type is WSMsgType.BINARY:
            self.server.hub.on_binary(self.connection_id)
        elif msg_type is WSMsgType.CLOSE:
            if self.sink is not None and self.sink.close_code is None:
                self.sink.close_code = frame.get_close_code() or 1005
                self.sink._flush()
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def _cut(self, code: int, reason: str) -> None:
        if self.sink is not None:
            self.sink.close(code, reason)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        server = self.server
        if self.client:
            server.counter.release(self.client)
        if self.sink is None:
            return
        server.sockets.discard(self)
        code = self.sink.close_code
        self.sink.close_code = code if code is not None else 1006
        resumable = code is None or (code not in GOODBYE_CODES and code not in UNRESUMABLE_CLOSES)
        server.hub.close(self.connection_id, resumable=resumable)


common_settings = common.bench_settings()


async def serve(
    raw: bool,
    gc_policy: str,
    direct: bool,
    read_buffer: int,
    trace: str = "",
    aiofastnet: bool = True,
) -> None:
    settings = common_settings
    loop = asyncio.get_running_loop()
    Sink.loop = loop
    Sink.max_buffered = settings.outbox_max_bytes
    engine = open_engine(settings.resolved_database_url())
    await migrate(engine)
    history = CallHistory(engine)
    history.start()
    core = SignalingCore(settings.core, identities=GuestIdentities(settings.resolved_secret()))
    metrics = Metrics()
    hub_type = common.RawRelayHub if raw else Hub
    hub = hub_type(core, MemoryBackplane(), history, metrics)
    server = Server(hub, direct, settings.heartbeat_seconds)
    metrics.watch(core, lambda: len(server.sockets))
    listener = await ws_create_server(
        server.factory,
        settings.host,
        0,
        max_frame_size=settings.core.max_message_bytes,
        websocket_handshake_timeout=5,
        read_buffer_init_size=read_buffer,
        # picows 2.3 uses aiofastnet's transport when installed (it is a dependency); False:
        # uvloop's own TCP transport.
        use_aiofastnet=aiofastnet,
    )
    sweeper = loop.create_task(server.sweep_heartbeats())
    common.tune_gc(gc_policy)
    common.memory_probe(trace)
    common.announce(settings.host, listener.sockets[0].getsockname()[1])
    try:
        await common.wait_for_signal()
    finally:
        sweeper.cancel()
        listener.close()
        for socket in tuple(server.sockets):
            socket._cut(CloseCode.SERVICE_RESTART, "server restarting")
        await history.stop()
        await engine.dispose()


def main() -> None:
    import argparse

    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--write", choices=("batch", "direct"), default="batch")
    own.add_argument("--read-buffer", type=int, default=2048)  # picows: 16384
    own.add_argument("--transport", choices=("aiofastnet", "uvloop"), default="aiofastnet")
    extra, rest = own.parse_known_args()
    sys.argv = [sys.argv[0], *rest]
    options = common.arguments(__doc__ or "")
    pauses = common.GcPauses() if options.gc_stats else None
    logging.basicConfig(level=logging.WARNING)
    try:
        uvloop.run(
            serve(
                options.raw,
                options.gc,
                extra.write == "direct",
                extra.read_buffer,
                options.tracemalloc,
                extra.transport == "aiofastnet",
            )
        )
    finally:
        if pauses is not None:
            pauses.write(options.gc_stats)


if __name__ == "__main__":
    main()
