"""Where an idle connection's memory goes: a server started with --tracemalloc, 200 connections
opened and closed (warm-up), a snapshot, N idle welcomed connections, a second snapshot; the
Python allocations that grew, per connection, by source line. tracemalloc sees Python's own
allocations only (not the kernel's socket buffers, nor libuv's or picows's malloc()s), so the
RSS growth is printed next to it.

    .venv/bin/python bench/alternatives/memory.py [aiohttp|picows] [N]
"""

from __future__ import annotations

import os
import resource
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))
import run  # noqa: E402
from servers import LOADGEN_CORE, Alternative  # noqa: E402

SCRIPTS = {"aiohttp": "serve_aiohttp.py", "picows": "serve_picows.py"}


def snapshot(server: Alternative, path: str, number: int) -> tracemalloc.Snapshot:
    os.kill(server.pid, signal.SIGUSR1)
    target = f"{path}.{number}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if os.path.exists(target):
            size = os.path.getsize(target)
            time.sleep(1.0)
            if os.path.getsize(target) == size:
                return tracemalloc.Snapshot.load(target)
        time.sleep(0.5)
    raise RuntimeError("no snapshot")


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "aiohttp"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.sched_setaffinity(0, {int(LOADGEN_CORE)})
    scratch = tempfile.mkdtemp(prefix="parley-mem-")
    path = os.path.join(scratch, "snap")
    server = Alternative(f"{kind}-tracemalloc", SCRIPTS[kind], ["--raw", "--tracemalloc", path])
    with server:
        hold = {"job": "hold", "server": "parley", "url": server.url, "server_pid": server.pid}
        run.run_job({**hold, "count": 200, "concurrency": 50, "stop_file": "", "max_hold": 0})
        time.sleep(1.0)
        before = snapshot(server, path, 1)
        rss0 = server.rss_kib()
        stop = os.path.join(scratch, "stop")
        generators = run.open_and_hold(server, count, 200, stop)
        opened = sum(g.wait("ready", 300)["opened"] for g in generators)
        time.sleep(2.0)
        after = snapshot(server, path, 2)
        rss1 = server.rss_kib()
        Path(stop).touch()
        for g in generators:
            g.wait("result", 60)
            g.kill()
    diff = after.compare_to(before, "lineno")
    python_bytes = sum(d.size_diff for d in diff)
    print(f"{kind}: {opened} idle connections")
    print(f"  RSS growth {(rss1 - rss0) / opened:.1f} KiB/conn (tracemalloc on: inflated)")
    print(f"  Python allocations {python_bytes / opened / 1024:.2f} KiB/conn; biggest:")
    for d in diff[:18]:
        frame = d.traceback[0]
        where = f"{Path(frame.filename).parent.name}/{Path(frame.filename).name}:{frame.lineno}"
        print(f"    {d.size_diff / opened:7.0f} B  {d.count_diff / opened:5.1f} blocks  {where}")


if __name__ == "__main__":
    main()
