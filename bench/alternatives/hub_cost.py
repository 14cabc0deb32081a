"""The Python work per relayed candidate with no I/O at all: Hub.on_text (typed decode, core,
numbering, encode, seq splice, outbox) against RawRelayHub.on_text (routing fields only, raw
payload spliced), in-process, with an outbox that only keeps the frame. What is left of a
server's per-message cost is the socket layer (aiohttp or picows, the event loop, syscalls).
Then the same relay from Hub.on_text through Parley's own SignalingSocket (framing, the
per-turn batch, the flush) to a transport that only counts what is written.

    .venv/bin/python bench/alternatives/hub_cost.py
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common
import loadgen

from parley.backplane.memory import MemoryBackplane
from parley.core.signaling import CoreSettings, SignalingCore
from parley.identity import GuestIdentities
from parley.protocol.codec import decode_client_frame, encode
from parley.server.hub import Hub
from parley.server.websocket import OpenSockets, SignalingSocket, SocketLimits, text_frame


class Sink:
    def __init__(self) -> None:
        self.last = b""

    def push(self, frame: bytes) -> None:
        self.last = text_frame(frame)  # what Connection.push does per frame besides queueing

    def close(self, code: int, reason: str) -> None:
        pass


class History:
    def submit(self, step: object) -> None:
        pass


async def measure(hub_type: type[Hub], count: int) -> float:
    core = SignalingCore(CoreSettings(), identities=GuestIdentities(b"k" * 32))
    hub = hub_type(core, MemoryBackplane(), History())
    a, b = hub.open(Sink()), hub.open(Sink())
    for session in (a, b):
        hub.on_text(session, '{"type":"hello","v":1}')
        hub.on_text(session, '{"type":"join","room":"r"}')
    before, after = loadgen.frame_template("parley", "candidate", b)
    frames = [(before + b"%019d" % i + after).decode() for i in range(1000)]
    on_text = hub.on_text
    gc.collect()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for i in range(count):
            on_text(a, frames[i % 1000])
        best = min(best, (time.perf_counter() - t0) / count)
    return best * 1e6


class CountingTransport:
    """The raw transport under a SignalingSocket: counts writes instead of making them."""

    def __init__(self) -> None:
        self.writes = 0
        self.written = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        self.written += len(data)

    def is_closing(self) -> bool:
        return False

    def set_write_buffer_limits(self, high: int) -> None:
        pass


class WSTransportStandIn:
    def __init__(self) -> None:
        self.underlying_transport = CountingTransport()
        self.is_close_frame_sent = False


async def measure_through_socket(count: int, per_turn: int = 4) -> float:
    """`per_turn` relays to one socket in each turn of the event loop (the load generator keeps
    4 in flight per direction), then the turn ends and the socket's frames are written. The
    receiving side (picows's frame parsing, `on_ws_frame`) is not in it, and the loop is
    asyncio's own, not uvloop."""
    assert count % per_turn == 0
    core = SignalingCore(CoreSettings(), identities=GuestIdentities(b"k" * 32))
    hub = Hub(core, MemoryBackplane(), History())
    sockets = OpenSockets(30.0)
    limits = SocketLimits(65536, 1 << 20, 1e9, 1e9)
    pair = [SignalingSocket(sockets, hub, limits, lambda socket, resumable: None) for _ in "ab"]
    stand_ins = [WSTransportStandIn() for _ in pair]
    for socket, stand_in in zip(pair, stand_ins, strict=True):
        socket.on_ws_connected(stand_in)  # type: ignore[arg-type]
        hub.on_text(socket.connection_id, '{"type":"hello","v":1}')
        hub.on_text(socket.connection_id, '{"type":"join","room":"r"}')
    await asyncio.sleep(0)
    a, b = pair[0].connection_id, pair[1].connection_id
    before, after = loadgen.frame_template("parley", "candidate", b)
    frames = [(before + b"%019d" % i + after).decode() for i in range(1000)]
    on_text = hub.on_text
    written = stand_ins[1].underlying_transport
    frame_bytes = len(frames[0]) + 64  # what a relayed frame adds: at most this
    gc.collect()
    best = float("inf")
    for _ in range(5):
        writes_before, bytes_before = written.writes, written.written
        t0 = time.perf_counter()
        for i in range(0, count, per_turn):
            for j in range(i, i + per_turn):
                on_text(a, frames[j % 1000])
            await asyncio.sleep(0)
        best = min(best, (time.perf_counter() - t0) / count)
        assert written.writes - writes_before == count // per_turn  # every turn was written
        # and every relay in it (each at least as long as what was sent)
        assert len(frames[0]) * count <= written.written - bytes_before <= frame_bytes * count
    return best * 1e6


def main() -> None:
    frame = loadgen.frame_template("parley", "candidate", "x" * 22)
    text = (frame[0] + b"0" * 19 + frame[1]).decode()
    n = 20_000
    t0 = time.perf_counter()
    for _ in range(n):
        message = decode_client_frame(text)
    decode_us = (time.perf_counter() - t0) / n * 1e6
    t0 = time.perf_counter()
    for _ in range(n):
        common._routing_decoder.decode(text)
    routing_us = (time.perf_counter() - t0) / n * 1e6
    del message
    stock = asyncio.run(measure(Hub, n))
    raw = asyncio.run(measure(common.RawRelayHub, n))
    through_socket = asyncio.run(measure_through_socket(n))
    print(f"typed decode of a candidate frame      {decode_us:6.2f} us")
    print(f"routing-fields decode (msgspec Raw)    {routing_us:6.2f} us")
    print(f"Hub.on_text, whole relay, no I/O       {stock:6.2f} us/msg")
    print(f"RawRelayHub.on_text, whole relay       {raw:6.2f} us/msg")
    print(f"Hub.on_text to the socket's write      {through_socket:6.2f} us/msg")
    _ = encode


if __name__ == "__main__":
    main()
