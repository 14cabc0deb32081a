"""`parley serve --workers N`: N server processes on one port (SO_REUSEPORT: the kernel spreads
new connections among them), kept running by this parent. They share state through Redis, so a
worker that dies loses only its sockets: their clients reconnect to another and resume."""

import logging
import multiprocessing
import signal
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

# A worker that keeps dying is not restarted faster than this.
RESTART_PAUSE_SECONDS = 1.0
# Workers close their sockets (clients resume elsewhere) and write out history: allow for it.
STOP_SECONDS = 40.0


def _worker(serve: Callable[[], None], handlers: dict[int, Any]) -> None:
    # The parent's handlers came along with the fork: a SIGTERM before the worker's own are
    # set (it may wait for the cluster a while) must stop it, not flip the parent's flag.
    for signum, handler in handlers.items():
        signal.signal(signum, handler)
    serve()


def supervise_workers(count: int, serve: Callable[[], None]) -> None:
    """Runs `serve` in `count` forked processes until SIGTERM or SIGINT, restarting any that
    exits on its own."""
    context = multiprocessing.get_context("fork")
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}

    def start() -> BaseProcess:
        process = context.Process(target=_worker, args=(serve, previous), name="parley-worker")
        process.start()
        return process

    workers = [start() for _ in range(count)]
    try:
        while not stopping:
            for index, process in enumerate(workers):
                if not process.is_alive() and not stopping:
                    log.warning(
                        "worker %s exited (%s); starting another", process.pid, process.exitcode
                    )
                    time.sleep(RESTART_PAUSE_SECONDS)
                    workers[index] = start()
            time.sleep(0.2)
    finally:
        for process in workers:
            if process.is_alive() and process.pid is not None:
                process.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for process in workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
