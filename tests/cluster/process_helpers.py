"""Real `parley serve` processes as nodes of one cluster, and clients that resume across them.

Every node is a subprocess on 127.0.0.1 that the test can stop politely (SIGTERM) or kill
outright (SIGKILL, as a crash or the OOM killer would). Nodes share one Redis and one signing
secret (`PARLEY_SECRET`), each with its own data directory.
"""

import asyncio
import contextlib
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.parley_server import LOOPBACK_CROWD_ARGS
from tests.support.raw_client import READ_SECONDS, Tab, say_hello

LISTENING = re.compile(r"Parley listening on (https?://\S+?)/?$", re.MULTILINE)
# Every node of a cluster must sign guest tokens alike.
SECRET = "parley-cluster-process-tests-secret"
START_SECONDS = 30.0
STOP_SECONDS = 20.0
# Short close waits keep teardown quick when a server is already gone.
WS_TIMEOUT = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=2.0)
# Bounds "read until" loops: a misbehaving server fails the test instead of hanging it.
MAX_FRAMES = 10_000


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def children(pid: int) -> set[int]:
    """The live child processes of `pid` (Linux: /proc/<pid>/task/*/children)."""
    found: set[int] = set()
    with contextlib.suppress(FileNotFoundError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with (
                contextlib.suppress(FileNotFoundError),
                open(f"/proc/{pid}/task/{task}/children") as listing,
            ):
                found.update(int(child) for child in listing.read().split())
    return {child for child in found if alive(child)}


@dataclasses.dataclass
class Node:
    """One `parley serve` process (with `--workers`, the supervising parent)."""

    process: subprocess.Popen[bytes]
    name: str
    out_path: Path
    err_path: Path
    url: str = ""  # http://127.0.0.1:port, no trailing slash

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ws(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/ws"

    def output(self) -> str:
        return self.out_path.read_text(errors="replace") if self.out_path.exists() else ""

    def log(self) -> str:
        return self.err_path.read_text(errors="replace") if self.err_path.exists() else ""

    async def wait_listening(self, count: int = 1) -> None:
        """Waits until the process printed `count` listening lines (one per worker)."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            found = LISTENING.findall(self.output())
            if len(found) >= count:
                self.url = found[0]
                return
            if self.process.poll() is not None:
                pytest.fail(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log()[-3000:]}"
                )
            await asyncio.sleep(0.05)
        pytest.fail(f"{self.name} did not listen within {START_SECONDS} s:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: the process dies at once, its sockets reset, nothing said to anyone."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    async def terminate(self, timeout: float = STOP_SECONDS) -> float:  # noqa: ASYNC109
        """SIGTERM, then waits for the exit; returns how long it took (fails past `timeout`)."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        while self.process.poll() is None:
            if time.monotonic() - started > timeout:
                pytest.fail(f"{self.name} did not stop within {timeout} s after SIGTERM")
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    def reap(self) -> None:
        """Teardown: whatever is still running (the process and its workers) is killed."""
        workers = children(self.pid) if self.process.poll() is None else set()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for worker in workers:
            if alive(worker):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker, signal.SIGKILL)


class Cluster:
    """Starts nodes that share `redis_url`; every one still running is stopped at the end."""

    def __init__(self, redis_url: str, directory: Path) -> None:
        self.redis_url = redis_url
        self.directory = directory
        self.nodes: list[Node] = []

    def spawn(self, *args: str, port: int = 0, name: str | None = None) -> Node:
        name = name or f"node{len(self.nodes) + 1}"
        data_dir = self.directory / name
        data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "parley", "serve",
            "--host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(data_dir),
            "--redis-url", self.redis_url,
            *LOOPBACK_CROWD_ARGS,
            *args,
        ]  # fmt: skip
        environment = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
        environment["PARLEY_SECRET"] = SECRET
        out_path, err_path = data_dir / "stdout.log", data_dir / "stderr.log"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            process = subprocess.Popen(command, stdout=out, stderr=err, env=environment)
        node = Node(process, name, out_path, err_path)
        self.nodes.append(node)
        return node

    async def start(self, count: int, *args: str) -> list[Node]:
        """`count` nodes, started together (they race to found the cluster, as in production)."""
        nodes = [self.spawn(*args) for _ in range(count)]
        await asyncio.gather(*(node.wait_listening() for node in nodes))
        return nodes

    def logs(self) -> str:
        return "\n".join(f"--- {n.name} (pid {n.pid})\n{n.log()[-4000:]}" for n in self.nodes)

    def stop_all(self) -> None:
        for node in self.nodes:
            node.reap()


@contextlib.asynccontextmanager
async def cluster(redis_url: str, directory: Path) -> AsyncIterator[Cluster]:
    nodes = Cluster(redis_url, directory)
    try:
        yield nodes
    except BaseException:
        # Shown with the failure: what each node logged.
        print(nodes.logs())
        raise
    finally:
        nodes.stop_all()


@contextlib.asynccontextmanager
async def http_client() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session with no cap on open connections (aiohttp's default is 100)."""
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


# --- metrics ------------------------------------------------------------------------------


async def metrics(http: aiohttp.ClientSession, node: Node) -> dict[str, float]:
    """The node's /metrics as {'name{labels}': value}."""
    async with http.get(node.url + "/metrics", timeout=aiohttp.ClientTimeout(total=5)) as reply:
        assert reply.status == 200, reply.status
        text = await reply.text()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            values[key] = float(value)
    return values


async def wait_for_metric(
    http: aiohttp.ClientSession,
    node: Node,
    key: str,
    wanted: float,
    seconds: float,
) -> None:
    deadline = time.monotonic() + seconds
    seen: float | None = None
    while time.monotonic() < deadline:
        seen = (await metrics(http, node)).get(key)
        if seen == wanted:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"{node.name}: {key} is {seen}, not {wanted}, after {seconds} s")


# --- clients ------------------------------------------------------------------------------


async def read_close(
    ws: aiohttp.ClientWebSocketResponse,
    timeout: float = READ_SECONDS,  # noqa: ASYNC109
) -> tuple[int | None, list[dict[str, Any]]]:
    """Reads until the server closes; returns the close code and the messages before it."""
    deadline = time.monotonic() + timeout
    messages: list[dict[str, Any]] = []
    for _ in range(MAX_FRAMES):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            async with asyncio.timeout(remaining):
                frame = await ws.receive(timeout=remaining)
        except TimeoutError:
            break
        if frame.type is aiohttp.WSMsgType.TEXT:
            messages.append(json.loads(frame.data))
        elif frame.type is aiohttp.WSMsgType.CLOSE:
            # The code the server sent: aiohttp's own `close_code` turns into 1006 when its
            # reply to the close cannot be written (the server process is already gone).
            return int(frame.data), messages
        elif frame.type is aiohttp.WSMsgType.CLOSED:
            return ws.close_code, messages
        elif frame.type is aiohttp.WSMsgType.ERROR:
            return None, messages
    pytest.fail(f"the socket was not closed within {timeout} s (got {messages})")


async def connect(http: aiohttp.ClientSession, node: Node) -> aiohttp.ClientWebSocketResponse:
    return await asyncio.wait_for(http.ws_connect(node.ws, timeout=WS_TIMEOUT), READ_SECONDS)


def tab_of(ws: aiohttp.ClientWebSocketResponse, welcome: dict[str, Any], token: str = "") -> Tab:
    return Tab(
        ws,
        welcome["session"],
        welcome["user"]["id"],
        welcome.get("token") or token,
        welcome["resume"],
        welcome["instance"],
    )


async def sign_in(http: aiohttp.ClientSession, node: Node, **fields: Any) -> Tab:
    ws = await connect(http, node)
    welcome = await say_hello(ws, **fields)
    assert welcome.get("resumed", False) is False, welcome
    assert welcome["resume"], "resuming is off: the tests need --resume-window"
    return tab_of(ws, welcome, fields.get("token", ""))


async def come_back(tab: Tab, ws: aiohttp.ClientWebSocketResponse, **fields: Any) -> dict[str, Any]:
    """The client says hello on a new socket, asking for its session back; on success the tab
    uses the new socket from now on."""
    welcome = await say_hello(
        ws, token=tab.token, resume=tab.resume, lastSeq=tab.last_seq, **fields
    )
    if welcome.get("resumed"):
        tab.ws = ws
    return welcome


def candidate(to: str, label: str) -> dict[str, Any]:
    return {
        "type": "candidate",
        "to": to,
        "candidate": {"candidate": f"candidate:{label} 1 udp 1 192.0.2.1 9 typ host"},
    }


def label_of(message: dict[str, Any]) -> str:
    """The label a `candidate(…, label)` carried."""
    text: str = message["candidate"]["candidate"]
    return text.split(" ", 1)[0].removeprefix("candidate:")


# --- which process holds a socket ------------------------------------------------------------


def _tcp_inode(local_port: int, remote_port: int) -> int | None:
    """The inode of the IPv4 socket 127.0.0.1:local_port ↔ 127.0.0.1:remote_port."""
    loopback = "0100007F"
    wanted = (f"{loopback}:{local_port:04X}", f"{loopback}:{remote_port:04X}")
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if (fields[1], fields[2]) == wanted:
                return int(fields[9])
    return None


def server_process_of(ws: aiohttp.ClientWebSocketResponse, server_port: int, pids: set[int]) -> int:
    """Which of `pids` holds the server end of this client's TCP connection (0: none)."""
    sock = ws.get_extra_info("socket")
    assert sock is not None
    client_port = sock.getsockname()[1]
    inode = _tcp_inode(server_port, client_port)
    if inode is None:
        return 0
    target = f"socket:[{inode}]"
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
    return 0
