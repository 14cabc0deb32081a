"""A cluster of real `parley serve` processes sharing one real Redis, tested as it fails in
production: a node killed with SIGKILL mid-call (its clients resume on another node, the one
that stays away ends after the window), a session taken over across nodes, `--workers` losing
a worker and stopping on SIGTERM, a soak of hundreds of clients whose sockets drop at random
and resume on random nodes, and Redis restarted empty or hung under running nodes.

Every wait is bounded; all traffic stays on 127.0.0.1.
"""

import asyncio
import contextlib
import dataclasses
import json
import os
import random
import resource
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as redis

from parley.cluster.redis_log import HEARTBEAT_SECONDS, HEARTBEAT_TTL_SECONDS
from parley.cluster.redis_log import connect as redis_client
from parley.core.presence import PRESENCE_WINDOW_SECONDS
from tests.redis_server import RedisServer
from tests.support.raw_client import Tab, cut, free_port, is_sync_reply, sync_request

from .process_helpers import (
    Node,
    alive,
    candidate,
    children,
    cluster,
    come_back,
    connect,
    http_client,
    label_of,
    metrics,
    read_close,
    server_process_of,
    sign_in,
    wait_for_metric,
)

WINDOW = 5.0
NODE_ARGS = ("--resume-window", str(WINDOW), "--ring-timeout", "60")
# A killed node's heartbeat key expires after the TTL; a survivor checks once a beat, and the
# rest is slack for a loaded machine.
LOST_WITHIN = HEARTBEAT_TTL_SECONDS + HEARTBEAT_SECONDS + 4.0
# How long a node waits for a Redis that does not answer before it counts Redis as gone.
REDIS_TIMEOUT = float(
    redis_client("redis://127.0.0.1/0").connection_pool.connection_kwargs["socket_timeout"]
)
AWAY = 'parley_sessions{state="away"}'
CONNECTED = 'parley_sessions{state="connected"}'


async def relay(sender: Tab, to: Tab, label: str) -> None:
    """`sender` sends a candidate to `to`, which reads it next."""
    await sender.send(candidate(to.session, label))
    got = await to.next_of("candidate")
    assert (got["from"], label_of(got)) == (sender.session, label), got


async def place_call(caller: Tab, callee: Tab) -> str:
    """An answered direct call from `caller` to `callee`; returns its id."""
    await caller.send({"type": "invite", "to": callee.user, "media": "audio", "id": "call"})
    ringing = await caller.next_of("ringing")
    incoming = await callee.next_of("incoming-call")
    call = str(ringing["call"])
    assert incoming["call"] == call
    await callee.send({"type": "accept", "call": call, "media": "audio", "id": "yes"})
    tickets = set()
    for side, peer in ((callee, caller), (caller, callee)):
        accepted = await side.next_of("call-accepted")
        assert (accepted["call"], accepted["peer"]) == (call, peer.session), accepted
        tickets.add(accepted["ticket"])
    # Both sides hold the same proof of the call, whichever node signed it for them.
    (TICKETS[call],) = tickets
    return call


# Each answered call's ticket (call-accepted), shown again by resume-call after a restart.
TICKETS: dict[str, str] = {}


async def room_pair(http: aiohttp.ClientSession, first: Node, second: Node) -> tuple[Tab, Tab]:
    ana, bo = await sign_in(http, first), await sign_in(http, second)
    for tab in (ana, bo):
        await tab.send({"type": "join", "room": "pair", "id": 1})
        await tab.next_of("joined")
    assert (await ana.next_of("peer-joined"))["peer"] == bo.session
    await relay(ana, bo, "before")
    return ana, bo


# --- 1. a node killed with SIGKILL -------------------------------------------------------------


@pytest.mark.parametrize("resume", ["at-once", "after-the-node-is-declared-lost"])
async def test_a_killed_node_s_clients_resume_on_another_and_the_one_that_stays_away_ends(
    redis_server: RedisServer, tmp_path: Path, resume: str
) -> None:
    """Ana (caller) and Zed are on P1, Bo on P2: Ana calls Bo, Zed shares a room with Bo. P1
    is killed. Ana comes back on P2 (before or after P2 notices that P1 is gone): her session,
    everything Bo sent meanwhile once and in order, the call goes on and her hang-up reaches
    Bo. Zed never comes back: after the resume window Bo is told, once."""
    async with cluster(redis_server.url, tmp_path) as nodes, http_client() as http:
        p1, p2 = await nodes.start(2, *NODE_ARGS)
        # One at a time, each after the last one's presence news went out (they go in windows):
        # each hears exactly of those who came after it.
        bo = await sign_in(http, p2, name="Bo", presence=True)
        await asyncio.sleep(PRESENCE_WINDOW_SECONDS + 0.2)
        ana = await sign_in(http, p1, name="Ana", presence=True)
        await asyncio.sleep(PRESENCE_WINDOW_SECONDS + 0.2)
        zed = await sign_in(http, p1, name="Zed", presence=True)
        came = [(bo, ana, "Ana"), (bo, zed, "Zed"), (ana, zed, "Zed")]
        for tab, other, name in came:
            online = {"type": "presence", "user": {"id": other.user, "name": name}, "online": True}
            await tab.news_of(online, time.monotonic() + 5)
        await zed.send({"type": "join", "room": "lobby", "id": 1})
        assert (await zed.next_of("joined"))["created"] is True
        await bo.send({"type": "join", "room": "lobby", "id": 1})
        joined = await bo.next_of("joined")
        assert joined["peers"] == [{"id": zed.session, "ready": False}]
        assert (await zed.next_of("peer-joined"))["peer"] == bo.session

        call = await place_call(ana, bo)
        await relay(ana, bo, "a1")
        await relay(bo, ana, "b1")
        # Two more that Ana never reads on P1: they may sit in her socket when it dies.
        for label in ("b2", "b3"):
            await bo.send(candidate(ana.session, label))
        await bo.round_trip()

        p1.kill()
        killed = time.monotonic()
        if resume == "at-once":
            # P2 has not noticed yet: Ana's session still looks connected (to a dead node).
            assert (await metrics(http, p2))[AWAY] == 0
        else:
            await wait_for_metric(http, p2, AWAY, 2, LOST_WITHIN)
            assert time.monotonic() - killed < WINDOW, "too slow to test a resume in the window"
        for label in ("b4", "b5", "b6"):
            await bo.send(candidate(ana.session, label))
        await bo.round_trip()

        welcome = await come_back(ana, await connect(http, p2))
        assert welcome.get("resumed") is True, welcome
        assert (welcome["session"], welcome["instance"]) == (ana.session, ana.instance)
        for label in ("b2", "b3", "b4", "b5", "b6"):
            got = await ana.next_of("candidate")
            assert (got["from"], label_of(got)) == (bo.session, label), got

        # P2 declares P1 lost (Zed away; Ana, resumed, is not touched), and the call goes on.
        await wait_for_metric(http, p2, AWAY, 1, LOST_WITHIN)
        assert (await metrics(http, p2))[CONNECTED] == 2
        await relay(bo, ana, "b7")
        await relay(ana, bo, "a2")

        # Zed stays away: after the window, Bo (room and presence) and Ana (presence) hear it.
        gone_by = killed + WINDOW + LOST_WITHIN
        zed_info = {"id": zed.user, "name": "Zed"}
        offline = {"type": "presence", "user": zed_info, "online": False}
        left = {"type": "peer-left", "peer": zed.session, "reason": "disconnected"}
        for tab, wanted in ((bo, left), (bo, offline), (ana, offline)):
            told = await tab.news_of(wanted, gone_by)
            assert told - killed >= WINDOW * 0.9, f"{wanted} after {told - killed:.1f} s"

        await ana.send({"type": "hangup", "call": call, "id": "bye"})
        hangup = {"call": call, "reason": "hangup", "by": ana.user}
        ended = await ana.next_of("call-ended")
        assert ended == {"type": "call-ended", "id": "bye", **hangup}
        ended = await bo.next_of("call-ended")
        assert ended == {"type": "call-ended", **hangup}
        for tab in (ana, bo):
            await tab.round_trip()
            assert tab.news == [], tab.news
        levels = await metrics(http, p2)
        assert (levels[CONNECTED], levels[AWAY]) == (2, 0)
        assert sum(v for k, v in levels.items() if k.startswith("parley_calls{")) == 0


CANDIDATES_SENT = 'parley_messages_sent_total{type="candidate"}'


async def test_a_session_taken_over_on_another_node_is_no_longer_written_by_the_old_one(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Ana's phone, after a blip (a resume on P1), moves from Wi-Fi to mobile data: her socket
    on P1 still looks open when she resumes on P2, so P1 closes it with 4409. From then on P1
    must let go of her session: what Bo sends her is written by P2 alone (each node counts only
    what it writes in `parley_messages_sent_total`). A node that still binds the session to
    the dead socket keeps both forever and counts her messages twice across the cluster."""
    async with cluster(redis_server.url, tmp_path) as nodes, http_client() as http:
        p1, p2 = await nodes.start(2, *NODE_ARGS)
        ana, bo = await room_pair(http, p1, p2)
        # A blip first: Ana resumes on P1, on a socket whose id is no longer her session's.
        cut(ana.ws)
        welcome = await come_back(ana, await connect(http, p1))
        assert (welcome.get("resumed"), welcome["session"]) == (True, ana.session), welcome
        await relay(bo, ana, "on-wifi")
        written = [(await metrics(http, node))[CANDIDATES_SENT] for node in (p1, p2)]
        assert written == [1, 1], "P2 wrote `before` to Bo, P1 `on-wifi` to Ana"

        old = ana.ws
        welcome = await come_back(ana, await connect(http, p2))
        assert (welcome.get("resumed"), welcome["session"]) == (True, ana.session), welcome
        code, _ = await read_close(old)
        assert code == 4409, f"the old socket closed with {code}, not 4409 (taken over)"
        for n in range(5):
            await relay(bo, ana, f"moved-{n}")
        await ana.round_trip()

        written = [(await metrics(http, node))[CANDIDATES_SENT] for node in (p1, p2)]
        assert written == [1, 6], f"candidates written by [P1, P2]: {written}"


# --- 2. --workers ------------------------------------------------------------------------------


async def connect_to_worker(
    http: aiohttp.ClientSession, node: Node, port: int, worker: int, workers: set[int]
) -> aiohttp.ClientWebSocketResponse:
    """A socket that the kernel handed to `worker` (SO_REUSEPORT spreads new connections by
    their addresses): others are closed before they say hello."""
    for _ in range(64):
        ws = await connect(http, node)
        if server_process_of(ws, port, workers) == worker:
            return ws
        await ws.close()
    pytest.fail(f"64 connections in a row went to workers other than {worker}")


async def test_workers_share_one_port_a_killed_worker_is_replaced_and_sigterm_stops_all(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """`--workers 2`: both processes take connections on the one port. SIGKILL one: its clients
    resume on the other (everything their peers sent meanwhile arrives once, in order), the
    parent starts a new worker, and that one serves and resumes sessions too. SIGTERM to the
    parent closes every socket with 1012 and ends every process in bounded time."""
    port = free_port()
    async with cluster(redis_server.url, tmp_path) as nodes, http_client() as http:
        parent = nodes.spawn(
            "--workers", "2", "--resume-window", "10", "--connections-per-client", "1000",
            port=port, name="workers",
        )  # fmt: skip
        await parent.wait_listening(count=2)
        workers = children(parent.pid)
        assert len(workers) == 2, workers

        # Both workers take connections: sign clients in until each holds two.
        held: dict[int, list[Tab]] = {pid: [] for pid in workers}
        for _ in range(64):
            if all(len(tabs) >= 2 for tabs in held.values()):
                break
            tab = await sign_in(http, parent)
            owner = server_process_of(tab.ws, port, workers)
            assert owner in workers, f"no worker holds the socket ({owner})"
            held[owner].append(tab)
        else:
            pytest.fail(f"64 clients did not reach both workers: {held}")
        doomed, survivor = sorted(workers, key=lambda pid: len(held[pid]))[:2]
        pairs = list(zip(held[doomed][:2], held[survivor][:2], strict=True))
        for index, (away, staying) in enumerate(pairs):
            room = f"pair-{index}"
            await away.send({"type": "join", "room": room, "id": 1})
            await away.next_of("joined")
            await staying.send({"type": "join", "room": room, "id": 1})
            await staying.next_of("joined")
            assert (await away.next_of("peer-joined"))["peer"] == staying.session
            await relay(away, staying, "hello")
            await relay(staying, away, "hi")

        os.kill(doomed, signal.SIGKILL)
        for away, staying in pairs:
            code, _ = await read_close(away.ws)
            assert code != 1000, "a killed worker cannot say goodbye"
            for n in range(3):
                await staying.send(candidate(away.session, f"meanwhile-{n}"))
            await staying.round_trip()
        for away, staying in pairs:
            welcome = await come_back(away, await connect(http, parent))
            assert (welcome.get("resumed"), welcome["session"]) == (True, away.session), welcome
            for n in range(3):
                got = await away.next_of("candidate")
                assert (got["from"], label_of(got)) == (staying.session, f"meanwhile-{n}")
            await relay(away, staying, "back")

        # The parent replaces the dead worker, and the new one listens on the same port.
        deadline = time.monotonic() + 30
        while len(children(parent.pid) - {survivor}) != 1 or doomed in children(parent.pid):
            assert time.monotonic() < deadline, "the dead worker was not replaced in 30 s"
            await asyncio.sleep(0.1)
        assert survivor in children(parent.pid), "the surviving worker was restarted"
        [fresh] = children(parent.pid) - {survivor}
        await parent.wait_listening(count=3)

        # The new worker serves: a session resumes on it and relays through it.
        away, staying = pairs[0]
        cut(staying.ws)
        ws = await connect_to_worker(http, parent, port, fresh, {fresh, survivor})
        welcome = await come_back(staying, ws)
        assert (welcome.get("resumed"), welcome["session"]) == (True, staying.session), welcome
        await relay(away, staying, "via-new-worker")
        await relay(staying, away, "from-new-worker")
        # The same user on a second device, whichever worker it reaches: the same identity.
        newcomer = await sign_in(http, parent, token=away.token)
        assert newcomer.user == away.user

        stopped_in = await parent.terminate(timeout=30)
        assert parent.process.returncode == 0, parent.log()[-2000:]
        for tab in (*(tab for pair in pairs for tab in pair), newcomer):
            code, _ = await read_close(tab.ws, timeout=1)
            assert code == 1012, f"closed with {code}, not 1012 (restart: resume elsewhere)"
        assert not any(alive(pid) for pid in (survivor, fresh)), "workers outlived the parent"
        print(f"--workers 2 stopped {stopped_in:.1f} s after SIGTERM")


# --- 3. a soak: hundreds of clients, random drops, resumes on random nodes ----------------------

SOAK_NODES = 3
SOAK_PAIRS = 250
SOAK_MESSAGES = 100
# After each message a client sends, the chance that its network drops right then.
DROP_CHANCE = 0.006
MAX_DROPS_PER_CLIENT = 3
PACE_SECONDS = 0.05
SOAK_SEED = 20261121
SOAK_ARGS = (
    "--resume-window", "30",
    "--connections-per-client", "100000",
    "--messages-per-second", "1000",
    "--message-burst", "1000",
)  # fmt: skip
CONNECT_CONCURRENCY = 50
SOAK_SECONDS = 90.0


@dataclasses.dataclass(eq=False)
class SoakClient:
    """One soak client: it sends numbered candidates to its peer and keeps, in order, the
    numbers it receives from its peer; anything else it notices is a problem."""

    index: int
    tab: Tab
    node: int
    peer: "SoakClient | None" = None
    received: list[int] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)
    drops: int = 0
    moved: int = 0
    syncs: int = 0
    reader: "asyncio.Task[None] | None" = None
    waiting: dict[str, "asyncio.Future[None]"] = dataclasses.field(default_factory=dict)

    def start_reading(self) -> None:
        self.reader = asyncio.get_running_loop().create_task(self._read(self.tab.ws))

    async def stop_reading(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
            self.reader = None

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        assert self.peer is not None
        for _ in range(100_000):
            frame = await ws.receive()
            if frame.type is not aiohttp.WSMsgType.TEXT:
                if ws is self.tab.ws:
                    self.problems.append(f"socket closed under the client: {frame.type.name}")
                return
            message = json.loads(frame.data)
            seq = message.pop("seq", None)
            if not isinstance(seq, int) or seq <= self.tab.last_seq:
                self.problems.append(f"repeat or unnumbered: seq {seq} after {self.tab.last_seq}")
                continue
            if seq != self.tab.last_seq + 1:
                self.problems.append(f"gap: seq {seq} after {self.tab.last_seq}")
            self.tab.last_seq = seq
            if message["type"] == "candidate" and message["from"] == self.peer.tab.session:
                sender, number = label_of(message).split("-")
                if int(sender) != self.peer.index:
                    self.problems.append(f"from the wrong sender: {message}")
                self.received.append(int(number))
            elif message["type"] == "error" and message.get("id") in self.waiting:
                if not is_sync_reply(message, message["id"]):
                    self.problems.append(f"sync refused: {message}")
                self.waiting.pop(message["id"]).set_result(None)
            else:
                self.problems.append(f"unexpected: {message}")

    async def sync(self) -> None:
        """Waits until every frame this client sent has been handled by the cluster."""
        self.syncs += 1
        tag = f"sync-{self.syncs}"
        self.waiting[tag] = asyncio.get_running_loop().create_future()
        await self.tab.send(sync_request(tag))
        await asyncio.wait_for(self.waiting[tag], 30)

    async def drop_and_resume(
        self, http: aiohttp.ClientSession, nodes: list[Node], rng: random.Random
    ) -> None:
        """The network drops (no close frame; what the socket held unread is lost), and the
        client comes back, with its lastSeq, to a node picked at random."""
        # Only what the cluster has taken counts as sent: a frame in flight when a connection
        # resets may be lost, and clients do not count on it.
        await self.sync()
        await self.stop_reading()
        cut(self.tab.ws)
        self.drops += 1
        await asyncio.sleep(rng.uniform(0, 0.3))
        node = rng.randrange(len(nodes))
        self.moved += node != self.node
        self.node = node
        welcome = await come_back(self.tab, await connect(http, nodes[node]))
        if not welcome.get("resumed") or welcome["session"] != self.tab.session:
            self.problems.append(f"session lost on resume: {welcome}")
            return
        self.start_reading()

    async def run(self, http: aiohttp.ClientSession, nodes: list[Node], rng: random.Random) -> None:
        assert self.peer is not None
        for number in range(SOAK_MESSAGES):
            await self.tab.send(candidate(self.peer.tab.session, f"{self.index}-{number}"))
            await asyncio.sleep(rng.uniform(0, PACE_SECONDS))
            if self.drops < MAX_DROPS_PER_CLIENT and rng.random() < DROP_CHANCE:
                await self.drop_and_resume(http, nodes, rng)
                if self.reader is None:
                    return
        await self.sync()


async def soak_pair(
    http: aiohttp.ClientSession, nodes: list[Node], pair: int, limit: asyncio.Semaphore
) -> tuple[SoakClient, SoakClient]:
    """Two clients on two different nodes, in one room."""
    async with limit:
        first_node, second_node = pair % len(nodes), (pair + 1) % len(nodes)
        first = SoakClient(2 * pair, await sign_in(http, nodes[first_node]), first_node)
        second = SoakClient(2 * pair + 1, await sign_in(http, nodes[second_node]), second_node)
        room = f"soak-{pair}"
        for client in (first, second):
            await client.tab.send({"type": "join", "room": room, "id": 1})
            await client.tab.next_of("joined", timeout=20)
        assert (await first.tab.next_of("peer-joined", timeout=20))["peer"] == second.tab.session
        first.peer, second.peer = second, first
        return first, second


async def test_a_soak_of_hundreds_of_clients_dropping_and_resuming_on_random_nodes(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """500 clients over 3 nodes, 250 room pairs split across nodes, each client sending 100
    numbered candidates to its peer; at random moments clients lose their socket (reset, no
    close frame) and resume on a random node. Every message arrives exactly once and in
    order, no session is lost, and every node's replica ends with the same sessions."""
    # This process holds every client socket (and the nodes inherit its limit).
    wanted = 4 * SOAK_PAIRS * 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"open files are limited to {hard}; the soak needs {wanted}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    rng = random.Random(SOAK_SEED)
    async with cluster(redis_server.url, tmp_path) as nodes, http_client() as http:
        members = await nodes.start(SOAK_NODES, *SOAK_ARGS)
        started = time.monotonic()
        limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
        pairs = await asyncio.wait_for(
            asyncio.gather(*(soak_pair(http, members, p, limit) for p in range(SOAK_PAIRS))),
            SOAK_SECONDS,
        )
        clients = [client for pair in pairs for client in pair]
        connected = time.monotonic()
        for client in clients:
            client.start_reading()
        runs = [client.run(http, members, random.Random(rng.random())) for client in clients]
        await asyncio.wait_for(asyncio.gather(*runs), SOAK_SECONDS)
        sent = time.monotonic()

        deadline = sent + 30
        while any(len(c.received) < SOAK_MESSAGES for c in clients):
            if time.monotonic() > deadline or any(c.problems for c in clients):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # room for a late repeat to show up
        for client in clients:
            await client.stop_reading()
        finished = time.monotonic()

        drops = sum(c.drops for c in clients)
        received = sum(len(c.received) for c in clients)
        print(
            f"soak: {len(clients)} clients on {SOAK_NODES} nodes, "
            f"{len(clients) * SOAK_MESSAGES} messages sent, {received} received, "
            f"{drops} drops ({sum(c.moved for c in clients)} resumed on another node); "
            f"connect {connected - started:.1f} s, send {sent - connected:.1f} s, "
            f"drain {finished - sent:.1f} s"
        )
        problems = [(c.index, p) for c in clients for p in c.problems]
        assert not problems, f"{len(problems)} problems, first ones: {problems[:10]}"
        wrong = [
            (c.index, len(c.received), sorted(set(range(SOAK_MESSAGES)) - set(c.received))[:5])
            for c in clients
            if c.received != list(range(SOAK_MESSAGES))
        ]
        assert not wrong, f"{len(wrong)} clients got the wrong messages, e.g. {wrong[:10]}"
        lost = sum(SOAK_MESSAGES - len(set(c.received)) for c in clients)
        repeated = received - sum(len(set(c.received)) for c in clients)
        assert (lost, repeated) == (0, 0)
        assert drops >= 50, f"only {drops} drops: the soak did not test resuming"

        # Every replica agrees: all sessions connected, none away, every room whole.
        for node in members:
            await wait_for_metric(http, node, CONNECTED, len(clients), 10)
            levels = await metrics(http, node)
            assert (levels[AWAY], levels["parley_rooms"]) == (0, SOAK_PAIRS), node.name
        for client in clients:
            await client.tab.ws.close()


# --- 4. Redis restarted empty under running nodes ---------------------------------------------


async def probe_until_unavailable(tab: Tab, seconds: float) -> int:
    """Sends requests until one is answered `unavailable` (the node cannot reach Redis);
    returns how many went out. Every other answer must be the normal one."""
    deadline = time.monotonic() + seconds
    for attempt in range(1000):
        assert time.monotonic() < deadline, f"no `unavailable` within {seconds} s"
        tag = f"probe-{attempt}"
        await tab.send(sync_request(tag))
        reply = await tab.next_of("error")
        assert reply["id"] == tag, reply
        if reply["code"] == "unavailable":
            return attempt + 1
        assert is_sync_reply(reply, tag), reply
        await asyncio.sleep(0.1)
    pytest.fail("1000 probes and never `unavailable`")


async def rejoin(
    http: aiohttp.ClientSession, tab: Tab, node: Node, seconds: float
) -> dict[str, Any]:
    """The client comes back after a 1012: retries (bounded) while the node is not serving
    yet (503), then says hello with its token and resume token."""
    deadline = time.monotonic() + seconds
    for _ in range(1000):
        try:
            ws = await connect(http, node)
        except aiohttp.WSServerHandshakeError as refused:
            assert refused.status == 503, refused
            assert time.monotonic() < deadline, f"{node.name} did not serve again in {seconds} s"
            await asyncio.sleep(0.2)
            continue
        welcome = await come_back(tab, ws, presence=True)
        if not welcome.get("resumed"):
            tab.ws, tab.session, tab.last_seq = ws, welcome["session"], 0
            tab.resume, tab.instance = welcome["resume"], welcome["instance"]
        return welcome
    pytest.fail("1000 attempts to reconnect")


async def test_redis_restarted_empty_ends_ringing_calls_closes_1012_and_calls_are_taken_back(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Redis dies under two running nodes: messages are answered `unavailable` (never silence)
    and new sockets are refused. It comes back empty: each node ends the call that was ringing
    (both sides told), closes every socket with 1012, and the cluster starts a new generation
    (a new `instance`, the same on both nodes). The answered call is taken back with
    `resume-call`, and nothing is left ringing: the same users can call again."""
    async with cluster(redis_server.url, tmp_path) as nodes, http_client() as http:
        p1, p2 = await nodes.start(2, *NODE_ARGS)
        ana = await sign_in(http, p1, name="Ana", presence=True)
        bo = await sign_in(http, p2, name="Bo", presence=True)
        cy = await sign_in(http, p1, name="Cy", presence=True)
        di = await sign_in(http, p2, name="Di", presence=True)
        answered = await place_call(cy, di)
        await ana.send({"type": "invite", "to": bo.user, "media": "video", "id": "ring"})
        ringing = (await ana.next_of("ringing"))["call"]
        assert (await bo.next_of("incoming-call"))["call"] == ringing
        old_instance = ana.instance
        assert {tab.instance for tab in (ana, bo, cy, di)} == {old_instance}

        redis_server.stop()
        # A frame that arrives in the very moment a node loses Redis may go unanswered (see
        # the next test); this one waits until the nodes have noticed.
        await asyncio.sleep(0.5)
        for tab in (ana, bo):
            await probe_until_unavailable(tab, 15)
        for node in (p1, p2):
            async with http.get(node.url + "/readyz") as ready:
                assert ready.status == 503, f"{node.name} says it is ready without Redis"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await connect(http, p2)
        assert refused.value.status == 503

        redis_server.start()
        for tab in (ana, bo):
            code, said = await read_close(tab.ws, timeout=20)
            endings = [(m["call"], m["reason"]) for m in said if m["type"] == "call-ended"]
            assert endings == [(ringing, "connection-lost")], said
            assert code == 1012
        for tab in (cy, di):
            code, said = await read_close(tab.ws, timeout=20)
            assert code == 1012
            assert not [m for m in said if m["type"] == "call-ended"], "the answered call ended"

        for tab, node in ((ana, p1), (bo, p2), (cy, p2), (di, p1)):
            welcome = await rejoin(http, tab, node, 20)
            assert welcome.get("resumed", False) is False, "the log is gone: no session can resume"
            assert welcome["user"]["id"] == tab.user, "the same secret: the same user"
        assert len({tab.instance for tab in (ana, bo, cy, di)}) == 1, "one generation for all"
        assert ana.instance != old_instance, "a new generation says so in `instance`"

        # The answered call is taken back, across nodes, and goes on.
        claim = {
            "type": "resume-call",
            "call": answered,
            "media": "audio",
            "ticket": TICKETS[answered],
        }
        await cy.send({**claim, "peer": di.user, "role": "caller", "id": "mine"})
        await di.send({**claim, "peer": cy.user, "role": "callee", "id": "mine"})
        for tab, peer in ((cy, di), (di, cy)):
            resumed = await tab.next_of("call-resumed", timeout=10)
            assert (resumed["call"], resumed["peer"]) == (answered, peer.session), resumed
        await relay(cy, di, "again")

        # Nothing rings any more: Ana calls Bo afresh, and Bo declines.
        await ana.send({"type": "invite", "to": bo.user, "media": "video", "id": "again"})
        second = await ana.next_of("ringing", timeout=10)
        assert second["call"] != ringing
        assert (await bo.next_of("incoming-call"))["call"] == second["call"]
        await bo.send({"type": "reject", "call": second["call"]})
        for tab in (ana, bo):
            ended = await tab.next_of("call-ended")
            assert (ended["call"], ended["reason"]) == (second["call"], "declined"), ended
        for node in (p1, p2):
            levels = await metrics(http, node)
            assert levels.get('parley_calls{state="ringing"}', 0) == 0, node.name


@contextlib.contextmanager
def redis_hung(redis_server: RedisServer) -> Iterator[None]:
    """Redis stops answering (SIGSTOP: a hung server, or a partition that drops no connection)
    for as long as the block runs; it then goes on with its data whole."""
    # The test's own Redis process: the fixture gives no other way to its pid.
    assert redis_server._process is not None
    pid = redis_server._process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def refused_within(tab: Tab, labels: list[str], seconds: float) -> list[str]:
    """The ids of the `unavailable` answers `tab` gets within `seconds`, until all of `labels`
    are answered; any other message fails the test."""
    refused: list[str] = []
    deadline = time.monotonic() + seconds
    while len(refused) < len(labels):
        message = await tab.read_within(deadline - time.monotonic())
        if message is None:
            break
        assert (message["type"], message.get("code")) == ("error", "unavailable"), message
        refused.append(message["id"])
    return refused


async def send_until_taken(ana: Tab, bo: Tab) -> tuple[list[str], list[str]]:
    """After Redis answers again: Ana sends a candidate (and a request that must be answered)
    until one is taken rather than refused. Returns the ids Ana got `unavailable` for meanwhile
    (late settlements included), and the labels of the candidates Bo got up to the taken one."""
    refused: list[str] = []
    accepted = None
    deadline = time.monotonic() + 30
    for attempt in range(100):
        assert time.monotonic() < deadline, "the nodes did not take frames again in 30 s"
        label = f"after-{attempt}"
        await ana.send({**candidate(bo.session, label), "id": label})
        await ana.send(sync_request(f"{label}-sync"))
        answers: list[str] = []
        for _ in range(10):
            message = await ana.read_within(10)
            assert message is not None, "no answer to the sync request"
            if is_sync_reply(message, f"{label}-sync"):
                break
            assert (message["type"], message.get("code")) == ("error", "unavailable"), message
            answers.append(message["id"])
            if message["id"] == f"{label}-sync":
                break
        refused += answers
        if label not in answers:
            accepted = label
            break
        await asyncio.sleep(0.5)
    got: list[str] = []
    for _ in range(20):
        delivered = label_of(await bo.next_of("candidate", timeout=10))
        got.append(delivered)
        if delivered == accepted:
            break
    assert got[-1] == accepted, got
    return refused, got


async def test_every_frame_sent_while_redis_hangs_is_refused_or_delivered_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Redis hangs while Ana keeps sending to Bo. The frames her node had not handed to Redis
    yet are answered `unavailable` within its socket timeout, while Redis still hangs. The one
    it had handed over is in doubt until Redis answers again; then it is settled: either it is
    in the log (Bo gets it, once) or it is shut out for good (Ana gets `unavailable`). One or
    the other: never both, never neither."""
    async with cluster(redis_server.url, tmp_path) as nodes, http_client() as http:
        p1, p2 = await nodes.start(2, *NODE_ARGS)
        ana, bo = await room_pair(http, p1, p2)
        labels = [f"hung-{n}" for n in range(4)]
        with redis_hung(redis_server):
            for label in labels:
                await ana.send({**candidate(bo.session, label), "id": label})
                await asyncio.sleep(0.2)
            refused = await refused_within(ana, labels[1:], REDIS_TIMEOUT + 5)
        assert refused == labels[1:], f"not answered while Redis hung: {refused}"

        refused_late, got = await send_until_taken(ana, bo)
        refused_late = [a for a in refused_late if a.startswith("hung-")]
        hung_delivered = [g for g in got if g.startswith("hung-")]
        assert sorted(hung_delivered + refused_late) == ["hung-0"], (hung_delivered, refused_late)


async def test_a_frame_refused_as_unavailable_is_never_delivered_after_all(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Ana's second candidate is answered `unavailable` while Redis hangs (the first one is in
    flight: in doubt until Redis answers), so her client will send it again. When Redis answers
    again (its log whole), the refused frame must not reach Bo after all."""
    async with cluster(redis_server.url, tmp_path) as nodes, http_client() as http:
        p1, p2 = await nodes.start(2, *NODE_ARGS)
        ana, bo = await room_pair(http, p1, p2)
        with redis_hung(redis_server):
            await ana.send({**candidate(bo.session, "in-flight"), "id": "in-flight"})
            await asyncio.sleep(0.2)
            await ana.send({**candidate(bo.session, "refused"), "id": "refused"})
            assert await refused_within(ana, ["refused"], REDIS_TIMEOUT + 5) == ["refused"]

        refused_late, got = await send_until_taken(ana, bo)
        assert "refused" not in refused_late, "refused twice"
        assert "refused" not in got, f"Bo got {got}: a frame refused to Ana, after all"


# --- 5. stopping `--workers` while they start -------------------------------------------------


async def test_sigterm_stops_workers_promptly_even_while_they_are_starting(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Workers wait for the migration lock (another node is migrating the database) when
    SIGTERM comes: they must stop then and there, as a single `parley serve` does, not ignore
    the signal until the parent's 40 s patience runs out and it kills them."""
    holder = redis.from_url(redis_server.url)
    try:
        # Another node's migration, as far as the workers can tell.
        await holder.set("parley:migrating", "another-node", px=120_000)
        async with cluster(redis_server.url, tmp_path) as nodes:
            parent = nodes.spawn("--workers", "2", port=free_port(), name="workers")
            deadline = time.monotonic() + 20
            while len(children(parent.pid)) < 2:
                assert time.monotonic() < deadline, "the workers did not start"
                await asyncio.sleep(0.1)
            await asyncio.sleep(2)  # the workers are inside their start-up now
            workers = children(parent.pid)
            assert "listening" not in parent.output(), "the lock did not hold the workers up"
            took = await parent.terminate(timeout=60)
            assert not any(alive(pid) for pid in workers)
            assert took < 10, f"--workers took {took:.1f} s to stop on SIGTERM during start-up"
    finally:
        await holder.aclose()
