"""Runs `parley serve` as a real subprocess, as users run it, on a port the OS picks."""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Every client of the suite comes from loopback: a crowd behind one NAT to the per-address
# limits, which are lifted (tests/security tests them).
LOOPBACK_CROWD_ARGS = [
    "--new-guests-per-client", "10000",
    "--invites-per-client", "10000",
    "--sign-ins-per-client", "10000",
]  # fmt: skip
LISTENING = re.compile(r"Parley listening on (https?://\S+?)/?$")


@contextmanager
def running_server(
    *extra_args: str,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    data_dir: Path | None = None,
) -> Iterator[str]:
    """Yields the server's base URL (no trailing slash); stops the server on exit.

    Without `data_dir` the server gets a fresh temporary one (database, secret), removed after.
    """
    with tempfile.TemporaryDirectory(prefix="parley-data-") as scratch:
        host = [] if "--host" in extra_args else ["--host", "127.0.0.1"]
        command = [sys.executable, "-m", "parley", "serve", *host, "--port", "0"]
        if not any(flag in extra_args for flag in LOOPBACK_CROWD_ARGS[::2]):
            command += LOOPBACK_CROWD_ARGS
        command += ["--data-dir", str(data_dir or scratch), *extra_args]
        with open(log_path or os.devnull, "w") as log:
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env={**os.environ, **(env or {})},
            )
            try:
                yield _wait_for_url(process, deadline=time.monotonic() + 20)
            finally:
                _stop(process)


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def _wait_for_url(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"parley serve exited early with {process.wait(timeout=5)}")
        match = LISTENING.search(line.strip())
        if match:
            return match.group(1)
    raise RuntimeError("parley serve did not report its address within 20 s")
