"""A cluster node's traffic with the log: appending what its sockets and timers raise, reading
back every node's entries in the cluster's order through its replica, beating, and handing its
state to nodes that join."""

import asyncio
import logging

from parley.cluster.events import (
    EndCallByApp,
    Event,
    NodeJoined,
    NodeLeft,
    NodeLost,
    SyncRequest,
)
from parley.cluster.local import NodeLocal
from parley.cluster.redis_log import HEARTBEAT_SECONDS, HEARTBEAT_TTL_SECONDS, Entry, GenerationGone
from parley.cluster.seal import Refused

log = logging.getLogger(__name__)

READ_BLOCK_MS = 1000
BATCH = 500


class Evicted(Exception):
    """The cluster declared this node lost (it stopped beating for a while)."""


class LogPump(NodeLocal):
    """The loops a node runs while it is a member (parley.cluster.membership restarts them)."""

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
        event = self._open(entry)
        effects = self.replica.apply(entry.number, entry.id, event, entry.time)
        self._apply(effects, origin_here=entry.origin == self.node)
        match event:
            case NodeJoined(node) if node == self.node:
                self._joined.set()
            case NodeLeft(node) if node == self.node:
                self._left.set()
            case NodeLost(node) if node == self.node and not self._leaving:
                raise Evicted(node)
            case SyncRequest(node) if self.replica.sync_source(node) == self.node:
                log.debug("node %s: handing the state to %s", self.node, node)
                self._hand_snapshot(node)
            case EndCallByApp(request) if entry.origin == self.node:
                ending = self.replica.app_ending
                assert ending is not None
                self._answer_app(request, ending)

    def _open(self, entry: Entry) -> Event | None:
        """The entry's event, or None for one refused: not sealed by a node of this cluster
        (anyone with access to Redis can add entries), of another release, or replayed. Every
        replica refuses the same entries, so they still agree."""
        assert self._log is not None
        try:
            stamped = self._log.open(entry)
        except Refused as refusal:
            log.warning("refused log entry %d (from %r): %s", entry.number, entry.origin, refusal)
            return None
        if not self.replica.admit(entry.origin, stamped.seq):
            log.warning("refused log entry %d (from %r): replayed", entry.number, entry.origin)
            return None
        return stamped.event

    def _hand_snapshot(self, node: str) -> None:
        assert self._log is not None
        sealed = self._log.seal_snapshot(node, self.replica.snapshot())
        task = self._loop.create_task(self._log.hand_snapshot(node, sealed))
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
