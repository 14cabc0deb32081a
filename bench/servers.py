"""Starting the servers under test, each pinned to one core, and reading their memory."""

from __future__ import annotations

import os
import re
import secrets
import select
import shutil
import signal
import socket
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
REDIS_SERVER = "/usr/bin/redis-server"

# The flood and per-address limits are for the internet; the bench is one client on loopback.
PARLEY_ARGS = [
    "--messages-per-second",
    "1000000",
    "--message-burst",
    "1000000",
    "--connections-per-client",
    "1000000",
    "--new-guests-per-client",
    "1000000",
    "--invites-per-client",
    "1000000",
    "--sign-ins-per-client",
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

    def relay_fields(self) -> dict[str, object]:
        """What a relay job needs besides `url` and `server_pid` (none for one process)."""
        return {}

    def settle(self, max_wait: float) -> float:
        """Waits (bounded) until the server has worked off what an earlier run left it; returns
        the seconds waited. One process drops its backlog with the sockets: nothing to wait."""
        return 0.0

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

    def __init__(
        self,
        extra: list[str] | None = None,
        pin: bool = True,
        *,
        name: str = "",
        data_dir: str = "",
        env: dict[str, str] | None = None,
    ) -> None:
        if name:
            self.name = name
        super().__init__()
        self.extra = extra or []
        self.pin = pin
        # A data directory given by the caller (shared by a cluster's nodes) is the caller's.
        self.shared_data_dir = data_dir
        self.data_dir = ""
        self.env = env or {}

    def start(self) -> None:
        self.data_dir = self.shared_data_dir or tempfile.mkdtemp(prefix="parley-bench-")
        parley = str(Path(sys.executable).parent / "parley")
        command = [parley, "serve", "--host", "127.0.0.1", "--port", "0"]
        command += ["--data-dir", self.data_dir, *PARLEY_ARGS, *self.extra]
        if self.pin:
            command = ["taskset", "-c", SERVER_CORE, *command]
        self.log_path.parent.mkdir(exist_ok=True)
        log = open(self.log_path, "a")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
            env={**os.environ, **self.env} if self.env else None,
        )
        self.url = read_line(self.process, re.compile(r"Parley listening on (http://\S+?)/?$"), 30)

    def stop(self) -> None:
        super().stop()
        if self.data_dir and not self.shared_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def redis_available() -> str | None:
    """None when Debian's redis-server is there, else why not."""
    if not Path(REDIS_SERVER).exists():
        return f"{REDIS_SERVER} not installed (apt-get install redis-server)"
    return None


def redis_version() -> str:
    out = subprocess.run([REDIS_SERVER, "--version"], capture_output=True, text=True, timeout=10)
    match = re.search(r"v=(\S+)", out.stdout)
    return match.group(1) if match else "unknown"


def redis_ping(port: int, timeout: float) -> bool:
    """PING over a raw socket until +PONG, bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(64).startswith(b"+PONG"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


class RedisServer(Server):
    """Debian's redis-server on loopback, a free port, no persistence (as docs/scale-out.md
    advises), pinned to the server core, its log in results/redis.log."""

    name = "redis"

    def __init__(self) -> None:
        super().__init__()
        self.port = 0
        self.dir = ""

    def start(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="parley-bench-redis-")
        self.log_path.parent.mkdir(exist_ok=True)
        for _attempt in range(3):  # the free port may be taken between the probe and the bind
            self.port = free_port()
            command = ["taskset", "-c", SERVER_CORE, REDIS_SERVER, "--bind", "127.0.0.1"]
            command += ["--port", str(self.port), "--save", "", "--appendonly", "no"]
            command += ["--dir", self.dir, "--logfile", str(self.log_path), "--daemonize", "no"]
            self.process = subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,  # no output is read; typed as the other servers' processes
                start_new_session=True,
            )
            if redis_ping(self.port, 10.0):
                self.url = f"redis://127.0.0.1:{self.port}/0"
                return
            super().stop()  # this attempt's process only: the next one uses the same --dir
        self.stop()
        raise RuntimeError(f"redis-server did not start; see {self.log_path}")

    def stop(self) -> None:
        super().stop()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads, in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ParleyCluster(Server):
    """Two `parley serve` processes joined by one Redis: one server to its clients. The relay
    job opens each pair's first member on node A (`url`) and its second on node B (`url_b`),
    so every relayed message crosses from one process to the other through Redis. Both nodes
    and Redis are on the server core: the same one core a single Parley gets. The nodes share
    a data directory (one SQLite file, as docs/scale-out.md describes for one machine) and a
    PARLEY_SECRET."""

    name = "parley-redis"
    protocol = "parley"

    def __init__(self) -> None:
        super().__init__()
        self.redis = RedisServer()
        self.nodes: list[Parley] = []
        self.data_dir = ""
        self.url_b = ""

    @property
    def pid(self) -> int:
        return self.nodes[0].pid

    def pids(self) -> dict[str, int]:
        return {
            "node-a": self.nodes[0].pid,
            "node-b": self.nodes[1].pid,
            "redis": self.redis.pid,
        }

    def start(self) -> None:
        self.data_dir = tempfile.mkdtemp(prefix="parley-bench-cluster-")
        try:
            self.redis.start()
            env = {"PARLEY_SECRET": secrets.token_hex(32)}
            for node in ("a", "b"):
                # One after the other: the first founds the log, the second joins it.
                server = Parley(
                    ["--redis-url", self.redis.url],
                    name=f"parley-node-{node}",
                    data_dir=self.data_dir,
                    env=env,
                )
                self.nodes.append(server)
                server.start()
        except BaseException:
            self.stop()
            raise
        self.url, self.url_b = self.nodes[0].url, self.nodes[1].url

    def relay_fields(self) -> dict[str, object]:
        # After the window, wait for what is in flight (an overloaded run leaves a backlog of
        # tens of seconds): a relay that never arrives is then counted as lost, not as late.
        return {"url_b": self.url_b, "pids": self.pids(), "drain": 90.0}

    def cpu_seconds(self) -> float:
        return sum(process_cpu_seconds(pid) for pid in self.pids().values())

    def settle(self, max_wait: float) -> float:
        """Unlike one process, a cluster keeps working after the clients hung up: what was
        appended is still read and applied by both nodes (the load generator waits for its
        relays, but not for the closes and what they set off). Waits until the three processes
        together use under 5% of a core over 0.5 s (or `max_wait` passes)."""
        started = time.monotonic()
        deadline = started + max_wait
        while time.monotonic() < deadline:
            before = self.cpu_seconds()
            time.sleep(0.5)
            if self.cpu_seconds() - before < 0.025:
                break
        return time.monotonic() - started

    def rss_kib(self) -> int:
        return sum(server.rss_kib() for server in (*self.nodes, self.redis))

    def stop(self) -> None:
        for server in reversed(self.nodes):
            server.stop()
        self.redis.stop()
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


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
