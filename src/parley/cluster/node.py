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

import redis.asyncio as redis

from parley.cluster.events import NodeLeft
from parley.cluster.membership import Membership

log = logging.getLogger(__name__)

START_SECONDS = 30.0
LEAVE_SECONDS = 5.0


class ClusterHub(Membership):
    """The hub of a cluster node. It owns:

    - its replica of the cluster's state (`replica`: the core, the nodes, which node holds
      which socket, the timers due) and its name in the cluster (`node`);
    - its own sockets and timers, and the outbox of events they raise (parley.cluster.local);
    - its connection to Redis, the log it follows and the loops that append to it, read it,
      beat, and hand snapshots to joining nodes (parley.cluster.pump);
    - its membership: joining, recovering from a Redis outage, starting over when the log is
      lost, rejoining when declared lost (parley.cluster.membership);
    - the seal (keyed by the cluster's secret) on every entry it appends and snapshot it hands
      over, without which it refuses what it reads (parley.cluster.seal).
    """

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
                await asyncio.wait_for(self._left.wait(), LEAVE_SECONDS)
            except TimeoutError:
                log.warning("leaving the cluster: Redis did not confirm in time")
        if self._runner is not None:
            self._runner.cancel()
        if self._log is not None:
            with contextlib.suppress(redis.RedisError, OSError):
                await self._log.forget_node(self.node)
        await self._redis.aclose()
