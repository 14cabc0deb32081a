"""Sessions, rooms, presence and direct calls as a state machine.

Each entry point takes an event (a connection opened, a message arrived, a socket closed, a
timer expired) and returns the effects to carry out. Identity comes only from the session the
I/O layer says a message arrived on; nothing a client writes into a message can change it.
"""

from collections.abc import Callable

from parley.core.calls import RECLAIM_TIMER, RING_TIMER, AppEnding, CallService
from parley.core.effects import CloseSession, Effect, Outcome, Send, StartTimer, TimerKey
from parley.core.greeting import Greeter
from parley.core.ice import IceDesk
from parley.core.identity import IdentityProvider
from parley.core.ids import random_id
from parley.core.limits import ClientBudgets, PerMinuteLimit
from parley.core.membership import RoomMembership
from parley.core.presence import PRESENCE_TIMER, PresenceNews, PresenceRegistry
from parley.core.quality import QualityReports
from parley.core.relay import may_relay, relayed
from parley.core.room_links import RoomLinks
from parley.core.rooms import RoomRegistry
from parley.core.sessions import HELLO_TIMER, RESUME_TIMER, Session, SessionTable
from parley.core.settings import CoreSettings, TurnCredentials
from parley.core.snapshot import CoreSnapshot
from parley.core.tickets import CallTickets
from parley.protocol.close_codes import CloseCode
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    Accept,
    Answer,
    Cancel,
    Candidate,
    ClientMessageUnion,
    Hangup,
    Hello,
    IceServersRequest,
    Invite,
    Join,
    Leave,
    MediaState,
    Offer,
    OnlineRequest,
    Quality,
    Ready,
    Reject,
    RequestId,
    ResumeCall,
    VideoReply,
    VideoRequest,
)
from parley.protocol.routing import RelayRoute, forwarded

__all__ = [
    "HELLO_TIMER",
    "RESUME_TIMER",
    "CoreSettings",
    "CoreSnapshot",
    "Session",
    "SignalingCore",
    "TurnCredentials",
]


class SignalingCore:
    """The one object the I/O layer talks to: it owns every piece of signaling state and
    routes each event to the part that handles it.

    What it owns: the sessions and their sockets, replay logs and resumes (`SessionTable`);
    `hello` (`Greeter`); rooms (`rooms`, changed through `RoomMembership`); who is online
    (`presence`); direct calls (`calls`); ICE servers and TURN credentials (`IceDesk`); quality
    reports; and the per-user rate limits. Its configuration (settings, identity provider, id
    sources) stays out of `export_state`.

    How a message flows: `receive(connection, message, now)` finds the session the socket
    serves (identity comes from there, never from the message), hands the message to its
    handler, which appends effects to an `Outcome`; then every `Send` is numbered into its
    recipient's replay log, and a session away that missed more than a resume could replay is
    ended (its own effects numbered in turn). The effects come back in the order they must
    happen. Relays read for routing only take the shorter `forward` path, checked alike.
    """

    def __init__(
        self,
        settings: CoreSettings,
        new_id: Callable[[], str] = random_id,
        *,
        identities: IdentityProvider,
        instance: str | None = None,
        new_token: Callable[[], str] = random_id,
        ticket_key: bytes | None = None,
    ) -> None:
        self.settings = settings
        self._new_id = new_id
        # Tells clients, after a reconnect, whether they talk to the server that knew them (one
        # process, or one generation of a cluster).
        self.instance = instance or random_id()
        self.sessions = SessionTable(settings)
        self.rooms = RoomRegistry(settings.room_capacity)
        self.presence = PresenceRegistry()
        self._news = PresenceNews(self.presence, settings)
        # Answered calls' tickets (resume-call after a restart) and room links are signed with
        # `ticket_key`: the server's lasting secret, or a random one that dies with this core.
        self.calls = CallService(
            self.presence, settings.ring_timeout, new_id, CallTickets(ticket_key)
        )
        self.room_links = RoomLinks(ticket_key)
        self._membership = RoomMembership(self.rooms, settings.rooms_per_user, self.room_links)
        self._ice = IceDesk(settings)
        self._invite_limit = PerMinuteLimit(settings.invites_per_minute)
        self._budgets = ClientBudgets(settings)
        self._quality = QualityReports(self.calls, settings.quality_reports_per_minute)
        self._greeter = Greeter(
            settings,
            identities,
            new_token,
            self.sessions,
            self.presence,
            self._ice,
            self._end_session,
            self._budgets,
            self._news,
        )

    # --- events ---------------------------------------------------------------------------

    def connect(
        self, now: float, connection: str | None = None, *, client: str = ""
    ) -> tuple[str, list[Effect]]:
        """A socket opened from `client` (its network, as the server counts addresses; per-
        address limits count by it). Returns its connection id, which is also the id of the
        provisional session it serves until (and unless) its `hello` resumes an older one. A
        cluster names the connection itself (`connection`), so that every replica agrees."""
        session_id = connection or self._new_id()
        while self.sessions.is_taken(session_id):
            session_id = self._new_id()
        self.sessions.open(session_id, client)
        deadline = now + self.settings.hello_timeout
        return session_id, [StartTimer((HELLO_TIMER, session_id), deadline)]

    def receive(self, connection: str, message: ClientMessageUnion, now: float) -> list[Effect]:
        session = self.sessions.of_connection(connection)
        if session is None:
            return []
        out = Outcome()
        if isinstance(message, Hello):
            self._greeter.hello(session, message, now, self.instance, out)
        elif session.identity is None:
            out.error(session.id, ErrorCode.HELLO_REQUIRED, "send hello first", message.id)
        else:
            self._dispatch(session, session.identity.user, message, now, out)
        return self._numbered(out.effects, now)

    def _dispatch(
        self, session: Session, user: str, message: ClientMessageUnion, now: float, out: Outcome
    ) -> None:
        """A welcomed session's message, to the part that handles it."""
        session_id = session.id
        match message:
            case Join():
                self._membership.join(session, message, now, out)
            case Ready():
                self._membership.ready(session, message, out)
            case Offer() | Answer() | Candidate() | MediaState() | VideoRequest() | VideoReply():
                if may_relay(session, user, message.to, self.rooms, self.calls):
                    out.send(message.to, relayed(message, session_id))
                else:
                    out.error(session_id, ErrorCode.PEER_NOT_FOUND, "no such peer", message.id)
            case Quality():
                self._quality.report(session, user, message, now, out)
            case Leave():
                self._membership.leave(session, message, now, out)
            case OnlineRequest():
                self._news.answer_page(session.id, user, session.presence, message, now, out)
            case IceServersRequest():
                relays = session.room is not None or self.calls.involves(session_id, user)
                if message.to is not None:  # about to invite `to`
                    callable_now = self.presence.info(message.to) is not None
                    relays = relays or (message.to != user and callable_now)
                self._ice.refresh(session_id, user, message, now, out, with_turn=relays)
            case Invite() | ResumeCall():
                self._place_call(session, message, now, out)
            case Accept():
                self.calls.accept(session_id, user, message, now, out)
            case Reject():
                self.calls.reject(session_id, user, message, now, out)
            case Cancel():
                self.calls.cancel(session_id, user, message, now, out)
            case Hangup():
                self.calls.hangup(session_id, user, message, now, out)

    def _place_call(
        self, session: Session, message: Invite | ResumeCall, now: float, out: Outcome
    ) -> None:
        """Invites and claims share one budget: each may write history and ring someone."""
        identity = session.identity
        assert identity is not None
        if not self._invite_limit.allow(identity.user, now) or not self._budgets.invites.allow(
            session.client, now
        ):
            out.error(session.id, ErrorCode.RATE_LIMITED, "too many calls", message.id)
        elif isinstance(message, Invite):
            self.calls.invite(session.id, identity, message, now, out)
        else:
            window = self.settings.reclaim_window
            self.calls.reclaim(session.id, identity, message, now, window, out)

    def forward(self, connection: str, route: RelayRoute, now: float) -> list[Effect]:
        """An offer, answer or candidate read for routing only (protocol.routing): checked
        and answered exactly as `receive` does the typed message, its payload passed on as is."""
        session = self.sessions.of_connection(connection)
        if session is None:
            return []
        user = session.identity.user if session.identity is not None else None
        if user is not None and may_relay(session, user, route.to, self.rooms, self.calls):
            send = Send(route.to, forwarded(route, session.id))
            recipient = self.sessions.get(route.to)
            if recipient is not None and recipient.connection is not None:
                # Nearly every relay: a connected recipient, whose log cannot overflow it.
                send.seq = recipient.log.append(send.message)
                return [send]
            return self._numbered([send], now)
        out = Outcome()
        if user is None:
            out.error(session.id, ErrorCode.HELLO_REQUIRED, "send hello first", route.id)
        else:
            out.error(session.id, ErrorCode.PEER_NOT_FOUND, "no such peer", route.id)
        return self._numbered(out.effects, now)

    def refuse(
        self, connection: str, code: ErrorCode, detail: str, request_id: RequestId = None
    ) -> list[Effect]:
        """A frame that could not be carried out: answer it, and change nothing else."""
        session_id = self.sessions.by_connection.get(connection)
        if session_id is None or self.sessions.get(session_id) is None:
            return []
        out = Outcome()
        out.error(session_id, code, detail, request_id)
        self.sessions.number(out.effects, 0)
        return out.effects

    def disconnect(self, connection: str, now: float) -> list[Effect]:
        """The socket closed on purpose (the client said goodbye): its session ends now."""
        session = self.sessions.detach(connection)
        if session is None:
            return []
        out = Outcome()
        self._end_session(session, now, out)
        return self._numbered(out.effects, now)

    def connection_lost(self, connection: str, now: float) -> list[Effect]:
        """The socket dropped (network, heartbeat, server restart): a session that can be
        resumed waits for its client for the resume window; the others end now."""
        session = self.sessions.detach(connection)
        if session is None:
            return []
        out = Outcome()
        if session.resume_token is None or self.settings.resume_window <= 0:
            self._end_session(session, now, out)
        else:
            assert session.identity is not None
            deadline = now + self.settings.resume_window
            out.effects.append(StartTimer((RESUME_TIMER, session.id), deadline))
            self.sessions.go_away(session)
            while (oldest := self.sessions.over_away_cap(session.identity.user)) is not None:
                self._end_session(oldest, now, out)
        return self._numbered(out.effects, now)

    def timer_expired(self, key: TimerKey, now: float) -> list[Effect]:
        purpose, subject = key
        out = Outcome()
        if purpose == RING_TIMER:
            self.calls.ring_timeout(key, now, out)
        elif purpose == RECLAIM_TIMER:
            self.calls.reclaim_timeout(key, now, out)
        elif purpose == HELLO_TIMER:
            session = self.sessions.get(subject)
            if session is not None and not session.welcomed:
                return [CloseSession(subject, CloseCode.HELLO_TIMEOUT, "no hello in time")]
        elif purpose == PRESENCE_TIMER:
            self._news.flush(out)
        elif purpose == RESUME_TIMER:
            session = self.sessions.get(subject)
            if session is not None and session.connection is None:
                self._end_session(session, now, out)
        return self._numbered(out.effects, now)

    def end_call_by_app(self, call_id: str, now: float) -> tuple[AppEnding, list[Effect]]:
        """The host app ends a call (`POST /api/v1/calls/{id}/end`): see CallService."""
        out = Outcome()
        ending = self.calls.end_by_app(call_id, now, out)
        return ending, self._numbered(out.effects, now)

    def shutting_down(self, now: float) -> list[Effect]:
        """Before the sockets close for a restart: answered calls go on (their clients take them
        back); ringing ones end."""
        out = Outcome()
        self.calls.end_ringing(now, out)
        self._membership.server_stopping(now, out)
        return self._numbered(out.effects, now)

    # --- endings and numbering ------------------------------------------------------------

    def _end_session(self, session: Session, now: float, out: Outcome) -> None:
        """Everything a session was part of learns it ended: its room, its call, the directory."""
        last_of_user = self.sessions.remove(session, out)
        self._membership.exit(session, "disconnected", now, out)
        if session.identity is None:
            return
        user = session.identity.user
        if last_of_user:
            self._ice.limit.forget(user)
            self._invite_limit.forget(user)
            self._quality.limit.forget(user)
        self.calls.session_closed(session.id, user, now, out)
        if session.presence and self.presence.remove(user, session.id):
            self._news.changed(user, now, out)

    def _numbered(self, effects: list[Effect], now: float | None) -> list[Effect]:
        """Numbers each message as it enters its session's log. A session away that has
        missed more than the queue allows is ended: its client could not be given them all."""
        start = 0
        while True:
            overflowed = self.sessions.number(effects, start)
            if not overflowed or now is None:
                return effects
            start = len(effects)
            out = Outcome(effects)
            for session in overflowed:
                if self.sessions.get(session.id) is not None:
                    self._end_session(session, now, out)

    # --- replicas -------------------------------------------------------------------------

    def export_state(self) -> CoreSnapshot:
        """Everything the core knows, without its configuration (settings, identity provider,
        id sources): a new cluster node starts from this instead of from nothing."""
        return CoreSnapshot(
            instance=self.instance,
            sessions=self.sessions.export(),
            rooms=self.rooms.export(),
            rooms_per_user=self._membership.export(),
            presence=self.presence.export(),
            calls=self.calls.export(),
            ice_requests=self._ice.limit.export(),
            invites=self._invite_limit.export(),
            by_client=self._budgets.export(),
            presence_news=self._news.export(),
            quality_reports=self._quality.limit.export(),
            turn_credentials_issued=self._ice.credentials_issued,
        )

    def import_state(self, state: CoreSnapshot) -> None:
        """Takes over `state` (from `export_state`, possibly of another process), keeping this
        core's configuration. Nothing of `state` is shared: it may be imported again."""
        self.instance = state.instance
        self.sessions.restore(state.sessions)
        self.rooms.restore(state.rooms)
        self._membership.restore(state.rooms_per_user)
        self.presence.restore(state.presence)
        self.calls.restore(state.calls)
        self._ice.limit.restore(state.ice_requests)
        self._invite_limit.restore(state.invites)
        self._budgets.restore(state.by_client)
        if state.presence_news is not None:
            self._news.restore(state.presence_news)
        self._quality.limit.restore(state.quality_reports)
        self._ice.credentials_issued = state.turn_credentials_issued
        self.calls.use_ids(self._new_id)

    def reset(self, instance: str) -> None:
        """Forgets everything, as a core just made would know nothing; `instance` names the
        new life."""
        fresh = SignalingCore(
            self.settings, self._new_id, identities=self._greeter.identities, instance=instance
        )
        self.import_state(fresh.export_state())

    # --- queries --------------------------------------------------------------------------

    def session(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    def session_of(self, connection: str) -> Session | None:
        """The session a socket serves now (None once it was taken over or closed)."""
        return self.sessions.of_connection(connection)

    @property
    def session_count(self) -> int:
        return len(self.sessions)

    @property
    def away_count(self) -> int:
        """Sessions whose socket dropped, waiting for a resume (counted on a metrics scrape)."""
        return self.sessions.away_count

    @property
    def turn_credentials_issued(self) -> int:
        return self._ice.credentials_issued
