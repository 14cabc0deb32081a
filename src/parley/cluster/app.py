"""A Parley app as one node of a cluster: the server's app with its hub made here, a replica
of the core that follows the cluster's log in Redis."""

import contextlib
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from parley.cluster.ids import EventIds
from parley.cluster.node import ClusterHub
from parley.cluster.redis_log import PREFIX, check_secret, connect
from parley.config import ServerSettings
from parley.core.signaling import SignalingCore
from parley.server.app import create_app
from parley.server.hub import HistorySink
from parley.server.hubs import Started, identities_for, ticket_key
from parley.server.metrics import Metrics

# Held 60 s at most: a node killed while migrating must not block the others long.
MIGRATION_LOCK_SECONDS = 60
MIGRATION_WAIT_SECONDS = 120


class RedisCluster:
    """The hub source of a cluster node (see parley.server.hubs.HubSource)."""

    def __init__(self, redis_url: str) -> None:
        self._url = redis_url
        self._client = connect(redis_url)

    @contextlib.asynccontextmanager
    async def migrating(self) -> AsyncIterator[object]:
        # Nodes starting together must not run the same migration at once.
        lock = self._client.lock(
            f"{PREFIX}:migrating",
            timeout=MIGRATION_LOCK_SECONDS,
            blocking_timeout=MIGRATION_WAIT_SECONDS,
        )
        async with lock:
            yield lock

    async def start(
        self,
        settings: ServerSettings,
        history: HistorySink,
        metrics: Metrics,
        sweep_after: Callable[[float], None],
    ) -> Started:
        secret = settings.resolved_secret()
        await check_secret(self._client, secret)
        # Every replica must draw the same ids for the same event.
        ids = EventIds(secret, "")
        identities = identities_for(settings, new_id=ids)
        core = SignalingCore(
            settings.core,
            new_id=ids,
            identities=identities,
            new_token=ids,
            ticket_key=ticket_key(secret),  # every node signs and checks alike
        )
        hub = ClusterHub(core, ids, self._url, history, metrics, secret=secret)
        # Only the node that starts the log afresh knows which calls were taken back.
        hub.on_founded = sweep_after
        await hub.start()
        return Started(hub, identities)

    async def close(self) -> None:
        await self._client.aclose()


def create_cluster_app(settings: ServerSettings) -> web.Application:
    """The app of a node of the cluster whose Redis is `settings.redis_url`."""
    if not settings.redis_url:
        raise ValueError("a cluster node needs the cluster's Redis URL")
    return create_app(settings, RedisCluster(settings.redis_url))
