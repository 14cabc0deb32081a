"""What the prototypes share: Parley's real core and hub, the bench's settings, the garbage
collector policy, and the "routing fields only" relay path (msgspec Raw).

Nothing here is used by Parley itself; it is measurement code (bench/README.md, "Alternatives
measured").
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
from msgspec import Raw, Struct, field

import parley.core.replay as replay
from parley.config import ServerSettings
from parley.core.effects import Send
from parley.core.signaling import CoreSettings
from parley.protocol.messages import (
    RelayedAnswer,
    RelayedCandidate,
    RelayedOffer,
    RequestId,
    ServerMessage,
)
from parley.server.hub import Hub

# --- settings: what bench/servers.py passes to `parley serve` ----------------------------------


def bench_settings() -> ServerSettings:
    """The settings `parley serve` builds from bench/servers.py's PARLEY_ARGS (no flood limits,
    everything else at its default)."""
    data_dir = Path(tempfile.mkdtemp(prefix="parley-alt-"))
    atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    return ServerSettings(
        host="127.0.0.1",
        port=0,
        core=CoreSettings(),
        data_dir=data_dir,
        connections_per_client=1_000_000,
        messages_per_second=1_000_000.0,
        message_burst=1_000_000.0,
    )


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--raw", action="store_true", help="relay path: routing fields only")
    parser.add_argument(
        "--gc",
        choices=("tuned", "off", "default"),
        default="tuned",
        help="tuned: what parley serve does (freeze, threshold 20000); off: gc.disable()",
    )
    parser.add_argument("--gc-stats", default="", help="write each collection's pause here (JSON)")
    parser.add_argument(
        "--tracemalloc",
        default="",
        help="trace allocations; each SIGUSR1 dumps a snapshot to PATH.N (memory.py reads them)",
    )
    return parser.parse_args()


class GcPauses:
    """Every collection the process makes: when, which generation, how long (gc.callbacks)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, int, float, int]] = []
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._started = now
        elif len(self.pauses) < 100_000:
            self.pauses.append(
                (time.monotonic(), info["generation"], now - self._started, info["collected"])
            )

    def write(self, path: str) -> None:
        import json

        Path(path).write_text(json.dumps(self.pauses))


def tune_gc(policy: str) -> None:
    """`tuned` is cli._tune_garbage_collector; `off` also disables the collector (measurement
    only: reference cycles would then never be freed)."""
    if policy == "default":
        return
    gc.collect()
    gc.freeze()
    if policy == "tuned":
        gc.set_threshold(20_000, 50, 100)
    else:
        gc.disable()


# --- the routing-fields-only relay ------------------------------------------------------------


class RelayRouting(Struct):
    """Only what the relay decides on; the payload stays raw JSON (syntax checked, not parsed
    into objects, not re-encoded)."""

    type: str
    to: str | None = None
    id: RequestId = None
    candidate: Raw = Raw()
    sdp: Raw = Raw()


_routing_decoder = msgspec.json.Decoder(RelayRouting)
RELAY_TYPES = frozenset({"candidate", "offer", "answer"})
MAX_SDP_RAW = 60_000 * 6 + 2  # Sdp's max_length, each character at most a 6-byte \u escape


class RawRelayedCandidate(ServerMessage, tag="candidate", kw_only=True):
    from_: str = field(name="from")
    candidate: Raw


class RawRelayedOffer(ServerMessage, tag="offer", kw_only=True):
    from_: str = field(name="from")
    sdp: Raw


class RawRelayedAnswer(ServerMessage, tag="answer", kw_only=True):
    from_: str = field(name="from")
    sdp: Raw


_RAW_TYPES: dict[str, Any] = {
    "candidate": (RawRelayedCandidate, RelayedCandidate, b"candidate"),
    "offer": (RawRelayedOffer, RelayedOffer, b"sdp"),
    "answer": (RawRelayedAnswer, RelayedAnswer, b"sdp"),
}

# The replay log weighs SDPs by their length; a raw SDP is its JSON (quotes included).
# ReplayLog.append looks the tuple up at call time.
replay._DESCRIPTIONS = (*replay._DESCRIPTIONS, RawRelayedOffer, RawRelayedAnswer)


class RawRelayHub(Hub):
    """Parley's Hub with one more path in front: a relay (candidate/offer/answer with `to`) is
    decoded for its routing fields only, checked exactly as SignalingCore._relay checks it,
    numbered by the core's own _numbered (replay log, missed counts), and written as the
    client's raw payload with `seq`, `type` and `from` spliced around it. Anything else, and any
    relay the fast path would refuse, goes through the real Hub.on_text (typed decode, core)."""

    def on_text(self, session: str, frame: str | bytes) -> None:  # type: ignore[override]
        try:
            routing = _routing_decoder.decode(frame)
        except msgspec.DecodeError:
            super().on_text(session, frame)
            return
        kind = routing.type
        to = routing.to
        if kind not in RELAY_TYPES or to is None:
            super().on_text(session, frame)
            return
        core = self.core
        session_id = core._connections.get(session)
        state = core._sessions.get(session_id) if session_id is not None else None
        if state is None or state.identity is None:
            super().on_text(session, frame)
            return
        raw_type, real_type, payload_name = _RAW_TYPES[kind]
        payload = routing.candidate if payload_name == b"candidate" else routing.sdp
        raw = bytes(payload)
        # The shapes the typed decode would insist on: an object or null; a string.
        if payload_name == b"candidate":
            valid = raw[:1] == b"{" or raw == b"null"
        else:
            valid = raw[:1] == b'"' and len(raw) <= MAX_SDP_RAW
        room = core.rooms.get(state.room) if state.room is not None else None
        in_room = room is not None and to != state.id and to in room.members
        if not valid or (
            not in_room and core.calls.peer_session(state.id, state.identity.user) != to
        ):
            super().on_text(session, frame)  # the core refuses it, with its own error
            return
        self.metrics.received += 1
        if payload_name == b"candidate":
            message: ServerMessage = raw_type(from_=state.id, candidate=payload)
        else:
            message = raw_type(from_=state.id, sdp=payload)
        effects = core._numbered([Send(to, message)], time.time())
        if len(effects) != 1:
            self._apply(effects)  # a session away overflowed: the core ends it
            return
        seq = effects[0].seq
        frame_out = b'{"seq":%d,"type":"%s","from":"%s","%s":%s}' % (
            seq,
            kind.encode(),
            state.id.encode(),
            payload_name,
            raw,
        )
        self.backplane.deliver(to, frame_out)
        self.metrics.sent[real_type] += 1


def memory_probe(path: str) -> None:
    """With --tracemalloc: start tracing; SIGUSR1 dumps a snapshot to path.1, path.2, ..."""
    if not path:
        return
    import signal
    import tracemalloc

    tracemalloc.start(1)
    dumps = [0]

    def dump() -> None:
        dumps[0] += 1
        gc.collect()
        tracemalloc.take_snapshot().dump(f"{path}.{dumps[0]}")
        print(f"snapshot {dumps[0]}", flush=True)

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump)


def announce(host: str, port: int) -> None:
    """The line bench/servers.py waits for."""
    print(f"Parley listening on http://{host}:{port}/", flush=True)


async def wait_for_signal() -> None:
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
