"""ICE servers for clients: the configured ones, plus fresh TURN credentials for each user."""

from parley.core.effects import Outcome
from parley.core.limits import PerMinuteLimit
from parley.core.settings import CoreSettings
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import IceServer, IceServers, IceServersRequest, IceTransportPolicy


class IceDesk:
    def __init__(self, settings: CoreSettings) -> None:
        self._settings = settings
        # Each request may mint TURN credentials: a client refreshes a few times a call at most.
        self.limit = PerMinuteLimit(settings.ice_requests_per_minute)
        self.credentials_issued = 0

    @property
    def policy(self) -> IceTransportPolicy:
        return "relay" if self._settings.relay_only else "all"

    def servers(self, user: str, now: float, *, with_turn: bool) -> list[IceServer]:
        """The configured servers, and fresh TURN credentials when `with_turn`: only a session
        with a call or a room to relay gets them (anyone else could use the relay as a free
        proxy)."""
        servers = list(self._settings.ice_servers)
        if with_turn and self._settings.turn is not None:
            servers.append(self._settings.turn.issue(user, now))
            self.credentials_issued += 1
        return servers

    def refresh(
        self,
        session: str,
        user: str,
        message: IceServersRequest,
        now: float,
        out: Outcome,
        *,
        with_turn: bool,
    ) -> None:
        if not self.limit.allow(user, now):
            out.error(session, ErrorCode.RATE_LIMITED, "too many ice-servers requests", message.id)
            return
        servers = self.servers(user, now, with_turn=with_turn)
        out.send(
            session,
            IceServers(id=message.id, iceServers=servers, iceTransportPolicy=self.policy),
        )
