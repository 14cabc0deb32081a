"""Parley's benchmark: `make bench` (or `.venv/bin/python bench/run.py [--quick]`).

Prints tables and the targets with PASS/MISS, and writes bench/results/latest.json. See
bench/README.md for what each figure means and how it is taken.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import surfaces
from jobs import LoadGen, open_and_hold, run_job
from servers import (
    BENCH,
    LOADGEN_CORE,
    ROOT,
    SERVER_CORE,
    Parley,
    ParleyCluster,
    PeerServer,
    Server,
    peerserver_available,
    peerserver_version,
    redis_available,
    redis_version,
)
from wakeup import print_wakeups, wakeups

RESULTS = BENCH / "results"
LOADGEN_SATURATED = 0.85  # share of its core above which the load generator may be the limit
# Cores used during a window by anything but the server and the load generator (other
# processes, and the host's steal time on a VM) above which a run is flagged.
NOISY = 0.15
console = Console(width=130)


# --- running the load generator ---------------------------------------------------------------


def busy_cores(seconds: float = 0.5) -> float:
    """How many cores the whole machine keeps busy, sampled over `seconds`."""

    def busy() -> float:
        ticks = [int(f) for f in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
        return float(sum(ticks) - ticks[3] - ticks[4])

    before = busy()
    time.sleep(seconds)
    return (busy() - before) / os.sysconf("SC_CLK_TCK") / seconds


def wait_for_quiet(max_wait: float) -> float:
    """On a shared machine: wait (bounded) until other processes (and, on a VM, the host's
    steal) leave the cores alone, so a run measures the server and not a neighbour. Returns the
    last busy sample."""
    deadline = time.monotonic() + max_wait
    load = busy_cores()
    while load > NOISY and time.monotonic() < deadline:
        load = busy_cores()
    return load


def run_measured(job: dict[str, Any], quiet_wait: float) -> dict[str, Any]:
    """A relay run, after waiting for a quiet machine; run once more when another process
    took CPU during it, keeping the quieter of the two."""
    best: dict[str, Any] | None = None
    for _ in range(2):
        wait_for_quiet(quiet_wait)
        result = run_job(job)
        if best is None or result["other_cpu"] < best["other_cpu"]:
            best = result
        if best["other_cpu"] <= NOISY:
            break
    assert best is not None
    return best


# --- scenarios --------------------------------------------------------------------------------


def median_of(runs: list[dict[str, Any]], get: Callable[[dict[str, Any]], float]) -> float:
    return float(statistics.median(get(r) for r in runs))


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary = {
        "delivered_per_s": median_of(runs, lambda r: r["delivered_per_s"]),
        "p50_ms": median_of(runs, lambda r: r["latency"]["p50_ms"]),
        "p99_ms": median_of(runs, lambda r: r["latency"]["p99_ms"]),
        "p999_ms": median_of(runs, lambda r: r["latency"]["p999_ms"]),
        "loadgen_cpu_max": max(r["loadgen_cpu"] for r in runs),
        "server_cpu": median_of(runs, lambda r: r["server_cpu"]),
        "other_cpu_max": max(r["other_cpu"] for r in runs),
        "steal_cpu_max": max(r.get("steal_cpu", 0.0) for r in runs),
        # Relays sent and never delivered (after the drain), frames that were not relays,
        # sockets the server closed: all 0 in a healthy run.
        "undelivered": sum(r.get("undelivered", 0) for r in runs),
        "reordered": sum(r.get("reordered", 0) for r in runs),
        "other_frames": sum(r.get("other_frames", 0) for r in runs),
        "closed_by_server": sum(r.get("closed_by_server", 0) for r in runs),
        "runs": runs,
    }
    if all("process_cpu" in r for r in runs):  # a server of several processes: each one's share
        summary["process_cpu"] = {
            name: float(statistics.median(r["process_cpu"][name] for r in runs))
            for name in runs[0]["process_cpu"]
        }
    return summary


RELAY_CASES = [
    ("max", "candidate", None),
    ("max", "sdp", None),
    ("rate", "candidate", 2000),
    ("rate", "candidate", 20000),
]
# Only when the Redis cluster is among the servers, and only for it and one Parley: a rate the
# cluster carries without queueing (at 2k msg/s its core is already full), for the latency of
# the trip through Redis itself.
REDIS_ONLY_CASES = [("rate", "candidate", 500)]


def relay(
    servers: list[Server], reps: int, seconds: float, pairs: int, quiet_wait: float
) -> dict[str, Any]:
    """Every case on every server, repeated; servers interleaved so drift hits both alike."""
    raw: dict[str, dict[str, list[dict[str, Any]]]] = {}
    clustered = any(isinstance(server, ParleyCluster) for server in servers)
    cases = [*RELAY_CASES[:2], *(REDIS_ONLY_CASES if clustered else []), *RELAY_CASES[2:]]
    for rep in range(reps):
        for mode, kind, rate in cases:
            case = f"{mode}-{kind}" + (f"-{rate}" if rate else "")
            for server in servers:
                if (mode, kind, rate) in REDIS_ONLY_CASES and server.name not in (
                    Parley.name,
                    ParleyCluster.name,
                ):
                    continue
                job = {
                    "job": "relay",
                    "server": server.protocol,
                    "url": server.url,
                    "server_pid": server.pid,
                    "pairs": pairs,
                    "kind": kind,
                    "mode": mode,
                    "rate": rate,
                    "warmup": 1.0,
                    "duration": seconds,
                    "max_duration": seconds,
                    "window": 4,
                    **server.relay_fields(),
                }
                # A cluster may still be applying what an overloaded run left in its log, on
                # the core every server runs on: the next run, whichever server's, waits.
                settled = sum(each.settle(60.0) for each in servers)
                result = run_measured(job, quiet_wait)
                if settled:
                    result["settled_before_s"] = settled
                raw.setdefault(case, {}).setdefault(server.name, []).append(result)
                lat = result["latency"]
                each = "".join(
                    f" {name} {share:.0%}" for name, share in result.get("process_cpu", {}).items()
                )
                problems = "".join(
                    f"  {key} {result[key]}"
                    for key in ("undelivered", "reordered", "other_frames", "closed_by_server")
                    if result.get(key)
                )
                console.print(
                    f"  rep {rep + 1}/{reps} {case:<22} {server.name:<12} "
                    f"{result['delivered_per_s']:>9,.0f} msg/s  p50 {lat['p50_ms']:.3f}  "
                    f"p99 {lat['p99_ms']:.3f} ms  loadgen {result['loadgen_cpu']:.0%}  "
                    f"server {result['server_cpu']:.0%}{each and ' (' + each.strip() + ')'}  "
                    f"other {result['other_cpu']:.0%} (steal {result.get('steal_cpu', 0):.0%})"
                    f"{problems}"
                )
    return {
        case: {name: summarize(runs) for name, runs in by_server.items()}
        for case, by_server in raw.items()
    }


def memory(make: Callable[[], Server], counts: list[int]) -> list[dict[str, Any]]:
    """RSS growth per idle connection: fresh server, warm-up, baseline, N connections, RSS."""
    rows = []
    for count in counts:
        with make() as server, tempfile.TemporaryDirectory() as scratch:
            warm = run_job(
                {
                    "job": "hold",
                    "server": server.protocol,
                    "url": server.url,
                    "server_pid": server.pid,
                    "count": 200,
                    "concurrency": 50,
                    "stop_file": "",
                    "max_hold": 0,
                }
            )
            time.sleep(1.0)
            base = server.rss_kib()
            stop = os.path.join(scratch, "stop")
            generators = open_and_hold(server, count, 200, stop)
            ready = [g.wait("ready", 300) for g in generators]
            time.sleep(2.0)
            rss = server.rss_kib()
            Path(stop).touch()
            for g in generators:
                g.wait("result", 60)
                g.kill()
            opened = sum(r["opened"] for r in ready)
            row = {
                "connections": count,
                "opened": opened,
                "failed": sum(r["failed"] for r in ready),
                "baseline_kib": base,
                "rss_kib": rss,
                "kib_per_connection": (rss - base) / max(1, opened),
                "loadgen_cpu_max": max(r["loadgen_cpu"] for r in ready),
                "warmup_opened": warm["opened"],
            }
            console.print(
                f"  {server.name:<10} {count:>6} idle: {opened} open, RSS {base} -> {rss} KiB, "
                f"{row['kib_per_connection']:.1f} KiB each"
            )
            rows.append(row)
    return rows


def storm(make: Callable[[], Server], count: int, concurrency: int) -> dict[str, Any]:
    """Worst relay latency between 5 pairs (200 msg/s) while `count` clients connect."""
    wait_for_quiet(20.0)
    with make() as server, tempfile.TemporaryDirectory() as scratch:
        probe_stop, storm_stop = os.path.join(scratch, "probe"), os.path.join(scratch, "storm")
        probe = LoadGen(
            {
                "job": "relay",
                "server": server.protocol,
                "url": server.url,
                "server_pid": server.pid,
                "pairs": 5,
                "kind": "candidate",
                "mode": "rate",
                "rate": 200,
                "warmup": 0.5,
                "max_duration": 120,
                "stop_file": probe_stop,
                "deadline": 200,
            }
        )
        try:
            probe.wait("ready", 30)
            time.sleep(1.0)
            generators = open_and_hold(server, count, concurrency, storm_stop, idle_priority=True)
            connected = [g.wait("ready", 300) for g in generators]
            time.sleep(0.5)
            Path(probe_stop).touch()
            result = probe.wait("result", 30)
            Path(storm_stop).touch()
            for g in generators:
                g.wait("result", 60)
                g.kill()
        finally:
            probe.kill()
    out = {
        "connections": count,
        "concurrency": concurrency,
        "opened": sum(c["opened"] for c in connected),
        "connect_per_s": sum(c["per_s"] for c in connected),
        "connect_p99_ms": max(c["connect"].get("p99_ms", 0) for c in connected),
        "probe": result["latency"],
        "probe_loadgen_cpu": result["loadgen_cpu"],
        "storm_loadgen_cpu": max(c["loadgen_cpu"] for c in connected),
        "other_cpu": result["other_cpu"],
        "steal_cpu": result.get("steal_cpu", 0.0),
    }
    console.print(
        f"  {server.name:<10} {out['opened']} connected at {out['connect_per_s']:,.0f}/s; probe "
        f"max {out['probe']['max_ms']:.2f} ms, p99 {out['probe']['p99_ms']:.3f} ms"
    )
    return out


def storms(
    servers: dict[str, Callable[[], Server]], reps: int, count: int, concurrency: int
) -> dict[str, dict[str, Any]]:
    """`reps` storms per server, servers interleaved. Each storm's worst latency is one
    sample (a single stall decides it), so the storm whose worst is the median stands for the
    server, as the relay rows report medians; every storm's worst is kept in `runs_max_ms`."""
    runs: dict[str, list[dict[str, Any]]] = {key: [] for key in servers}
    for _ in range(reps):
        for key, make in servers.items():
            runs[key].append(storm(make, count, concurrency))
    out = {}
    for key, done in runs.items():
        ordered = sorted(done, key=lambda run: run["probe"]["max_ms"])
        out[key] = {
            **ordered[(len(ordered) - 1) // 2],
            "runs_max_ms": [run["probe"]["max_ms"] for run in done],
            "runs_p99_ms": [run["probe"]["p99_ms"] for run in done],
        }
    return out


def invites(pairs: int, calls: int) -> dict[str, Any]:
    wait_for_quiet(20.0)
    with Parley() as server:
        result = run_job(
            {
                "job": "invites",
                "url": server.url,
                "server_pid": server.pid,
                "pairs": pairs,
                "calls_per_pair": calls,
            },
            timeout=240,
        )
    console.print(
        f"  invite -> incoming-call p50 {result['to_callee']['p50_ms']:.3f} ms, "
        f"p99 {result['to_callee']['p99_ms']:.3f} ms ({result['to_callee']['count']} calls)"
    )
    return result


def browser(reps: int) -> dict[str, Any]:
    if not Path("/usr/bin/chromium").exists():
        return {"skipped": "Chromium (/usr/bin/chromium) not installed"}
    if os.geteuid() != 0:
        return {"skipped": "needs root for a private network namespace"}
    wait_for_quiet(20.0)
    out = subprocess.run(
        [sys.executable, str(BENCH / "browser_setup.py"), str(reps)],
        capture_output=True,
        text=True,
        timeout=60 + 30 * reps,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"skipped": f"failed: {out.stderr.strip()[-400:]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    console.print(
        f"  accept -> ICE connected {result['parley']['ice_ms']} ms (bound "
        f"{result['bound']['ice_ms']}), first frame {result['parley']['frame_ms']} ms "
        f"(bound {result['bound']['frame_ms']})"
    )
    late = result["parley"].get("callee_camera_after_click", 0)
    if late:
        console.print(
            f"  [red]in {late} of {reps} calls the callee's camera opened after the click: "
            "those calls are not comparable with the bound[/red]"
        )
    return result


REDIS_PINNING = (
    f"both Parley nodes and redis-server on core {SERVER_CORE} (the one core a single Parley "
    f"gets), the load generator on core {LOADGEN_CORE}"
)


def relay_servers(
    stack: contextlib.ExitStack, peerserver: bool, cluster: bool
) -> tuple[list[Server], dict[str, Any]]:
    """One Parley, PeerServer if wanted, and the Redis cluster if wanted and redis-server is
    there; all started (and stopped by `stack`). Also what redis_relay() needs to know."""
    servers: list[Server] = [stack.enter_context(Parley())]
    if peerserver:
        servers.append(stack.enter_context(PeerServer()))
    why_not = redis_available() if cluster else "not asked for"
    if why_not:
        return servers, {"skipped": f"n/a ({why_not})"}
    servers.append(stack.enter_context(ParleyCluster()))
    setup = {
        "nodes": 2,
        "redis": redis_version(),
        "redis_options": '--save "" --appendonly no, 127.0.0.1, a free port',
        "pairs": "each pair's first member on node A, its second on node B",
        "pinning": REDIS_PINNING,
    }
    return servers, setup


def redis_relay(relay_results: dict[str, Any], setup: dict[str, Any]) -> dict[str, Any]:
    """Relay across two Parley processes joined by Redis, against one Parley process.

    The cluster (`servers.ParleyCluster`: Debian's redis-server on a free loopback port without
    persistence, two `parley serve --redis-url` with one PARLEY_SECRET) is one more server in
    relay(), interleaved with the single Parley in every repetition: the same cases (max-rate
    candidates and SDPs, 2k and 20k msg/s), the same 100 pairs, with each pair's members on
    different nodes, so every relayed message goes node A -> Redis -> node B (or back). Both
    nodes and Redis share the server core. Returns, per case, both medians and the ratio
    (two processes / one)."""
    if "skipped" in setup:
        return setup
    keys = ("delivered_per_s", "p50_ms", "p99_ms", "p999_ms")
    cases: dict[str, Any] = {}
    for case, by_server in relay_results.items():
        two, one = by_server.get(ParleyCluster.name), by_server.get(Parley.name)
        if two is None:
            continue
        brief = ("server_cpu", "loadgen_cpu_max", "other_cpu_max", "steal_cpu_max")
        cases[case] = {
            "two_processes": {
                **{k: two[k] for k in (*keys, *brief)},
                "process_cpu": two.get("process_cpu", {}),
                "undelivered": two["undelivered"],
                "reordered": two["reordered"],
                "other_frames": two["other_frames"],
                "closed_by_server": two["closed_by_server"],
            },
            "one_process": one and {k: one[k] for k in (*keys, *brief)},
            "two_over_one": {k: ratio(two[k], one and one[k]) for k in keys},
        }
    return {**setup, "cases": cases}


def profile(seconds: float) -> dict[str, Any]:
    """py-spy on the server during max-rate candidate relays: once for the collapsed stacks
    (summarized into results/profile.md), once for a flame graph (results/profile.svg). The
    sampler costs CPU: these runs' figures are not used elsewhere."""
    py_spy = Path(sys.executable).parent / "py-spy"
    if not py_spy.exists():
        return {"skipped": "py-spy not installed"}
    raw, svg = RESULTS / "profile.raw", RESULTS / "profile.svg"
    rates = []
    for fmt_name, output in (("raw", raw), ("flamegraph", svg)):
        with Parley() as server:
            spy = subprocess.Popen(
                [
                    str(py_spy),
                    "record",
                    "--pid",
                    str(server.pid),
                    "--duration",
                    str(int(seconds)),
                    "--rate",
                    "250",
                    "--format",
                    fmt_name,
                    "--output",
                    str(output),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(0.5)
            job = {
                "job": "relay",
                "server": "parley",
                "url": server.url,
                "server_pid": server.pid,
                "pairs": 100,
                "kind": "candidate",
                "mode": "max",
                "warmup": 0.5,
                "duration": seconds + 1,
                "window": 4,
            }
            rates.append(run_job(job)["delivered_per_s"])
            spy.wait(timeout=60)
    summary = summarize_stacks(raw)
    (RESULTS / "profile.md").write_text(summary["markdown"], encoding="utf-8")
    return {"relay_per_s_while_sampled": rates, "top_self": summary["top_self"][:15]}


def summarize_stacks(raw: Path) -> dict[str, Any]:
    """Self and inclusive sample shares per function, from py-spy's collapsed stacks."""
    self_counts: dict[str, int] = {}
    incl_counts: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        # "function (path/file.py:line)" -> "function (file.py)": one entry per function
        frames = []
        for frame in stack.split(";"):
            name, _, where = frame.partition(" (")
            frames.append(f"{name} ({Path(where.split(':')[0]).name})" if where else name)
        total += count
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + count
        for frame in set(frames):
            incl_counts[frame] = incl_counts.get(frame, 0) + count

    def top(counts: dict[str, int], n: int) -> list[tuple[str, float]]:
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:n]
        return [(name, count / max(1, total)) for name, count in ranked]

    top_self, top_incl = top(self_counts, 30), top(incl_counts, 45)
    lines = [f"# Parley relay hot path (py-spy, {total} samples)", "", "## Self time", ""]
    lines += [f"- {share:6.1%}  {name}" for name, share in top_self]
    lines += ["", "## Inclusive time", ""]
    lines += [f"- {share:6.1%}  {name}" for name, share in top_incl]
    return {"top_self": top_self, "top_inclusive": top_incl, "markdown": "\n".join(lines) + "\n"}


# --- report -----------------------------------------------------------------------------------


def fmt(value: float | None, spec: str = ".3f", unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def field(result: dict[str, Any] | None, key: str) -> float | None:
    """`result[key]`, or None when there is no result (a server that was skipped)."""
    value = result[key] if result else None
    return None if value is None else float(value)


def flags_for(summary: dict[str, Any] | None, offered: float | None = None) -> str:
    if summary is None:
        return ""
    flags = []
    if summary["loadgen_cpu_max"] > LOADGEN_SATURATED:
        flags.append("LOADGEN SATURATED")
    if summary["other_cpu_max"] > NOISY:
        steal = summary.get("steal_cpu_max", 0.0)
        flags.append(f"noisy (others {summary['other_cpu_max']:.0%}, host steal {steal:.0%})")
    if offered and summary["delivered_per_s"] < 0.97 * offered:
        flags.append("server fell behind")
    return ", ".join(flags)


def redis_brief(redis: dict[str, Any]) -> str:
    """One line for the main table: the cluster's candidates throughput and p99 at 2k."""
    parts = []
    top = redis["cases"].get("max-candidate")
    if top:
        parts.append(
            f"{top['two_processes']['delivered_per_s']:,.0f} msg/s "
            f"({fmt(top['two_over_one']['delivered_per_s'], '.2f', 'x')} of 1 process)"
        )
    low = redis["cases"].get("rate-candidate-2000")
    if low:
        parts.append(
            f"p99 at 2k {low['two_processes']['p99_ms']:.3f} ms "
            f"({fmt(low['two_over_one']['p99_ms'], '.2f', 'x')})"
        )
    return "; ".join(parts) + ": see the next table"


def redis_table(redis: dict[str, Any]) -> None:
    table = Table(
        title="Relay across two Parley processes joined by Redis: 100 room pairs, each pair's "
        f"members on different nodes; {redis['pinning']} (medians of repetitions)"
    )
    for column in (
        "measure",
        "1 process",
        "2 processes + Redis",
        "2 / 1",
        "server CPU: 1 process / 2 (node A + node B + Redis)",
        "load-gen CPU (1 / 2, max)",
        "flags",
    ):
        table.add_column(column)

    def cpu_cell(case: dict[str, Any]) -> str:
        one, two = case["one_process"], case["two_processes"]
        each = " + ".join(f"{share:.0%}" for share in two["process_cpu"].values())
        return f"{fmt(one and one['server_cpu'], '.0%')} / {two['server_cpu']:.0%} ({each})"

    def flags(case: dict[str, Any], offered: float | None) -> str:
        two = case["two_processes"]
        found = [flags_for(two, offered)]
        for key, label in (
            ("undelivered", "relays never delivered (negative: duplicates)"),
            ("reordered", "relays out of order"),
            ("other_frames", "non-relay frames"),
            ("closed_by_server", "sockets closed by server"),
        ):
            if two[key]:
                found.append(f"{two[key]} {label}")
        return ", ".join(filter(None, found))

    rows: list[tuple[str, str, str, float | None]] = [
        ("max-candidate", "throughput, ~260-B candidates (msg/s)", "delivered_per_s", None),
        ("max-sdp", "throughput, ~4.4-KB SDP offers (msg/s)", "delivered_per_s", None),
    ]
    for rate in (500, 2000, 20000):
        for key, label in (("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9")):
            rows.append(
                (
                    f"rate-candidate-{rate}",
                    f"latency {label} at {rate:,} msg/s (ms)",
                    key,
                    float(rate),
                )
            )
    for case_name, label, key, offered in rows:
        case = redis["cases"].get(case_name)
        if case is None:
            continue
        one, two = case["one_process"], case["two_processes"]
        spec = ",.0f" if key == "delivered_per_s" else ".3f"
        first = key in ("delivered_per_s", "p50_ms")
        table.add_row(
            label,
            fmt(one and one[key], spec),
            fmt(two[key], spec),
            fmt(case["two_over_one"][key], ".2f", "x"),
            cpu_cell(case) if first else "",
            f"{fmt(one and one['loadgen_cpu_max'], '.0%')} / {two['loadgen_cpu_max']:.0%}"
            if first
            else "",
            flags(case, offered) if first else "",
        )
    console.print(table)


def report(results: dict[str, Any]) -> list[dict[str, Any]]:
    relay_results = results["relay"]
    has_peer = "peerserver_skipped" not in results

    def cpus(p: dict[str, Any] | None, s: dict[str, Any] | None) -> str:
        return (
            f"{fmt(field(p, 'loadgen_cpu_max'), '.0%')} / {fmt(field(s, 'loadgen_cpu_max'), '.0%')}"
        )

    def get(case: str, name: str) -> dict[str, Any] | None:
        by_server: dict[str, Any] | None = relay_results.get(case)
        return by_server.get(name) if by_server else None

    table = Table(
        title="Signaling relay: 100 room pairs, both directions, server on core 0, "
        "load generator on core 1 (medians of repetitions)"
    )
    for column in (
        "measure",
        "Parley",
        "PeerServer",
        "Parley/PeerServer",
        "load-gen CPU (P / S, max)",
        "flags",
    ):
        table.add_column(column)
    rows = [
        ("max-candidate", "throughput, ~260-B candidates (msg/s)", "delivered_per_s", ",.0f", None),
        ("max-sdp", "throughput, ~4.4-KB SDP offers (msg/s)", "delivered_per_s", ",.0f", None),
    ]
    for case, label, key, spec, _ in rows:
        p, s = get(case, "parley"), get(case, "peerserver")
        table.add_row(
            label,
            fmt(field(p, key), spec),
            fmt(field(s, key), spec),
            fmt(ratio(field(p, key), field(s, key)), ".2f", "x"),
            cpus(p, s),
            "; ".join(filter(None, [flags_for(p), flags_for(s)])),
        )
    for rate in (2000, 20000):
        case = f"rate-candidate-{rate}"
        p, s = get(case, "parley"), get(case, "peerserver")
        for key, label in (("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9")):
            table.add_row(
                f"latency {label} at {rate // 1000}k msg/s (ms)",
                fmt(field(p, key)),
                fmt(field(s, key)),
                fmt(ratio(field(p, key), field(s, key)), ".2f", "x"),
                cpus(p, s) if key == "p50_ms" else "",
                "; ".join(filter(None, [flags_for(p, rate), flags_for(s, rate)]))
                if key == "p50_ms"
                else "",
            )
    redis = results["redis"]
    if "skipped" in redis:
        table.add_row("relay across two processes (Redis)", redis["skipped"], "", "", "", "")
    else:
        table.add_row("relay across two processes (Redis)", redis_brief(redis), "", "", "", "")
    console.print(table)
    if "skipped" not in redis:
        redis_table(redis)

    mem = Table(title="Server RSS per idle connection (hello answered; fresh server for each N)")
    for column in (
        "connections",
        "Parley KiB/conn",
        "PeerServer KiB/conn",
        "Parley RSS MiB",
        "PeerServer RSS MiB",
    ):
        mem.add_column(column)
    peer_mem = {row["connections"]: row for row in results.get("memory_peerserver", [])}
    for row in results["memory_parley"]:
        other = peer_mem.get(row["connections"])
        mem.add_row(
            f"{row['connections']:,}"
            + ("" if row["opened"] == row["connections"] else f" ({row['opened']:,} opened)"),
            f"{row['kib_per_connection']:.1f}",
            fmt(other and other["kib_per_connection"], ".1f"),
            f"{row['rss_kib'] / 1024:.0f}",
            fmt(other and other["rss_kib"] / 1024, ".0f"),
        )
    console.print(mem)

    other = Table(title="Connection storm, direct calls, browser call set-up")
    for column in ("measure", "Parley", "PeerServer / bound", "ratio"):
        other.add_column(column)
    st, stp = results["storm_parley"], results.get("storm_peerserver")
    other.add_row(
        f"worst relay latency while {st['connections']:,} clients connect "
        f"({st['concurrency']} at a time) (ms)",
        f"{st['probe']['max_ms']:.2f} (p99 {st['probe']['p99_ms']:.2f})",
        fmt(stp and stp["probe"]["max_ms"], ".2f"),
        fmt(ratio(st["probe"]["max_ms"], stp and stp["probe"]["max_ms"]), ".2f", "x"),
    )
    if len(st.get("runs_max_ms", [])) > 1:
        other.add_row(
            "  each storm's worst (median above)",
            " / ".join(f"{ms:.1f}" for ms in st["runs_max_ms"]),
            " / ".join(f"{ms:.1f}" for ms in stp["runs_max_ms"]) if stp else "",
            "",
        )
    other.add_row(
        "  connects per second during the storm",
        f"{st['connect_per_s']:,.0f}",
        fmt(stp and stp["connect_per_s"], ",.0f"),
        "",
    )
    inv = results["invites"]["to_callee"]
    other.add_row(
        "invite -> callee ringing p50 / p99 (ms)",
        f"{inv['p50_ms']:.3f} / {inv['p99_ms']:.3f}",
        "",
        "",
    )
    br = results["browser"]
    if "skipped" in br:
        other.add_row("call set-up in Chromium", br["skipped"], "", "")
    else:
        for key, label in (("ice_ms", "ICE connected"), ("frame_ms", "first remote video frame")):
            p, b = br["parley"][key], br["bound"][key]
            other.add_row(
                f"accept -> {label} (ms), vs in-page bound",
                fmt(p, ".0f"),
                fmt(b, ".0f"),
                fmt(ratio(p, b), ".2f", "x"),
            )
    console.print(other)

    targets = []

    def target(name: str, measured: str, ok: bool | None) -> None:
        targets.append(
            {
                "target": name,
                "measured": measured,
                "verdict": "n/a" if ok is None else ("PASS" if ok else "MISS"),
            }
        )

    for case, label in (("max-candidate", "candidates"), ("max-sdp", "4-KB SDPs")):
        p, s = get(case, "parley"), get(case, "peerserver")
        r = ratio(field(p, "delivered_per_s"), field(s, "delivered_per_s")) if has_peer else None
        target(
            f"relay throughput >= 1.5x PeerServer ({label})",
            fmt(r, ".2f", "x"),
            None if r is None else r >= 1.5,
        )
    p, s = get("rate-candidate-2000", "parley"), get("rate-candidate-2000", "peerserver")
    r = ratio(field(p, "p99_ms"), field(s, "p99_ms")) if has_peer else None
    target(
        "p99 at 2k msg/s <= 1.1x PeerServer's",
        f"{fmt(r, '.2f', 'x')} ({fmt(field(p, 'p99_ms'))} vs {fmt(field(s, 'p99_ms'))} ms)",
        None if r is None else r <= 1.1,
    )
    p = get("rate-candidate-20000", "parley")
    target(
        "p99 at 20k msg/s <= 1 ms",
        fmt(field(p, "p99_ms"), ".3f", " ms"),
        None if p is None else p["p99_ms"] <= 1.0,
    )
    target(
        f"worst latency <= 10 ms while {st['connections']:,} clients connect",
        f"{st['probe']['max_ms']:.2f} ms",
        st["probe"]["max_ms"] <= 10.0,
    )
    worst = max(row["kib_per_connection"] for row in results["memory_parley"])
    per_n = ", ".join(f"{row['kib_per_connection']:.1f}" for row in results["memory_parley"])
    target(
        "<= 12 KB RSS per idle connection (every N)",
        f"{worst:.1f} KiB ({per_n})",
        worst * 1024 <= 12_000,
    )
    churn = results.get("presence_churn")
    if churn:
        r = surfaces.churn_ratio(churn)
        rates = ", ".join(f"{row['online']}: {row['cycles_per_s']:.0f}/s" for row in churn)
        target(
            f"sign-in churn with {churn[-1]['online']:,} online >= 1/3 the rate at 0",
            f"{fmt(r, '.2f', 'x')} ({rates})",
            None if r is None else r >= 1 / 3,
        )
    padded = results.get("padded_relay")
    if padded:
        target(
            "padded relays to a session away grow the server <= 1 MiB",
            f"{padded['growth_kib']:+d} KiB for {padded['sent_mib']:.0f} MiB sent",
            padded["growth_kib"] <= 1024,
        )
    if "skipped" in br:
        target("call set-up (accept -> ICE connected) <= 1.3x bound", br["skipped"], None)
        target("call set-up (accept -> first frame) <= 1.05x bound", br["skipped"], None)
    else:
        for key, label, limit in (
            ("ice_ms", "ICE connected", 1.3),
            ("frame_ms", "first frame", 1.05),
        ):
            r = ratio(br["parley"][key], br["bound"][key])
            target(
                f"call set-up (accept -> {label}) <= {limit}x in-page bound",
                f"{fmt(r, '.2f', 'x')} ({fmt(br['parley'][key], '.0f')} vs "
                f"{fmt(br['bound'][key], '.0f')} ms)",
                None if r is None else r <= limit,
            )
    tt = Table(title="Targets")
    for column in ("target", "measured", "verdict"):
        tt.add_column(column)
    for t in targets:
        style = {"PASS": "green", "MISS": "red"}.get(t["verdict"], "yellow")
        tt.add_row(t["target"], t["measured"], f"[{style}]{t['verdict']}[/{style}]")
    console.print(tt)
    wakeup = results["environment"].get("wakeup")
    if wakeup:
        # The floor under the latency rows: no server here answers faster than it is woken.
        console.print("The machine, waking a thread that waits for data on the server's core:")
        print_wakeups(wakeup, console.print)
    return targets


# --- main -------------------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "commit": commit,
        "src_uncommitted_changes": bool(dirty),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, shorter runs")
    parser.add_argument(
        "--profile", action="store_true", help="only profile Parley's relay hot path with py-spy"
    )
    parser.add_argument(
        "--only",
        choices=["redis"],
        help="redis: only the relay across two Parley processes joined by Redis, interleaved "
        "with one Parley process (writes results/redis.json unless --output says otherwise)",
    )
    parser.add_argument("--output", default=str(RESULTS / "latest.json"))
    args = parser.parse_args()

    if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        sys.exit("the bench needs taskset and two cores (server on one, load on the other)")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # servers inherit it
    os.sched_setaffinity(0, {int(LOADGEN_CORE)})  # this process idles on the load core
    RESULTS.mkdir(exist_ok=True)

    if args.profile:
        result = profile(10.0)
        console.print(result)
        return

    quick = args.quick
    reps = 1 if quick else 3
    seconds = 2.0 if quick else 5.0
    quiet_wait = 5.0 if quick else 20.0

    if args.only == "redis":
        why_not = redis_available()
        if why_not:
            sys.exit(why_not)
        started = time.monotonic()
        results: dict[str, Any] = {
            "environment": environment(),
            "quick": quick,
            "reps": reps,
            "seconds_per_run": seconds,
        }
        console.rule("relay across two processes joined by Redis, and one process")
        with contextlib.ExitStack() as stack:
            servers, setup = relay_servers(stack, peerserver=False, cluster=True)
            results["relay"] = relay(servers, reps, seconds, 100, quiet_wait)
        results["redis"] = redis_relay(results["relay"], setup)
        console.rule("results")
        redis_table(results["redis"])
        output = Path(args.output)
        if output == RESULTS / "latest.json":
            output = RESULTS / "redis.json"
        results["elapsed_s"] = time.monotonic() - started
        output.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        console.print(f"wrote {os.path.relpath(output, ROOT)} in {results['elapsed_s']:.0f} s")
        return

    # The fd hard limit here is 20000 for each process; the server needs a few for itself.
    top = min(20_000, hard - 100)
    counts = [1_000, 5_000] if quick else [1_000, 5_000, top]
    started = time.monotonic()
    results = {
        "environment": environment(),
        "quick": quick,
        "reps": reps,
        "seconds_per_run": seconds,
    }

    why_not = peerserver_available()
    if why_not:
        results["peerserver_skipped"] = why_not
        console.print(f"[yellow]PeerServer skipped: {why_not}[/yellow]")
    else:
        results["environment"]["peerserver"] = peerserver_version()

    console.rule("the machine: waking a thread that waits for data on the server's core")
    wait_for_quiet(quiet_wait)
    results["environment"]["wakeup"] = wakeups(2_000 if quick else 3_000)
    print_wakeups(results["environment"]["wakeup"], console.print)

    console.rule("relay throughput and latency (and across two processes joined by Redis)")
    with contextlib.ExitStack() as stack:
        servers, redis_setup = relay_servers(stack, peerserver=not why_not, cluster=True)
        results["relay"] = relay(servers, reps, seconds, 100, quiet_wait)
    results["redis"] = redis_relay(results["relay"], redis_setup)

    console.rule("memory per idle connection")
    results["memory_parley"] = memory(Parley, counts)
    if not why_not:
        results["memory_peerserver"] = memory(PeerServer, counts)

    console.rule("outward surfaces: presence churn, padded relays (bench/surfaces.py)")
    results["presence_churn"] = surfaces.presence_churn()
    results["padded_relay"] = surfaces.padded_relay_memory()

    console.rule("worst latency during a connection storm")
    storm_servers: dict[str, Callable[[], Server]] = {"storm_parley": Parley}
    if not why_not:
        storm_servers["storm_peerserver"] = PeerServer
    results.update(storms(storm_servers, 1 if quick else 3, 5_000, 100))

    console.rule("direct call: invite -> ringing")
    results["invites"] = invites(10 if quick else 40, 3 if quick else 10)

    console.rule("call set-up in Chromium")
    results["browser"] = browser(2 if quick else 11)

    console.rule("results")
    results["targets"] = report(results)
    results["elapsed_s"] = time.monotonic() - started
    Path(args.output).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    console.print(f"wrote {os.path.relpath(args.output, ROOT)} in {results['elapsed_s']:.0f} s")


if __name__ == "__main__":
    main()
