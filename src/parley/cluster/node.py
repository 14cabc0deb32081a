"""A Parley process as one node of a cluster: its sockets' events go into the shared log, and
the log comes back, in the cluster's order, through this node's replica of the core.

Nothing a socket sends is handled where it arrives: it is appended, and handled when it comes
back from Redis, by every node alike. So room capacity, presence and call states agree on every
node without locks, a session can resume on any node (every replica keeps its replay log), and
a node that dies loses nothing but its sockets.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

import redis.asyncio as redis

from parley.backplane.base import SessionSink
from parley.backplane.memory import MemoryBackplane
from parley.cluster.events import (
    Binary,
    Closed,
    Connected,
    Event,
    NodeJoined,
    NodeLeft,
    NodeLost,
    SyncRequest,
    Text,
    TimerFired,
)
from parley.cluster.ids import EventIds
from parley.cluster.redis_log import (
    HEARTBEAT_SECONDS,
    HEARTBEAT_TTL_SECONDS,
    Entry,
    GenerationGone,
    RedisLog,
    connect,
    current_generation,
    found_generation,
)
from parley.cluster.replica import Replica
from parley.core.effects import StartTimer, TimerKey
from parley.core.ids import random_id
from parley.core.signaling import SignalingCore
from parley.protocol.close_codes import CloseCode
from parley.protocol.codec import DecodeFailure, decode_client_frame, encode
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import Error
from parley.server.hub import HistorySink, Hub
from parley.server.metrics import Metrics

log = logging.getLogger(__name__)

READ_BLOCK_MS = 1000
BATCH = 500
# A timer's deadline passed and the oldest node did not report it: the node it was meant for
# may be dead (and not yet declared so). Any node reports it this much later.
TIMER_TAKEOVER_SECONDS = 2.0
SYNC_WAIT_SECONDS = 5.0
START_SECONDS = 30.0
RECONNECT_WAIT_SECONDS = (0.1, 0.2, 0.5, 1.0, 2.0)


class Evicted(Exception):
    """The cluster declared this node lost (it stopped beating for a while)."""


class ClusterHub(Hub):
    _count_undelivered = False

    def __init__(
        self,
        core: SignalingCore,
        ids: EventIds,
        redis_url: str,
        history: HistorySink,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(core, MemoryBackplane(), history, metrics)
        self.ids = ids
        self.replica = Replica(core, ids)
        self._redis_url = redis_url
        self._redis = connect(redis_url)
        self._log: RedisLog | None = None
        self.node = ""
        # When this node started its generation (it then finishes calls an earlier one left).
        self.founded_at: float | None = None
        # Told when this node starts a generation (the app then finishes the calls an earlier
        # one left open).
        self.on_founded: Callable[[float], None] | None = None
        self._outbox: list[Event] = []
        self._outbox_ready = asyncio.Event()
        # Batches this node appended (numbered, so that a late one can be shut out), and the
        # one whose append had no answer yet.
        self._batches = 0
        self._unsettled: tuple[int, list[Event]] | None = None
        # Closes seen while Redis was away: the cluster must still hear of them.
        self._held_closes: list[Closed] = []
        self._available = False
        self._joined = asyncio.Event()
        self._left = asyncio.Event()
        self._leaving = False
        self._runner: asyncio.Task[None] | None = None
        self._snapshots: set[asyncio.Task[None]] = set()

    # --- life ----------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._available and self._joined.is_set() and not self._leaving

    async def start(self) -> None:
        async with asyncio.timeout(START_SECONDS):
            await self._join()
            self._runner = asyncio.get_running_loop().create_task(self._run())
            await self._joined.wait()

    async def leave(self) -> None:
        """Stops in good order: the cluster hears that this node's sockets are closing for
        their clients to resume elsewhere; ringing calls end only if no node is left."""
        self._leaving = True
        if self._available and self._joined.is_set():
            self._enqueue(NodeLeft(self.node))
            try:
                await asyncio.wait_for(self._left.wait(), 5.0)
            except TimeoutError:
                log.warning("leaving the cluster: Redis did not confirm in time")
        if self._runner is not None:
            self._runner.cancel()
        if self._log is not None:
            with contextlib.suppress(redis.RedisError, OSError):
                await self._log.forget_node(self.node)
        await self._redis.aclose()

    # --- the socket side --------------------------------------------------------------------

    def open(self, sink: SessionSink) -> str:
        connection = random_id()
        self._register(connection, sink)
        if self.ready:
            self._enqueue(Connected(self.node, connection))
        else:
            sink.close(CloseCode.SERVICE_RESTART, "server not ready")
        return connection

    def on_text(self, connection: str, frame: str) -> None:
        self.metrics.received += 1
        if self._available:
            self._enqueue(Text(connection, frame))
        else:
            self._unavailable(connection, frame)

    def on_binary(self, connection: str) -> None:
        if self._available:
            self._enqueue(Binary(connection))
        else:
            self._unavailable(connection, None)

    def close(self, connection: str, *, resumable: bool) -> None:
        sink = self._sinks.pop(connection, None)
        if sink is None:
            return
        # The session this socket was bound to here: the core may have moved it to a socket
        # on another node already (a takeover), and must not be asked.
        self.backplane.detach(self._serves.pop(connection, connection), sink)
        event = Closed(connection, resumable)
        if self._available:
            self._enqueue(event)
        else:
            self._held_closes.append(event)

    def _unavailable(self, connection: str, frame: str | None) -> None:
        """Answers a frame that cannot enter the log (Redis is away): never silence."""
        sink = self._sinks.get(connection)
        if sink is None:
            return
        decoded = None if frame is None else decode_client_frame(frame)
        request_id = None if decoded is None or isinstance(decoded, DecodeFailure) else decoded.id
        error = Error(
            id=request_id,
            code=ErrorCode.UNAVAILABLE,
            message="the server cannot reach its cluster; this message was not delivered",
        )
        sink.push(encode(error))
        self.metrics.message_sent(error)

    def _enqueue(self, event: Event) -> None:
        self._outbox.append(event)
        self._outbox_ready.set()

    # --- timers: one node reports each, and every replica fires it once ------------------------

    def _fire(self, key: TimerKey) -> None:
        self._timers.pop(key, None)
        deadline = self.replica.deadlines.get(key)
        if deadline is None:
            return
        if self.replica.timer_node == self.node:
            self._enqueue(TimerFired(key[0], key[1], deadline))
        else:
            self._timers[key] = self._loop.call_later(
                TIMER_TAKEOVER_SECONDS, self._fire_late, key, deadline
            )

    def _fire_late(self, key: TimerKey, deadline: float) -> None:
        self._timers.pop(key, None)
        if self.replica.deadlines.get(key) == deadline:
            self._enqueue(TimerFired(key[0], key[1], deadline))

    def _schedule_all_timers(self) -> None:
        for key, deadline in self.replica.deadlines.items():
            self._apply([StartTimer(key, deadline)], origin_here=False)

    # --- the log side ---------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._read())
                    group.create_task(self._write())
                    group.create_task(self._watch())
            except BaseExceptionGroup as failure:
                log.debug("node %s: the log loops stopped", self.node, exc_info=failure)
                if failure.subgroup(GenerationGone):
                    log.warning("the cluster's log is gone (Redis lost it): starting over")
                    await self._start_over()
                elif failure.subgroup(Evicted):
                    log.warning("the cluster declared this node lost: rejoining")
                    await self._rejoin()
                elif failure.subgroup((redis.RedisError, OSError)):
                    log.warning("lost Redis: %s", failure.exceptions[0])
                    await self._recover()
                else:
                    raise

    async def _read(self) -> None:
        assert self._log is not None
        while True:
            entries = await self._log.read(self.replica.position.entry, READ_BLOCK_MS)
            for entry in entries:
                if entry.number != self.replica.position.number + 1:
                    # Trimmed past us, or Redis came back from an older save.
                    raise GenerationGone(self._log.generation)
                self._apply_entry(entry)

    def _apply_entry(self, entry: Entry) -> None:
        effects = self.replica.apply(entry.number, entry.id, entry.event, entry.time)
        self._apply(effects, origin_here=entry.origin == self.node)
        match entry.event:
            case NodeJoined(node) if node == self.node:
                self._joined.set()
            case NodeLeft(node) if node == self.node:
                self._left.set()
            case NodeLost(node) if node == self.node and not self._leaving:
                raise Evicted(node)
            case SyncRequest(node) if self.replica.sync_source(node) == self.node:
                log.debug("node %s: handing the state to %s", self.node, node)
                self._hand_snapshot(node, self.replica.snapshot())

    def _hand_snapshot(self, node: str, snapshot: bytes) -> None:
        assert self._log is not None
        task = self._loop.create_task(self._log.hand_snapshot(node, snapshot))
        self._snapshots.add(task)
        task.add_done_callback(self._snapshots.discard)

    async def _write(self) -> None:
        assert self._log is not None
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            while self._outbox:
                batch, self._outbox = self._outbox[:BATCH], self._outbox[BATCH:]
                self._batches += 1
                # Until Redis answers, the batch may or may not be in the log: that is settled
                # when Redis is back (its number, once taken, can never enter later).
                self._unsettled = (self._batches, batch)
                await self._log.append(self.node, batch, self._batches)
                self._unsettled = None

    def _refuse_outbox(self) -> None:
        """Events still waiting to be appended when Redis went away will not be: answer now."""
        waiting, self._outbox = self._outbox, []
        self._not_appended(waiting)

    def _not_appended(self, batch: Sequence[Event]) -> None:
        """Events Redis may not have taken. A frame is answered with an error; a close is kept
        for later; a socket that never entered the cluster is closed for its client to retry."""
        for event in batch:
            match event:
                case Text(connection, frame):
                    self._unavailable(connection, frame)
                case Closed():
                    self._held_closes.append(event)
                case Connected(_, connection):
                    sink = self._sinks.get(connection)
                    if sink is not None:
                        sink.close(CloseCode.SERVICE_RESTART, "server not ready")
                case _:
                    pass  # timers and node events are raised again by whoever sees them due

    async def _watch(self) -> None:
        """Beats for this node, and declares lost the nodes that stopped beating."""
        assert self._log is not None
        watching_since = self._loop.time()
        while True:
            await self._log.beat(self.node)
            # Right after Redis came back, the others have not beaten again yet.
            if self._loop.time() - watching_since >= HEARTBEAT_TTL_SECONDS:
                others = [node for node in self.replica.nodes if node != self.node]
                for node, alive in zip(others, await self._log.beating(others), strict=True):
                    if not alive:
                        self._enqueue(NodeLost(node))
            await asyncio.sleep(HEARTBEAT_SECONDS)

    # --- joining, and coming back ---------------------------------------------------------------

    async def _join(self) -> None:
        """Becomes a member: founds a generation when there is none (or only a dead one),
        otherwise takes a running one's state from one of its nodes."""
        attempt = 0
        while True:
            try:
                if await self._join_once():
                    self._available = True
                    return
            except (redis.RedisError, OSError) as exc:
                log.warning("joining the cluster: %s", exc)
                await self._fresh_connections()
            await asyncio.sleep(RECONNECT_WAIT_SECONDS[min(attempt, 4)])
            attempt += 1

    async def _join_once(self) -> bool:
        self.node = random_id()
        self._batches = 0
        self._joined.clear()
        generation = await current_generation(self._redis)
        if generation is not None:
            running = RedisLog(self._redis, generation)
            if await running.any_node_beating():
                return await self._sync_from(running)
        founded = random_id()
        if not await found_generation(self._redis, generation, founded, self.node):
            return False  # another node founded one first: join that
        if generation is not None:
            await RedisLog(self._redis, generation).drop()
        log.info("founded cluster generation %s", founded)
        self.replica.clear(founded)
        self.founded_at = time.time()
        if self.on_founded is not None:
            self.on_founded(self.founded_at)
        self._log = RedisLog(self._redis, founded)
        await self._log.append(self.node, [NodeJoined(self.node)])
        return True

    async def _sync_from(self, running: RedisLog) -> bool:
        log.debug("node %s: asking for the state of %s", self.node, running.generation)
        await running.append(self.node, [SyncRequest(self.node)])
        snapshot = await running.take_snapshot(self.node, wait=SYNC_WAIT_SECONDS)
        if snapshot is None:
            return False
        self.ids.start_generation(running.generation)
        self.replica.restore(snapshot)
        self.founded_at = None
        self._log = running
        await running.beat(self.node)
        self._schedule_all_timers()
        await running.append(self.node, [NodeJoined(self.node)])
        return True

    async def _recover(self) -> None:
        """Redis went away: wait for it, then go on where this node stopped if the log is
        whole, or start over."""
        self._available = False
        assert self._log is not None
        self._refuse_outbox()
        await self._fresh_connections()
        for attempt in range(1_000_000):
            await asyncio.sleep(RECONNECT_WAIT_SECONDS[min(attempt, 4)])
            try:
                whole = await self._log.still_current(self.replica.position.number)
                if whole and self._unsettled is not None:
                    number, batch = self._unsettled
                    if not await self._log.settle(self.node, number):
                        self._not_appended(batch)
                    self._unsettled = None
            except (redis.RedisError, OSError):
                continue
            if not whole:
                await self._start_over()
                return
            self._outbox[:0] = self._held_closes
            self._held_closes = []
            self._available = True
            self._outbox_ready.set()
            log.info("Redis is back; the log is whole")
            return

    async def _start_over(self) -> None:
        """The log is gone, and this replica's state with it: the calls that were ringing end
        for this node's clients, every socket closes with 1012, and the node joins afresh.
        Clients reconnect and (told by `welcome.instance`) rejoin rooms and take calls back."""
        self._available = False
        self._refuse_outbox()
        # Whether the last batch entered the lost log is unknown: its senders, like everyone,
        # are told by the close and the new `instance` that the server started over.
        self._unsettled = None
        self._apply(self.core.shutting_down(time.time()), origin_here=False)
        self._drop_sockets()
        self._held_closes.clear()
        await self._join()

    async def _rejoin(self) -> None:
        """Declared lost, this node's sockets no longer count: their clients resume (on any
        node, this one too), and the node joins again under a new name."""
        assert self._log is not None
        self._drop_sockets()
        self._schedule_all_timers()
        self.node = random_id()
        self._batches = 0
        self._joined.clear()
        self._enqueue(NodeJoined(self.node))

    async def _fresh_connections(self) -> None:
        """Connections to a Redis that went away are all dead, including any a cancelled
        command gives back to the pool later: start with a new client instead of meeting each
        one's error in turn."""
        stale, self._redis = self._redis, connect(self._redis_url)
        if self._log is not None:
            self._log = RedisLog(self._redis, self._log.generation)
        with contextlib.suppress(redis.RedisError, OSError):
            await stale.aclose()

    def _drop_sockets(self) -> None:
        for sink in list(self._sinks.values()):
            sink.close(CloseCode.SERVICE_RESTART, "server restarting")
        self._sinks.clear()
        self.backplane = MemoryBackplane()
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
