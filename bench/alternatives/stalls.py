"""Where the connection storm's worst relay latencies come from: the bench's storm (a probe
relaying candidates between 5 pairs at 200 msg/s while 5,000 clients connect), against a
`parley serve` whose event loop is watched from inside (loop_watch/sitecustomize.py). Each
stall of the loop (more than 3 ms between two turns) is recorded with the server's main
thread's CPU time, context switches and page faults over it, and sorted by what the thread did
meanwhile:

- busy: it ran (CPU time >= 80% of the gap): long turns, Parley's own work;
- switched out: another task took the core (involuntary switch) or it blocked (voluntary);
- not running, not switched out: CPU time < 20% of the gap and no switch at all. The thread
  stayed scheduled but its vCPU did not run it (the hypervisor, or interrupt work not charged
  to the thread). No server code can shorten these.

    .venv/bin/python bench/alternatives/stalls.py [--reps 3]

The watcher spins the loop (a tick every turn), so the probe figures here are not the bench's.
Prints, per repetition, the probe's max and p99 and the stalls of each kind; writes
results/stalls.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))
import run  # noqa: E402
from servers import Parley  # noqa: E402

WATCHER = Path(__file__).resolve().parent / "loop_watch"


def kind_of(gap: dict[str, float]) -> str:
    if gap["cpu_ms"] >= 0.8 * gap["gap_ms"]:
        return "busy"
    if gap["voluntary"] or gap["involuntary"]:
        return "switched out"
    if gap["cpu_ms"] < 0.2 * gap["gap_ms"]:
        return "not running, not switched out"
    return "mixed"


def one_storm() -> dict[str, Any]:
    # tmpfs: the watcher's own writes must not wait for a disk journal.
    with tempfile.TemporaryDirectory(dir="/dev/shm") as scratch:
        watch = os.path.join(scratch, "gaps.json")
        env = {"PYTHONPATH": str(WATCHER), "PARLEY_LOOP_WATCH": watch}
        storm = run.storm(lambda: Parley(env=env), 5_000, 100)
        time.sleep(0.1)
        gaps = json.loads(Path(watch).read_text()) if Path(watch).exists() else []
    # The last half second holds the server's shutdown (5,000 sockets closed at once).
    if gaps:
        end = max(g["at"] for g in gaps)
        gaps = [g for g in gaps if g["at"] < end - 0.5]
    kinds: dict[str, dict[str, float]] = {}
    for gap in gaps:
        row = kinds.setdefault(kind_of(gap), {"count": 0, "max_ms": 0.0, "total_ms": 0.0})
        row["count"] += 1
        row["max_ms"] = max(row["max_ms"], gap["gap_ms"])
        row["total_ms"] += gap["gap_ms"]
    return {
        "probe": storm["probe"],
        "connect_per_s": storm["connect_per_s"],
        "stalls": kinds,
        "longest": sorted(gaps, key=lambda g: -g["gap_ms"])[:10],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server inherits it
    results = []
    for rep in range(args.reps):
        result = one_storm()
        results.append(result)
        print(
            f"rep {rep + 1}: probe max {result['probe']['max_ms']:.1f} ms, "
            f"p99 {result['probe']['p99_ms']:.1f} ms"
        )
        for kind, row in sorted(result["stalls"].items()):
            print(
                f"  {kind:<31} {row['count']:>4} stalls, longest {row['max_ms']:5.1f} ms, "
                f"{row['total_ms']:6.1f} ms in all"
            )
    out = BENCH / "results" / "stalls.json"
    out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
