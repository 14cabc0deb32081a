"""Parley nodes sharing a real Redis, as apps in this process: each on its own loopback port,
made as `parley serve` makes them (parley.assemble.create_app). The `cluster` fixture."""

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from parley.assemble import create_app
from parley.cluster.node import ClusterHub
from parley.config import ServerSettings
from parley.core.effects import RecordCall, RecordQuality, RecordRoom
from parley.core.signaling import CoreSettings
from parley.server.api import HISTORY_KEY
from parley.server.app import HUB_KEY
from parley.server.site import signaling_site
from tests.cluster.helpers import SECRET, Tab, eventually, tab_of
from tests.redis_server import RedisServer
from tests.server.helpers import send_json
from tests.support.fixtures import loopback_crowd
from tests.support.raw_client import say_hello

WINDOW = 20.0
CORE = CoreSettings(resume_window=WINDOW)
SHUTDOWN_SECONDS = 15.0
CONNECT_SECONDS = 15.0


def read_json(data: str) -> dict[str, Any]:
    decoded = json.loads(data)
    assert isinstance(decoded, dict)
    return decoded


@dataclasses.dataclass
class Node:
    name: str
    base: str
    app: web.Application

    @property
    def hub(self) -> ClusterHub:
        hub = self.app[HUB_KEY]
        assert isinstance(hub, ClusterHub)
        return hub


class Cluster:
    """Nodes on one Redis and one database, and the clients connected to them. Every call-
    history step each node submits is noted in `steps` (node name, step)."""

    def __init__(
        self,
        redis: RedisServer,
        database_url: str,
        data: Path,
        http: aiohttp.ClientSession,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        self.redis = redis
        self.database_url = database_url
        self._data = data
        self.http = http
        self._monkeypatch = monkeypatch
        self.nodes: list[Node] = []
        self.runners: list[web.AppRunner] = []
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.steps: list[tuple[str, RecordCall | RecordQuality | RecordRoom]] = []

    async def start(self, core: CoreSettings = CORE, **extra: Any) -> Node:
        """A new node; `extra`: more ServerSettings (webhooks, say)."""
        name = f"n{len(self.nodes) + 1}"
        settings = ServerSettings(
            core=core,
            redis_url=self.redis.url,
            secret=SECRET,
            database_url=self.database_url,
            data_dir=self._data / name,
            connections_per_client=200,
            **extra,
        )
        runner = web.AppRunner(create_app(loopback_crowd(settings)), handle_signals=False)
        await runner.setup()
        self.runners.append(runner)
        await signaling_site(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        node = Node(name, f"http://{host}:{port}/", runner.app)
        history = node.app[HISTORY_KEY]
        submit = history.submit

        def spy(step: RecordCall | RecordQuality | RecordRoom) -> None:
            self.steps.append((name, step))
            submit(step)

        self._monkeypatch.setattr(history, "submit", spy)
        self.nodes.append(node)
        return node

    async def connect(self, node: Node) -> aiohttp.ClientWebSocketResponse:
        """A new socket to `node`; retried while the node is not serving (503, or closed
        with 1012 before its hello was answered is up to the caller)."""
        deadline = time.monotonic() + CONNECT_SECONDS
        url = node.base.replace("http://", "ws://", 1) + "ws"
        while True:
            try:
                ws = await self.http.ws_connect(
                    url, timeout=aiohttp.ClientWSTimeout(ws_close=2.0), autoclose=True
                )
            except aiohttp.WSServerHandshakeError as refused:
                assert refused.status == 503, refused
                assert time.monotonic() < deadline, "the node never served again"
                await asyncio.sleep(0.05)
                continue
            self.sockets.append(ws)
            return ws

    async def stop(self, node: Node) -> None:
        """Stops `node` in good order (as on SIGTERM)."""
        runner = next(r for r in self.runners if r.app is node.app)
        self.runners.remove(runner)
        self.nodes.remove(node)
        await asyncio.wait_for(runner.cleanup(), timeout=SHUTDOWN_SECONDS)

    async def sign_in(self, node: Node, **fields: Any) -> Tab:
        ws = await self.connect(node)
        welcome = await say_hello(ws, **fields)
        assert welcome.get("resumed", False) is False
        return tab_of(ws, welcome, fields.get("token") or "")

    async def sign_in_again(self, node: Node, **fields: Any) -> Tab:
        """Signs in, retrying while the node closes new sockets (it is starting over)."""
        deadline = time.monotonic() + CONNECT_SECONDS
        while True:
            ws = await self.connect(node)
            await send_json(ws, {"type": "hello", "v": 1, **fields})
            try:
                message = await ws.receive(timeout=5.0)
            except TimeoutError:
                pytest.fail(f"{node.name} neither answered a hello nor closed within 5 s")
            if message.type is aiohttp.WSMsgType.TEXT:
                welcome = read_json(message.data)
                assert welcome["type"] == "welcome", welcome
                return tab_of(ws, welcome, fields.get("token") or "")
            assert ws.close_code == 1012, (message.type, ws.close_code)
            assert time.monotonic() < deadline, "the node kept closing new sockets"
            await asyncio.sleep(0.05)

    async def in_step(self) -> None:
        """Waits until every node has applied the log as far as the furthest one."""

        def level() -> bool:
            numbers = {n.hub.replica.position.number for n in self.nodes}
            return len(numbers) == 1

        await eventually(level, "the nodes reach the same point of the log")

    async def readiness(self, node: Node, *, ready: bool) -> None:
        """Waits until `node`'s /readyz says `ready` (200) or not (503)."""
        deadline = time.monotonic() + 10
        while True:
            async with self.http.get(node.base + "readyz") as response:
                if response.status == (200 if ready else 503):
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"{node.name} never became {'ready' if ready else 'not ready'}")
            await asyncio.sleep(0.02)

    def recorded(self, kind: str) -> list[tuple[str, RecordCall]]:
        return [
            (node, step)
            for node, step in self.steps
            if isinstance(step, RecordCall) and step.step == kind
        ]

    async def history(self, node: Node, token: str) -> list[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"}
        async with self.http.get(node.base + "api/calls", headers=headers) as response:
            assert response.status == 200
            return list((await response.json())["calls"])


@pytest.fixture
async def cluster(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Cluster]:
    async with aiohttp.ClientSession() as http:
        nodes = Cluster(
            redis_server,
            f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}",
            tmp_path,
            http,
            monkeypatch,
        )
        try:
            yield nodes
        finally:
            for ws in nodes.sockets:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 3)
            for runner in reversed(nodes.runners):
                try:
                    await asyncio.wait_for(runner.cleanup(), timeout=SHUTDOWN_SECONDS)
                except TimeoutError:
                    pytest.fail(f"a node did not shut down within {SHUTDOWN_SECONDS} s")
