"""What the server's outward surfaces cost under abuse, for `make bench` (run.py):

- presence churn: connect, sign in online for calls, close, over and over, with 0, 1,000 and
  5,000 users online. Target: at 5,000 online at least 1/3 of the cycles a second at 0 (each
  sign-in once told every online user, and each welcome listed them all).
- padded relays: one client relays candidates padded to 60 KB with unknown fields to another
  session, whose replay log keeps its last 320 messages; the server's memory must stay near
  the log's 256 KiB cap (it once grew by ~19 MiB).

Run alone: `python bench/surfaces.py` (prints the figures, writes nothing).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jobs import open_and_hold, run_job
from loadgen import proc_cpu_seconds
from servers import Parley

ONLINE_COUNTS = (0, 1000, 5000)
CHURN_SECONDS = 8.0
PRESENCE_HELLO = {"type": "hello", "v": 1, "name": "Online", "presence": True}


def presence_churn(counts: tuple[int, ...] = ONLINE_COUNTS) -> list[dict[str, Any]]:
    rows = []
    for online in counts:
        with Parley() as server, tempfile.TemporaryDirectory() as scratch:
            stop = os.path.join(scratch, "stop")
            holders = (
                open_and_hold(server, online, 200, stop, hello=PRESENCE_HELLO) if online else []
            )
            ready = [h.wait("ready", 300) for h in holders]
            # N users coming online at once are N news for N watchers: let the server tell
            # them all before the churn is measured (the login storm is not what is measured).
            settled = settle(server.pid)
            result = run_job(
                {
                    "job": "churn",
                    "url": server.url,
                    "server_pid": server.pid,
                    "seconds": CHURN_SECONDS,
                    "deadline": CHURN_SECONDS + 60,
                },
                timeout=CHURN_SECONDS + 90,
            )
            Path(stop).touch()
            for holder in holders:
                holder.wait("result", 60)
                holder.kill()
            row = {
                "online": sum(r["opened"] for r in ready),
                "cycles_per_s": result["per_s"],
                "server_ms_per_cycle": result["server_ms_per_cycle"],
                "steal_cpu": result["steal_cpu"],
                "settle_s": settled,
            }
            print(
                f"  presence churn with {row['online']:>5} online: "
                f"{row['cycles_per_s']:.0f} cycles/s, {row['server_ms_per_cycle']:.2f} ms "
                f"server CPU each (steal {row['steal_cpu']:.0%})",
                flush=True,
            )
            rows.append(row)
    return rows


def settle(pid: int, max_wait: float = 240.0) -> float:
    """Waits (bounded) until the server uses under 5% of a core over half a second; returns
    the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < max_wait:
        before = proc_cpu_seconds(pid)
        time.sleep(0.5)
        if proc_cpu_seconds(pid) - before < 0.025:
            break
    return time.monotonic() - started


def churn_ratio(rows: list[dict[str, Any]]) -> float | None:
    """Cycles a second at the most online, against none online (the target: >= 1/3)."""
    if len(rows) < 2 or not rows[0]["cycles_per_s"]:
        return None
    return float(rows[-1]["cycles_per_s"] / rows[0]["cycles_per_s"])


def padded_relay_memory(count: int = 300, pad: int = 60_000) -> dict[str, Any]:
    with Parley() as server:
        run_job({"job": "hold", "server": "parley", "url": server.url, "server_pid": server.pid,
                 "count": 50, "concurrency": 50, "stop_file": "", "max_hold": 0})  # fmt: skip
        time.sleep(1.0)
        before = server.rss_kib()
        run_job(
            {"job": "padded", "url": server.url, "count": count, "pad": pad, "deadline": 120},
            timeout=150,
        )
        time.sleep(1.0)
        after = server.rss_kib()
    row = {
        "sent_mib": count * pad / 2**20,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "growth_kib": after - before,
    }
    print(
        f"  padded relays: {row['sent_mib']:.1f} MiB relayed to one session, server RSS "
        f"{before} -> {after} KiB ({row['growth_kib']:+d} KiB; the log's cap is 256 KiB)",
        flush=True,
    )
    return row


def main() -> None:
    rows = presence_churn()
    ratio = churn_ratio(rows)
    print(f"  at {rows[-1]['online']} online: {ratio:.2f}x the rate at 0 (target >= 0.33)")
    padded_relay_memory()


if __name__ == "__main__":
    main()
