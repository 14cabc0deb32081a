"""How long this machine takes to wake a thread that waits for data: the floor under every
relay latency the bench measures, whatever the server.

A receiver pinned to the server's core waits in `epoll_wait` on a pipe, as an idle server's
event loop waits for its sockets; a sender on the load generator's core writes its
CLOCK_MONOTONIC nanoseconds into the pipe every millisecond (the 2k msg/s schedule's tick);
the receiver reads the clock as soon as it returns. The same again with the receiver polling
(`epoll_wait` with a zero timeout, never sleeping): the difference is what waking a sleeping
thread costs here. On a virtual machine that includes waking the halted virtual CPU. A pipe
is a cheaper hop than a loopback TCP socket, and a relay needs two wake-ups (the server's, then
the receiving client's): these figures are a lower bound, closest at low message rates, where
the server sleeps between messages.

    .venv/bin/python bench/wakeup.py [--samples 3000]

Prints both distributions; `make bench` runs it first and keeps the figures in latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import struct
import time
import traceback
from collections.abc import Callable
from typing import Any

from loadgen import percentiles
from servers import LOADGEN_CORE, SERVER_CORE

STAMP = struct.Struct("q")


def _receive(read_end: int, samples: int, poll: bool, report: int) -> None:
    """The child: `samples` wake-ups (or 30 s), latencies written to `report` as int64s."""
    os.sched_setaffinity(0, {int(SERVER_CORE)})
    waiter = select.epoll()
    waiter.register(read_end, select.EPOLLIN)
    timeout = 0 if poll else 1.0
    latencies: list[int] = []
    deadline = time.monotonic() + 30
    while len(latencies) < samples and time.monotonic() < deadline:
        if not waiter.poll(timeout):
            continue
        data = os.read(read_end, STAMP.size * 64)
        if not data:
            break  # the sender is gone
        arrived = time.monotonic_ns()
        # Stamps that queued up behind one wake-up count from their own send time.
        for (sent,) in STAMP.iter_unpack(data[: len(data) - len(data) % STAMP.size]):
            latencies.append(arrived - sent)
    os.write(report, struct.pack(f"{len(latencies)}q", *latencies))


def measure(samples: int, poll: bool) -> dict[str, Any]:
    """One receiver (sleeping, or polling if `poll`) against a 1-ms sender on the other core."""
    read_end, write_end = os.pipe()
    report_read, report_write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child process
        status = 0
        try:
            os.close(write_end)
            os.close(report_read)
            _receive(read_end, samples, poll, report_write)
        except BaseException:
            traceback.print_exc()
            status = 1
        finally:
            os._exit(status)
    os.close(read_end)
    os.close(report_write)
    previous = os.sched_getaffinity(0)
    raw = b""
    finished = False
    try:
        os.sched_setaffinity(0, {int(LOADGEN_CORE)})
        time.sleep(0.05)  # the child is pinned and waiting
        for _ in range(samples):
            time.sleep(0.001)
            try:
                os.write(write_end, STAMP.pack(time.monotonic_ns()))
            except BrokenPipeError:
                break
        os.close(write_end)
        write_end = -1
        while chunk := os.read(report_read, 1 << 16):
            raw += chunk
        finished = True
    finally:
        os.sched_setaffinity(0, previous)
        if write_end >= 0:
            os.close(write_end)
        os.close(report_read)
        if not finished:
            os.kill(child, signal.SIGTERM)
        _, status = os.waitpid(child, 0)
    if status != 0:
        return {"count": 0, "error": f"the receiver failed (status {status})"}
    latencies = [STAMP.unpack_from(raw, i)[0] for i in range(0, len(raw), STAMP.size)]
    if not latencies:
        return {"count": 0, "error": "no samples"}
    return percentiles(latencies)


def wakeups(samples: int) -> dict[str, dict[str, Any]]:
    return {"sleeping": measure(samples, poll=False), "polling": measure(samples, poll=True)}


def print_wakeups(result: dict[str, dict[str, Any]], say: Callable[[str], object] = print) -> None:
    for mode, figures in result.items():
        say(f"  {mode} receiver: {describe(figures)}")


def describe(result: dict[str, Any]) -> str:
    if not result.get("count"):
        return f"not measured: {result.get('error', 'no samples')}"
    return (
        f"p50 {result['p50_ms']:.3f}, p99 {result['p99_ms']:.3f}, "
        f"p99.9 {result['p999_ms']:.3f}, max {result['max_ms']:.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=3000)
    args = parser.parse_args()
    result = wakeups(args.samples)
    print_wakeups(result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
