"""Where the relay's tail latency comes from: open-loop candidate relays at fixed rates (the
bench's `rate` job, 100 pairs), with each frame's arrival time kept, against servers that log
every garbage collection (gc.callbacks: when, which generation, how long). Each latency spike
is then attributed to a collection that was running while the frame was in flight, or not.

    .venv/bin/python bench/alternatives/p99.py [--reps 3] [--rates 2000,20000] [--variants ...]

Prints, per variant and rate: medians of p50/p99/p99.9 over the repetitions, the machine's
noise (other processes' CPU), collections per second and their pauses, and how many frames
above 1 ms were in flight during a collection. Writes results/p99.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))
import run  # noqa: E402
from servers import LOADGEN_CORE, Alternative, PeerServer, Server  # noqa: E402

VARIANTS: dict[str, tuple[str, list[str]]] = {
    # serve_aiohttp.py without --raw is parley.cli._serve with the bench's settings.
    "parley": ("serve_aiohttp.py", []),
    "parley-gc-off": ("serve_aiohttp.py", ["--gc", "off"]),
    "picows-raw": ("serve_picows.py", ["--raw"]),
    "picows-raw-gc-off": ("serve_picows.py", ["--raw", "--gc", "off"]),
}
SPIKE_NS = 1_000_000


def syscalls(pid: int) -> tuple[int, int]:
    """Read-like and write-like system calls the process made so far (/proc/PID/io). These
    count read()/write() (libuv, uvloop), not recv()/send(): aiofastnet's sockets show 0."""
    fields = dict(
        line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines() if line
    )
    return int(fields["syscr"]), int(fields["syscw"])


def start(name: str, stats: str) -> Server:
    if name == "peerserver":
        server: Server = PeerServer()
    else:
        script, args = VARIANTS[name]
        server = Alternative(name, script, [*args, "--gc-stats", stats])
    server.start()
    return server


def attribute(result: dict[str, Any], pauses: list[list[float]]) -> dict[str, Any]:
    """Spikes (> 1 ms) whose flight [sent, arrived] overlaps a collection's [start, end]."""
    latencies, arrivals = result["latencies_ns"], result["arrivals_ns"]
    window = [(int((end - took) * 1e9), int(end * 1e9), gen) for end, gen, took, _ in pauses]
    first, last = min(arrivals), max(arrivals)
    in_window = [(s, e, g) for s, e, g in window if first - 50_000_000 <= e <= last]
    spikes = gc_spikes = 0
    for latency, arrived in zip(latencies, arrivals, strict=True):
        if latency <= SPIKE_NS:
            continue
        spikes += 1
        sent = arrived - latency
        if any(s <= arrived and e >= sent for s, e, _ in in_window):
            gc_spikes += 1
    seconds = (last - first) / 1e9 or 1.0
    durations = [e - s for s, e, _ in in_window]
    return {
        "spikes_over_1ms": spikes,
        "spikes_during_gc": gc_spikes,
        "collections_per_s": len(in_window) / seconds,
        "collections_by_generation": {
            str(g): sum(1 for *_, gen in in_window if gen == g) for g in (0, 1, 2)
        },
        "gc_pause_max_ms": max(durations, default=0) / 1e6,
        "gc_pause_median_ms": statistics.median(durations) / 1e6 if durations else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rates", default="2000,20000")
    parser.add_argument("--variants", default="parley,parley-gc-off,picows-raw,peerserver")
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="run servers and load generators SCHED_FIFO (inherited from this process), so other "
        "processes on the cores cannot delay them: separates the server's own stalls from the "
        "neighbours'",
    )
    parser.add_argument("--output", default="")
    args = parser.parse_args()
    if args.realtime:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(50))
    output = args.output or str(
        BENCH / "results" / ("p99-realtime.json" if args.realtime else "p99.json")
    )
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.sched_setaffinity(0, {int(LOADGEN_CORE)})
    names = args.variants.split(",")
    rates = [int(r) for r in args.rates.split(",")]
    scratch = tempfile.mkdtemp(prefix="parley-p99-")
    raw: dict[str, dict[int, list[dict[str, Any]]]] = {n: {r: [] for r in rates} for n in names}
    for rep in range(args.reps):
        for name in names:
            stats = os.path.join(scratch, f"{name}-{rep}.json")
            server = start(name, stats)
            results = []
            try:
                for rate in rates:
                    job = {
                        "job": "relay",
                        "server": server.protocol,
                        "url": server.url,
                        "server_pid": server.pid,
                        "pairs": 100,
                        "kind": "candidate",
                        "mode": "rate",
                        "rate": rate,
                        "warmup": 1.0,
                        "duration": args.seconds,
                        "max_duration": args.seconds,
                        "timeline": True,
                    }
                    io0 = syscalls(server.pid)
                    result = run.run_measured(job, 20.0)
                    io1 = syscalls(server.pid)
                    # Every frame the server handled in the run (warm-up included, setup not).
                    frames = result["offered_per_s"] * (args.seconds + 1.0)
                    result["reads_per_msg"] = (io1[0] - io0[0]) / frames
                    result["writes_per_msg"] = (io1[1] - io0[1]) / frames
                    results.append((rate, result))
            finally:
                server.stop()
            pauses = json.loads(Path(stats).read_text()) if os.path.exists(stats) else []
            for rate, result in results:
                summary = {
                    "latency": result["latency"],
                    "server_cpu": result["server_cpu"],
                    "other_cpu": result["other_cpu"],
                    "loadgen_cpu": result["loadgen_cpu"],
                    "reads_per_msg": result["reads_per_msg"],
                    "writes_per_msg": result["writes_per_msg"],
                }
                if name != "peerserver":
                    summary.update(attribute(result, pauses))
                raw[name][rate].append(summary)
                lat = result["latency"]
                run.console.print(
                    f"  rep {rep + 1} {name:<18} {rate:>6}/s  p50 {lat['p50_ms']:.3f}  "
                    f"p99 {lat['p99_ms']:.3f}  p99.9 {lat['p999_ms']:.3f}  "
                    f"max {lat['max_ms']:.2f} ms  server {result['server_cpu']:.0%}  "
                    f"other {result['other_cpu']:.0%}  read/write calls per msg "
                    f"{result['reads_per_msg']:.2f}/{result['writes_per_msg']:.2f}"
                    + (
                        f"  gc {summary['collections_per_s']:.1f}/s max "
                        f"{summary['gc_pause_max_ms']:.2f} ms; spikes>1ms "
                        f"{summary['spikes_over_1ms']} ({summary['spikes_during_gc']} during gc)"
                        if "spikes_over_1ms" in summary
                        else ""
                    )
                )
    table = run.Table(title="Tail latency, medians over repetitions (open loop, 100 pairs)")
    for column in ("variant", "rate", "p50", "p99", "p99.9", "max", "other CPU max", "gc"):
        table.add_column(column)
    for name in names:
        for rate in rates:
            runs = raw[name][rate]

            def med(key: str, runs: list[dict[str, Any]] = runs) -> float:
                return float(statistics.median(r["latency"][key] for r in runs))

            gc_text = ""
            if "spikes_over_1ms" in runs[0]:
                gc_text = (
                    f"{statistics.median(r['collections_per_s'] for r in runs):.1f}/s, pause max "
                    f"{max(r['gc_pause_max_ms'] for r in runs):.2f} ms; spikes>1ms "
                    f"{sum(r['spikes_over_1ms'] for r in runs)}, "
                    f"{sum(r['spikes_during_gc'] for r in runs)} during gc"
                )
            table.add_row(
                name,
                f"{rate:,}",
                f"{med('p50_ms'):.3f}",
                f"{med('p99_ms'):.3f}",
                f"{med('p999_ms'):.3f}",
                f"{med('max_ms'):.2f}",
                f"{max(r['other_cpu'] for r in runs):.0%}",
                gc_text,
            )
    run.console.print(table)
    Path(output).write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
