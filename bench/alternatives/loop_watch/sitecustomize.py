"""Loaded by `parley serve` when this directory is on PYTHONPATH (bench/alternatives/stalls.py):
watches the event loop from inside the server. Every turn schedules the next one, and a gap of
more than 3 ms between two ticks is recorded with what the main thread did meanwhile: its CPU
time and its context switches (voluntary: it blocked; involuntary: another task took the core).
A gap with neither is time the thread was not running although nothing switched it out.
Does nothing unless PARLEY_LOOP_WATCH names the JSON file to write."""

import asyncio
import json
import os
import resource
import time

WATCH_TO = os.environ.get("PARLEY_LOOP_WATCH")
GAP_SECONDS = 0.003


def _thread_usage() -> tuple[float, int, int, int, int]:
    """CPU seconds, voluntary and involuntary switches, page faults (minor, and major: those
    that waited for a read) of the calling thread: one syscall."""
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    cpu = usage.ru_utime + usage.ru_stime
    return cpu, usage.ru_nvcsw, usage.ru_nivcsw, usage.ru_minflt, usage.ru_majflt


def _watch(path: str) -> None:
    loop = asyncio.get_running_loop()
    gaps: list[dict[str, float]] = []
    last = [time.perf_counter(), *_thread_usage()]

    def tick() -> None:
        now = time.perf_counter()
        cpu, voluntary, involuntary, minor_faults, major_faults = _thread_usage()
        if now - last[0] > GAP_SECONDS:
            gaps.append(
                {
                    "at": time.monotonic(),
                    "gap_ms": (now - last[0]) * 1000,
                    "cpu_ms": (cpu - last[1]) * 1000,
                    "voluntary": voluntary - last[2],
                    "involuntary": involuntary - last[3],
                    "minor_faults": minor_faults - last[4],
                    "major_faults": major_faults - last[5],
                }
            )
        last[:] = now, cpu, voluntary, involuntary, minor_faults, major_faults
        loop.call_soon(tick)

    def save() -> None:
        with open(path + ".part", "w") as out:
            json.dump(gaps, out)
        os.replace(path + ".part", path)
        # The watcher's own writing is not a stall of the server's.
        last[:] = time.perf_counter(), *_thread_usage()
        loop.call_later(0.5, save)

    loop.call_soon(tick)
    loop.call_later(0.5, save)


if WATCH_TO:
    import parley.server.collector as collector

    _start = collector.CollectorPolicy.start

    def _start_and_watch(self: collector.CollectorPolicy) -> None:
        _start(self)
        _watch(WATCH_TO)  # type: ignore[arg-type]

    collector.CollectorPolicy.start = _start_and_watch  # type: ignore[method-assign]
