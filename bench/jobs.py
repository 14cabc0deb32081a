"""Running the load generator (bench/loadgen.py) from the bench's scripts: one process per
job, pinned to the load core, answering in JSON lines."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from typing import Any

from servers import BENCH, LOADGEN_CORE, Server

LOADGEN = BENCH / "loadgen.py"


class LoadGen:
    """One load-generator process pinned to the load core; talks JSON lines."""

    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job
        command = ["taskset", "-c", LOADGEN_CORE, sys.executable, str(LOADGEN), json.dumps(job)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self._buffer = ""

    def wait(self, event: str, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while "\n" in self._buffer:
                line, self._buffer = self._buffer.split("\n", 1)
                message = json.loads(line)
                if message.get("event") == event:
                    return dict(message)
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                chunk = os.read(fd, 1 << 20).decode()
                if chunk:
                    self._buffer += chunk
                    continue
            if self.process.poll() is not None and not ready:
                break
        self.kill()
        stderr = self.process.stderr.read() if self.process.stderr else ""
        raise RuntimeError(f"load generator gave no {event!r} ({self.job['job']}): {stderr[-800:]}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)


def run_job(job: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
    generator = LoadGen({"deadline": timeout, **job})
    try:
        return generator.wait("result", timeout + 10)
    finally:
        generator.kill()


def open_and_hold(
    server: Server, count: int, concurrency: int, stop_file: str, **extra: Any
) -> list[LoadGen]:
    """`count` connections from as many load generators as the fd limit needs (10k each)."""
    generators = []
    chunk = 10_000
    for offset in range(0, count, chunk):
        generators.append(
            LoadGen(
                {
                    "job": "hold",
                    "server": server.protocol,
                    "url": server.url,
                    "server_pid": server.pid,
                    "count": min(chunk, count - offset),
                    "offset": offset,
                    "concurrency": concurrency,
                    "stop_file": stop_file,
                    "max_hold": 180,
                    "deadline": 400,
                    **extra,
                }
            )
        )
    return generators
