"""How much of a connection's memory is Parley's own state, whatever serves the socket: N
sessions opened and welcomed in the real SignalingCore (no sockets, no event loop), measured
with tracemalloc (Python allocations) and RSS. Also a hello's timer handle, as Hub adds one.

    .venv/bin/python bench/alternatives/core_memory.py [N]
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from pathlib import Path

from parley.core.signaling import CoreSettings, SignalingCore
from parley.identity import GuestIdentities
from parley.protocol.messages import Hello


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    core = SignalingCore(CoreSettings(), identities=GuestIdentities(b"k" * 32))
    hello = Hello(v=1)
    # Warm-up: first-use allocations (interned strings, caches) are not per session.
    for _ in range(200):
        connection, _effects = core.connect(time.time())
        core.receive(connection, hello, time.time())
    gc.collect()
    tracemalloc.start()
    before_py = tracemalloc.get_traced_memory()[0]
    before_rss = rss_kib()
    keep = []
    for _ in range(count):
        connection, effects = core.connect(time.time())
        keep.append((connection, core.receive(connection, hello, time.time()), effects))
    del keep  # the effects lists are transient (the hub applies them and drops them)
    gc.collect()
    after_py = tracemalloc.get_traced_memory()[0]
    after_rss = rss_kib()
    snapshot = tracemalloc.take_snapshot()
    print(f"{count} welcomed sessions in SignalingCore:")
    print(f"  Python allocations {(after_py - before_py) / count / 1024:.2f} KiB per session")
    print(f"  RSS (with tracemalloc's own overhead) {(after_rss - before_rss) / count:.2f} KiB")
    print("  top allocation sites:")
    for stat in snapshot.statistics("lineno")[:8]:
        print(f"    {stat.size / count:7.0f} B/session  {stat.traceback}")


if __name__ == "__main__":
    main()
