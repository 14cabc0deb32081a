"""`bench/run.py --alternatives`: the relay cases, memory per idle connection and the connection
storm for Parley as it is, each prototype in bench/alternatives/, and PeerServer; servers
interleaved within each repetition, pinned and measured exactly as bench/run.py does (the same
functions: run_measured, memory, storm; one storm per server here, where the main bench runs
three and reports the median). Writes results/alternatives.json.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import run
from rich.table import Table
from servers import Alternative, Parley, PeerServer, Server, peerserver_available

VARIANTS: dict[str, tuple[str, Callable[[], Server]]] = {
    "parley": ("parley serve as it is (aiohttp, typed decode + re-encode)", lambda: Parley()),
    "aiohttp-raw": (
        "same, relays decoded for routing fields only (msgspec Raw), `from`/`seq` spliced",
        lambda: Alternative("aiohttp-raw", "serve_aiohttp.py", ["--raw"]),
    ),
    "picows": (
        "picows server on uvloop, Parley's Hub and core unchanged",
        lambda: Alternative("picows", "serve_picows.py", []),
    ),
    "picows-raw": (
        "picows + the routing-fields-only relay",
        lambda: Alternative("picows-raw", "serve_picows.py", ["--raw"]),
    ),
    "picows-uvloop": (
        "picows on uvloop's own TCP transport, Parley's Hub and core unchanged",
        lambda: Alternative("picows-uvloop", "serve_picows.py", ["--transport", "uvloop"]),
    ),
    "picows-raw-uvloop": (
        "picows-raw on uvloop's own TCP transport (picows 2.3 otherwise uses aiofastnet's)",
        lambda: Alternative(
            "picows-raw-uvloop", "serve_picows.py", ["--raw", "--transport", "uvloop"]
        ),
    ),
    # For the p99 investigation: the collector off (not a deployable setting).
    "parley-gc-off": (
        "aiohttp Parley with gc.disable() after start-up",
        lambda: Alternative("parley-gc-off", "serve_aiohttp.py", ["--gc", "off"]),
    ),
    "picows-raw-gc-off": (
        "picows-raw with gc.disable() after start-up",
        lambda: Alternative("picows-raw-gc-off", "serve_picows.py", ["--raw", "--gc", "off"]),
    ),
    "peerserver": ("PeerServer 1.0.2 on Node", lambda: PeerServer()),
}
DEFAULT = ["parley", "aiohttp-raw", "picows", "picows-raw", "picows-raw-uvloop", "peerserver"]


def compare(
    names: list[str], reps: int, seconds: float, counts: list[int], storm: bool
) -> dict[str, Any]:
    why_not = peerserver_available()
    if why_not and "peerserver" in names:
        run.console.print(f"[yellow]PeerServer skipped: {why_not}[/yellow]")
        names = [n for n in names if n != "peerserver"]
    results: dict[str, Any] = {
        "environment": run.environment(),
        "variants": {n: VARIANTS[n][0] for n in names},
        "reps": reps,
        "seconds_per_run": seconds,
    }
    started = time.monotonic()
    run.console.rule("alternatives: relay (servers interleaved)")
    servers = [VARIANTS[n][1]() for n in names]
    try:
        for server in servers:
            server.start()
        results["relay"] = run.relay(servers, reps, seconds, 100, 20.0)
    finally:
        for server in servers:
            server.stop()
    run.console.rule("alternatives: memory per idle connection")
    results["memory"] = {n: run.memory(VARIANTS[n][1], counts) for n in names}
    if storm:
        run.console.rule("alternatives: worst relay latency while 5,000 clients connect")
        results["storm"] = {n: run.storm(VARIANTS[n][1], 5_000, 100) for n in names}
    results["elapsed_s"] = time.monotonic() - started
    return results


def table(results: dict[str, Any]) -> None:
    names = list(results["variants"])
    relay = results["relay"]
    t = Table(title=f"Alternatives: medians of {results['reps']} (server core 0, load core 1)")
    t.add_column("measure")
    for n in names:
        t.add_column(n, justify="right")

    def cell(case: str, name: str, key: str, spec: str) -> str:
        s = relay.get(case, {}).get(name)
        if s is None:
            return "n/a"
        text = f"{s[key]:{spec}}"
        if s["other_cpu_max"] > run.NOISY and key in ("delivered_per_s", "p99_ms"):
            text += "*"
        return text

    def quiet(case: str, name: str, key: str, spec: str) -> str:
        """The median over the repetitions no other process disturbed (other CPU <= 15%)."""
        s = relay.get(case, {}).get(name)
        runs = [r for r in (s or {}).get("runs", []) if r["other_cpu"] <= run.NOISY]
        if not runs:
            return "-"
        get = (lambda r: r["latency"][key]) if key.endswith("_ms") else (lambda r: r[key])
        return f"{statistics.median(get(r) for r in runs):{spec}} ({len(runs)})"

    rows = [
        ("max-candidate", "delivered_per_s", ",.0f", "candidates relayed (msg/s)"),
        ("max-sdp", "delivered_per_s", ",.0f", "4.4-KB SDP offers relayed (msg/s)"),
        ("rate-candidate-2000", "p50_ms", ".3f", "p50 at 2k msg/s (ms)"),
        ("rate-candidate-2000", "p99_ms", ".3f", "p99 at 2k msg/s (ms)"),
        ("rate-candidate-2000", "p999_ms", ".3f", "p99.9 at 2k msg/s (ms)"),
        ("rate-candidate-2000", "server_cpu", ".0%", "server CPU at 2k msg/s"),
        ("rate-candidate-20000", "p50_ms", ".3f", "p50 at 20k msg/s (ms)"),
        ("rate-candidate-20000", "p99_ms", ".3f", "p99 at 20k msg/s (ms)"),
        ("rate-candidate-20000", "server_cpu", ".0%", "server CPU at 20k msg/s"),
    ]
    for case, key, spec, label in rows:
        t.add_row(label, *(cell(case, n, key, spec) for n in names))
        if key in ("delivered_per_s", "p99_ms"):
            t.add_row("  quiet reps only (n)", *(quiet(case, n, key, spec) for n in names))
    peer = relay.get("max-candidate", {}).get("peerserver")
    if peer:
        for case, label in (("max-candidate", "candidates"), ("max-sdp", "SDPs")):
            base = relay[case]["peerserver"]["delivered_per_s"]
            t.add_row(
                f"throughput / PeerServer ({label})",
                *(f"{relay[case][n]['delivered_per_s'] / base:.2f}x" for n in names),
            )
    for row_index in range(len(next(iter(results["memory"].values())))):
        count = next(iter(results["memory"].values()))[row_index]["connections"]
        t.add_row(
            f"KiB per idle connection, {count:,}",
            *(f"{results['memory'][n][row_index]['kib_per_connection']:.1f}" for n in names),
        )
    if "storm" in results:
        t.add_row(
            "worst relay latency, 5k connecting (ms)",
            *(f"{results['storm'][n]['probe']['max_ms']:.2f}" for n in names),
        )
        t.add_row(
            "  connects/s during the storm",
            *(f"{results['storm'][n]['connect_per_s']:,.0f}" for n in names),
        )
    t.add_row(
        "other processes' CPU, max over runs",
        *(f"{max(relay[c][n]['other_cpu_max'] for c in relay):.0%}" for n in names),
    )
    t.add_row(
        "load generator CPU, max over runs",
        *(f"{max(relay[c][n]['loadgen_cpu_max'] for c in relay):.0%}" for n in names),
    )
    run.console.print(t)
    run.console.print("* a repetition had other processes above 15% of a core (noisy)")
    for n in names:
        run.console.print(f"  {n}: {results['variants'][n]}")


def main(quick: bool, names: list[str] | None, output: Path, storm: bool = True) -> None:
    reps, seconds = (1, 2.0) if quick else (3, 5.0)
    results = compare(names or DEFAULT, reps, seconds, [1_000, 5_000], storm)
    output.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    table(results)
    run.console.print(f"wrote {output} in {results['elapsed_s']:.0f} s")
