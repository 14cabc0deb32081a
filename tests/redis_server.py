"""A real Redis (Debian's redis-server) for a test: on 127.0.0.1, a port the OS had free, no
persistence (as docs/scale-out.md advises for Parley), stopped when the test ends. Tests may
stop it and start it again on the same port: Parley nodes then find it empty."""

import contextlib
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.raw_client import free_port

REDIS_SERVER = "/usr/bin/redis-server"
START_SECONDS = 10.0


class RedisServer:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self._directory = directory
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            REDIS_SERVER,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self._directory),
            "--protected-mode", "yes",
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as probe,
            ):
                probe.sendall(b"PING\r\n")
                if probe.recv(16).startswith(b"+PONG"):
                    return
            exited = self._process.poll()
            assert exited is None, f"redis-server exited with {exited}"
            time.sleep(0.05)
        pytest.fail("redis-server did not answer PING within 10 s")

    def stop(self) -> None:
        """Stops it at once, as a crash would (nothing saved)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)
            # Tests stop it to see nodes lose Redis: it must really be gone.
            assert self._process.poll() is not None, "redis-server outlived SIGKILL"
        self._process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with tempfile.TemporaryDirectory(prefix="parley-redis-") as directory:
        server = RedisServer(Path(directory))
        server.start()
        try:
            yield server
        finally:
            server.stop()
