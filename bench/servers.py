"""Starting the servers under test, each pinned to one core, and reading their memory."""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PEER_DIR = BENCH / "peerserver"
PEER_VERSION = "1.0.2"
SERVER_CORE = "0"
LOADGEN_CORE = "1"

# The flood and per-address limits are for the internet; the bench is one client on loopback.
PARLEY_ARGS = [
    "--messages-per-second",
    "1000000",
    "--message-burst",
    "1000000",
    "--connections-per-client",
    "1000000",
    "--log-level",
    "warning",
]


def read_line(process: subprocess.Popen[str], pattern: re.Pattern[str], timeout: float) -> str:
    """The first stdout line matching `pattern`, read without blocking past `timeout`."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    fd = process.stdout.fileno()
    buffer = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            if process.poll() is not None:
                break
            continue
        chunk = os.read(fd, 65536).decode(errors="replace")
        if not chunk:
            break
        buffer += chunk
        for line in buffer.splitlines():
            match = pattern.search(line)
            if match:
                return match.group(1)
    raise RuntimeError(f"server did not start (exit {process.poll()}): {buffer[-500:]}")


class Server:
    name = ""
    # Which protocol the load generator speaks to it ("parley" or "peerserver").
    protocol = ""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.log_path = BENCH / "results" / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        raise NotImplementedError


class Parley(Server):
    name = "parley"
    protocol = "parley"

    def __init__(self, extra: list[str] | None = None, pin: bool = True) -> None:
        super().__init__()
        self.extra = extra or []
        self.pin = pin
        self.data_dir = ""

    def start(self) -> None:
        self.data_dir = tempfile.mkdtemp(prefix="parley-bench-")
        parley = str(Path(sys.executable).parent / "parley")
        command = [parley, "serve", "--host", "127.0.0.1", "--port", "0"]
        command += ["--data-dir", self.data_dir, *PARLEY_ARGS, *self.extra]
        if self.pin:
            command = ["taskset", "-c", SERVER_CORE, *command]
        self.log_path.parent.mkdir(exist_ok=True)
        log = open(self.log_path, "a")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True
        )
        self.url = read_line(self.process, re.compile(r"Parley listening on (http://\S+?)/?$"), 30)

    def stop(self) -> None:
        super().stop()
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


class Alternative(Parley):
    """A prototype from bench/alternatives/ (Parley's protocol, its own name in the results):
    `script` is started with `args`, pinned like Parley, and announces itself the same way."""

    def __init__(self, name: str, script: str, args: list[str]) -> None:
        self.name = name
        super().__init__()
        self.script = script
        self.args = args

    def start(self) -> None:
        command = [sys.executable, str(BENCH / "alternatives" / self.script), *self.args]
        command = ["taskset", "-c", SERVER_CORE, *command]
        self.log_path.parent.mkdir(exist_ok=True)
        log = open(self.log_path, "a")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True
        )
        self.url = read_line(self.process, re.compile(r"Parley listening on (http://\S+?)/?$"), 30)


def peerserver_available() -> str | None:
    """None when PeerServer can run, else why not."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm not installed"
    if not (PEER_DIR / "node_modules" / "peer" / "package.json").exists():
        result = subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--no-package-lock",
                f"peer@{PEER_VERSION}",
            ],
            cwd=PEER_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            return "npm install peer failed: " + result.stderr.strip()[-300:]
    return None


class PeerServer(Server):
    name = "peerserver"
    protocol = "peerserver"

    def start(self) -> None:
        command = ["taskset", "-c", SERVER_CORE, "node", str(PEER_DIR / "server.js")]
        self.log_path.parent.mkdir(exist_ok=True)
        log = open(self.log_path, "a")  # noqa: SIM115
        self.process = subprocess.Popen(
            command,
            cwd=PEER_DIR,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
        self.url = read_line(self.process, re.compile(r"PeerServer listening on (http://\S+)"), 30)


def peerserver_version() -> str:
    try:
        import json

        meta = json.loads((PEER_DIR / "node_modules" / "peer" / "package.json").read_text())
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
        return f"peer {meta['version']} on node {node.strip()}"
    except Exception:
        return "unknown"
