"""A cluster node's membership: joining (founding a generation, or taking a running one's
state), and coming back when Redis went away, lost the log, or the cluster declared the node
lost."""

import asyncio
import contextlib
import logging
import time

import redis.asyncio as redis

from parley.cluster.events import NodeJoined, SyncRequest
from parley.cluster.pump import Evicted, LogPump
from parley.cluster.redis_log import (
    GenerationGone,
    RedisLog,
    connect,
    current_generation,
    found_generation,
)
from parley.cluster.seal import Refused
from parley.core.ids import random_id

log = logging.getLogger(__name__)

SYNC_WAIT_SECONDS = 5.0
RECONNECT_WAIT_SECONDS = (0.1, 0.2, 0.5, 1.0, 2.0)


class Membership(LogPump):
    async def _run(self) -> None:
        """Runs the log loops, and brings the node back each time they stop."""
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
            running = self._log_of(generation)
            if await running.any_node_beating():
                return await self._sync_from(running)
        founded = random_id()
        if not await found_generation(self._redis, generation, founded, self.node):
            return False  # another node founded one first: join that
        if generation is not None:
            await self._log_of(generation).drop()
        log.info("founded cluster generation %s", founded)
        self.replica.clear(founded)
        self.founded_at = time.time()
        if self.on_founded is not None:
            self.on_founded(self.founded_at)
        self._log = self._log_of(founded)
        await self._log.append(self.node, [NodeJoined(self.node)])
        return True

    async def _sync_from(self, running: RedisLog) -> bool:
        log.debug("node %s: asking for the state of %s", self.node, running.generation)
        await running.append(self.node, [SyncRequest(self.node)])
        try:
            snapshot = await running.take_snapshot(self.node, wait=SYNC_WAIT_SECONDS)
        except Refused as refusal:
            # Anyone with access to Redis can push to the sync key. Asking again (under a new
            # name) is the safe answer: founding a generation instead, as with no snapshot
            # from a dead cluster, would replace the running one's log and make all its nodes
            # start over, whenever someone pushed garbage here.
            log.warning("refused the snapshot handed to this node: %s; asking again", refusal)
            return False
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
            self._log = self._log_of(self._log.generation)
        with contextlib.suppress(redis.RedisError, OSError):
            await stale.aclose()
