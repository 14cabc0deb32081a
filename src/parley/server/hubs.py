"""Where an app's hub comes from. The server knows one way to run: a single process
(`SingleProcess`). Other ways (a node of a Redis cluster: parley.cluster.app) are assembled
above the server and handed to `create_app`, so that the server imports nothing of them."""

import contextlib
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from parley.backplane.memory import MemoryBackplane
from parley.config import ServerSettings
from parley.core.ids import random_id
from parley.core.signaling import SignalingCore
from parley.identity import GuestIdentities, IdentityProvider, JwtIdentities
from parley.server.hub import HistorySink, Hub
from parley.server.metrics import Metrics


@dataclass(frozen=True, slots=True)
class Started:
    hub: Hub
    identities: IdentityProvider


class HubSource(Protocol):
    """What the app's services ask, in this order: `migrating` around the database migration,
    `start` once the call history runs, `close` after the hub left and the history stopped."""

    def migrating(self) -> contextlib.AbstractAsyncContextManager[object]:
        """Held while the database schema is migrated (processes starting together must not
        run the same migration at once)."""
        ...

    async def start(
        self,
        settings: ServerSettings,
        history: HistorySink,
        metrics: Metrics,
        sweep_after: Callable[[float], None],
    ) -> Started:
        """Makes and starts the hub. `sweep_after(started)` is to be called once this process
        is the one to finish the calls an earlier run left open (those answered before
        `started`): a single process always is, at once."""
        ...

    async def close(self) -> None: ...


class SingleProcess:
    """Sessions, rooms and calls in this process only."""

    @contextlib.asynccontextmanager
    async def migrating(self) -> AsyncIterator[object]:
        yield None  # nothing else migrates this database at the same time

    async def start(
        self,
        settings: ServerSettings,
        history: HistorySink,
        metrics: Metrics,
        sweep_after: Callable[[float], None],
    ) -> Started:
        identities = identities_for(settings)
        core = SignalingCore(
            settings.core, identities=identities, ticket_key=ticket_key(settings.resolved_secret())
        )
        hub = Hub(core, MemoryBackplane(), history, metrics)
        sweep_after(time.time())
        return Started(hub, identities)

    async def close(self) -> None:
        pass


def identities_for(
    settings: ServerSettings, new_id: Callable[[], str] = random_id
) -> IdentityProvider:
    """Who a hello says a client is: a signed guest, or a host app's JWT."""
    if settings.auth == "jwt":
        if not settings.jwt_key:
            raise ValueError("JWT mode needs a key (--jwt-secret or --jwt-public-key)")
        return JwtIdentities(settings.jwt_key, settings.jwt_algorithms, settings.jwt_audience)
    return GuestIdentities(settings.resolved_secret(), new_id=new_id)


def ticket_key(secret: bytes) -> bytes:
    """The key of answered calls' tickets (parley.core.tickets), from the server's lasting
    secret: a restart, or another node of the cluster, checks what this one signed."""
    return hmac.new(secret, b"parley call tickets v1", hashlib.sha256).digest()
