"""Sessions, rooms, presence and direct calls as a state machine.

Each entry point takes an event (a connection opened, a message arrived, a socket closed, a
timer expired) and returns the effects to carry out. Identity comes only from the session the
I/O layer says a message arrived on; nothing a client writes into a message can change it.
"""

import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from parley.core.calls import RECLAIM_TIMER, RING_TIMER, CallService
from parley.core.effects import (
    CancelTimer,
    CloseConnection,
    CloseSession,
    Effect,
    Outcome,
    QualityRecord,
    Rebind,
    RecordQuality,
    Send,
    StartTimer,
    TimerKey,
)
from parley.core.ids import random_id
from parley.core.limits import PerMinuteLimit
from parley.core.presence import PresenceRegistry
from parley.core.replay import ReplayLog
from parley.core.rooms import Room, RoomRegistry
from parley.identity import GuestIdentities, Identity, IdentityProvider
from parley.protocol.close_codes import CloseCode
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    PROTOCOL_VERSION,
    Accept,
    Answer,
    Cancel,
    Candidate,
    ClientMessage,
    ClientMessageUnion,
    Hangup,
    Hello,
    IceServer,
    IceServers,
    IceServersRequest,
    Invite,
    Join,
    Joined,
    Leave,
    Left,
    MediaState,
    Offer,
    PeerJoined,
    PeerLeft,
    PeerLeftReason,
    PeerReady,
    Presence,
    Quality,
    QualitySaved,
    Ready,
    Reject,
    RelayedAnswer,
    RelayedCandidate,
    RelayedMediaState,
    RelayedOffer,
    RelayedVideoReply,
    RelayedVideoRequest,
    RequestId,
    ResumeCall,
    RoomPeer,
    ServerMessage,
    UserInfo,
    VideoReply,
    VideoRequest,
    Welcome,
)
from parley.protocol.routing import RelayRoute, forwarded
from parley.turn.credentials import TurnCredentialIssuer

HELLO_TIMER = "hello"
RESUME_TIMER = "resume"
# A quality report comes at hang-up, from both sides: the one that did not hang up, a moment later.
QUALITY_GRACE_SECONDS = 300.0
ROOM_REPORT = "room"


_CONFIGURATION = frozenset({"settings", "_new_id", "_new_token", "_identities"})


@dataclass(frozen=True, slots=True)
class CoreSettings:
    room_capacity: int = 2
    hello_timeout: float = 10.0
    max_message_bytes: int = 64 * 1024
    ice_servers: tuple[IceServer, ...] = ()
    ring_timeout: float = 30.0
    directory: bool = True
    # TURN with fresh time-limited credentials for each session (None: no TURN server).
    turn: TurnCredentialIssuer | None = None
    # Ask clients to relay every call, so that peers never learn each other's address.
    relay_only: bool = False
    ice_requests_per_minute: int = 10
    # Each invite writes history and rings someone: a person places a few a minute at most.
    invites_per_minute: int = 20
    # Rooms one user's sessions may be in at once (one call per tab; a few tabs is plenty).
    rooms_per_user: int = 4
    quality_reports_per_minute: int = 6
    # How long a session whose socket dropped waits to be resumed (0: it ends at once).
    resume_window: float = 30.0
    # Messages a session away may miss before it is ended: a resume must replay them all.
    resume_queue: int = 256
    # Sessions of one user that may wait for a resume at once (tabs and devices that dropped).
    away_sessions_per_user: int = 8
    # Messages kept even while connected: the last ones written may have died with the socket.
    replay_margin: int = 64
    # And the most the kept messages may weigh: an ICE restart's offer and its candidates fit
    # many times over (a typical SDP is 4-6 kB); memory per session stays bounded.
    replay_bytes: int = 256 * 1024


@dataclass(slots=True)
class Session:
    id: str
    log: ReplayLog
    # The socket serving the session; None while it is away (dropped, waiting for a resume).
    connection: str | None = None
    identity: Identity | None = None
    presence: bool = False
    room: str | None = None
    resume_token: str | None = None
    # What this session already reported the quality of: a call id, or "room" until it joins
    # again. A repeat is acknowledged but not stored twice.
    # (Made on the first report: every idle session would otherwise carry an empty set.)
    reported: set[str] | None = None
    room_visits: int = 0
    # While away: how many messages it missed, counting from which seq.
    missed: int = 0
    missed_from: int = 0

    @property
    def welcomed(self) -> bool:
        return self.identity is not None


def _room_visit(session: Session) -> str:
    """Names one room call of a session: its id, then id/2, id/3… as it joins again."""
    return session.id if session.room_visits <= 1 else f"{session.id}/{session.room_visits}"


class SignalingCore:
    def __init__(
        self,
        settings: CoreSettings,
        new_id: Callable[[], str] = random_id,
        identities: IdentityProvider | None = None,
        instance: str | None = None,
        new_token: Callable[[], str] = random_id,
    ) -> None:
        self.settings = settings
        self._new_id = new_id
        # Resume tokens: secrets, unlike ids (which peers see).
        self._new_token = new_token
        self._identities = identities or GuestIdentities(secrets.token_bytes(32))
        self._sessions: dict[str, Session] = {}
        # Socket → session: equal ids for a fresh session; a resumed socket serves an older one.
        self._connections: dict[str, str] = {}
        self._resume_tokens: dict[str, str] = {}
        # Per user, the sessions waiting for a resume, oldest first.
        self._away_by_user: dict[str, list[str]] = {}
        self.turn_credentials_issued = 0
        # Tells clients, after a reconnect, whether they talk to the server that knew them (one
        # process, or one generation of a cluster).
        self.instance = instance or random_id()
        self.rooms = RoomRegistry(settings.room_capacity)
        self.presence = PresenceRegistry()
        self.calls = CallService(self.presence, settings.ring_timeout, new_id)
        self._ice_limit = PerMinuteLimit(settings.ice_requests_per_minute)
        self._invite_limit = PerMinuteLimit(settings.invites_per_minute)
        # A report per call at hang-up: a few a minute at most, each one a database row.
        self._quality_limit = PerMinuteLimit(settings.quality_reports_per_minute)
        self._sessions_per_user: Counter[str] = Counter()
        self._rooms_per_user: Counter[str] = Counter()

    # --- events ---------------------------------------------------------------------------

    def connect(self, now: float, connection: str | None = None) -> tuple[str, list[Effect]]:
        """A socket opened. Returns its connection id, which is also the id of the provisional
        session it serves until (and unless) its `hello` resumes an older one. A cluster names
        the connection itself (`connection`), so that every replica agrees on it."""
        session_id = connection or self._new_id()
        while session_id in self._sessions or session_id in self._connections:
            session_id = self._new_id()
        self._sessions[session_id] = Session(
            session_id,
            ReplayLog(self._log_capacity, self.settings.replay_bytes),
            connection=session_id,
        )
        self._connections[session_id] = session_id
        deadline = now + self.settings.hello_timeout
        return session_id, [StartTimer((HELLO_TIMER, session_id), deadline)]

    def receive(self, connection: str, message: ClientMessageUnion, now: float) -> list[Effect]:
        session_id = self._connections.get(connection)
        session = self._sessions.get(session_id) if session_id is not None else None
        if session is None:
            return []
        out = Outcome()
        if isinstance(message, Hello):
            self._hello(session, message, now, out)
            return self._numbered(out.effects, now)
        session_id = session.id
        user = session.identity.user if session.identity is not None else None
        if user is None:
            out.error(session_id, ErrorCode.HELLO_REQUIRED, "send hello first", message.id)
            return self._numbered(out.effects, now)
        match message:
            case Join():
                self._join(session, message, out)
            case Ready():
                self._ready(session, message, out)
            case Offer() | Answer() | Candidate() | MediaState() | VideoRequest() | VideoReply():
                self._relay(session, user, message, out)
            case Quality():
                self._quality(session, user, message, now, out)
            case Leave():
                self._leave(session, message, out)
            case IceServersRequest():
                self._ice_refresh(session, user, message, now, out)
            case Invite():
                assert session.identity is not None
                if self._invite_limit.allow(user, now):
                    self.calls.invite(session_id, session.identity, message, now, out)
                else:
                    out.error(session_id, ErrorCode.RATE_LIMITED, "too many calls", message.id)
            case Accept():
                self.calls.accept(session_id, user, message, now, out)
            case Reject():
                self.calls.reject(session_id, user, message, now, out)
            case Cancel():
                self.calls.cancel(session_id, user, message, now, out)
            case Hangup():
                self.calls.hangup(session_id, user, message, now, out)
            case ResumeCall():
                assert session.identity is not None
                if self._invite_limit.allow(user, now):
                    self.calls.reclaim(
                        session_id, session.identity, message, now, self._reclaim_window, out
                    )
                else:
                    out.error(session_id, ErrorCode.RATE_LIMITED, "too many calls", message.id)
        return self._numbered(out.effects, now)

    def refuse(
        self, connection: str, code: ErrorCode, detail: str, request_id: RequestId = None
    ) -> list[Effect]:
        """A frame that could not be carried out: answer it, and change nothing else."""
        session_id = self._connections.get(connection)
        if session_id is None or session_id not in self._sessions:
            return []
        out = Outcome()
        out.error(session_id, code, detail, request_id)
        self._number(out.effects, 0)
        return out.effects

    def disconnect(self, connection: str, now: float) -> list[Effect]:
        """The socket closed on purpose (the client said goodbye): its session ends now."""
        session = self._detach(connection)
        if session is None:
            return []
        out = Outcome()
        self._end_session(session, now, out)
        return self._numbered(out.effects, now)

    def connection_lost(self, connection: str, now: float) -> list[Effect]:
        """The socket dropped (network, heartbeat, server restart): a session that can be
        resumed waits for its client for the resume window; the others end now."""
        session = self._detach(connection)
        if session is None:
            return []
        out = Outcome()
        if session.resume_token is None or self.settings.resume_window <= 0:
            self._end_session(session, now, out)
        else:
            session.missed = 0
            session.missed_from = session.log.last_seq + 1
            deadline = now + self.settings.resume_window
            out.effects.append(StartTimer((RESUME_TIMER, session.id), deadline))
            self._keep_away(session, now, out)
        return self._numbered(out.effects, now)

    def _keep_away(self, session: Session, now: float, out: Outcome) -> None:
        """Counts a session waiting for its resume against its user. A socket slot is freed
        when it drops, so without this one user could keep any number of sessions (and their
        replay logs) alive by dropping sockets: beyond the cap the oldest one waiting ends."""
        assert session.identity is not None
        away = self._away_by_user.setdefault(session.identity.user, [])
        away.append(session.id)
        while len(away) > self.settings.away_sessions_per_user:
            oldest = self._sessions.get(away[0])
            if oldest is None or oldest.connection is not None:
                away.pop(0)
                continue
            self._end_session(oldest, now, out)

    def _back(self, session: Session) -> None:
        """The session is no longer waiting for a resume (resumed, or ended)."""
        if session.identity is None:
            return
        away = self._away_by_user.get(session.identity.user)
        if away is not None and session.id in away:
            away.remove(session.id)
            if not away:
                del self._away_by_user[session.identity.user]

    def _detach(self, connection: str) -> Session | None:
        """Forgets the socket; the session it served, unless another socket took it over."""
        session_id = self._connections.pop(connection, None)
        session = self._sessions.get(session_id) if session_id is not None else None
        if session is None or session.connection != connection:
            return None
        session.connection = None
        return session

    def _end_session(self, session: Session, now: float, out: Outcome) -> None:
        session_id = session.id
        del self._sessions[session_id]
        self._back(session)
        if session.connection is not None:
            self._connections.pop(session.connection, None)
            out.effects.append(
                CloseConnection(session.connection, CloseCode.TAKEN_OVER, "session ended")
            )
        out.effects.append(CancelTimer((HELLO_TIMER, session_id)))
        if session.resume_token is not None:
            self._resume_tokens.pop(session.resume_token, None)
            out.effects.append(CancelTimer((RESUME_TIMER, session_id)))
        self._exit_room(session, "disconnected", out)
        if session.identity is not None:
            user = session.identity.user
            self._sessions_per_user[user] -= 1
            if self._sessions_per_user[user] <= 0:
                del self._sessions_per_user[user]
                self._ice_limit.forget(user)
                self._invite_limit.forget(user)
                self._quality_limit.forget(user)
            self.calls.session_closed(session_id, user, now, out)
            if session.presence and self.presence.remove(user, session_id):
                self._announce(
                    Presence(user=UserInfo(id=user, name=session.identity.name), online=False), out
                )

    def timer_expired(self, key: TimerKey, now: float) -> list[Effect]:
        purpose, subject = key
        out = Outcome()
        if purpose == RING_TIMER:
            self.calls.ring_timeout(key, now, out)
        elif purpose == RECLAIM_TIMER:
            self.calls.reclaim_timeout(key, now, out)
        elif purpose == HELLO_TIMER:
            session = self._sessions.get(subject)
            if session is not None and not session.welcomed:
                return [CloseSession(subject, CloseCode.HELLO_TIMEOUT, "no hello in time")]
        elif purpose == RESUME_TIMER:
            session = self._sessions.get(subject)
            if session is not None and session.connection is None:
                self._end_session(session, now, out)
        return self._numbered(out.effects, now)

    def shutting_down(self, now: float) -> list[Effect]:
        """Before the sockets close for a restart: answered calls go on (their clients take them
        back); ringing ones end."""
        out = Outcome()
        self.calls.end_ringing(now, out)
        return self._numbered(out.effects, now)

    # --- numbering and the replay log -----------------------------------------------------

    @property
    def _log_capacity(self) -> int:
        if self.settings.resume_window <= 0:
            return 0
        return self.settings.resume_queue + self.settings.replay_margin

    @property
    def _reclaim_window(self) -> float:
        return self.settings.resume_window if self.settings.resume_window > 0 else 30.0

    def _numbered(self, effects: list[Effect], now: float | None) -> list[Effect]:
        """Numbers each message as it enters its session's log. A session away that has
        missed more than the queue allows is ended: its client could not be given them all."""
        start = 0
        while True:
            overflowed = self._number(effects, start)
            if not overflowed or now is None:
                return effects
            start = len(effects)
            out = Outcome(effects)
            for session in overflowed:
                if session.id in self._sessions:
                    self._end_session(session, now, out)

    def _number(self, effects: list[Effect], start: int) -> list[Session]:
        overflowed: list[Session] = []
        for effect in effects[start:]:
            if type(effect) is not Send or effect.seq or type(effect.message) is Welcome:
                continue
            session = self._sessions.get(effect.session)
            if session is None:
                continue
            effect.seq = session.log.append(effect.message)
            if session.connection is None:
                session.missed += 1
                lost = (
                    session.missed > self.settings.resume_queue
                    or session.log.oldest_seq > session.missed_from
                )
                if lost and session not in overflowed:
                    overflowed.append(session)
        return overflowed

    # --- replicas -------------------------------------------------------------------------

    def export_state(self) -> dict[str, object]:
        """Everything the core knows, without its configuration (settings, identity provider,
        id sources): a new cluster node starts from this instead of from nothing."""
        return {k: v for k, v in vars(self).items() if k not in _CONFIGURATION}

    def reset(self, instance: str) -> None:
        """Forgets everything, as a core just made would know nothing; `instance` names the
        new life."""
        fresh = SignalingCore(
            self.settings, self._new_id, self._identities, instance, self._new_token
        )
        self.import_state(fresh.export_state())

    def import_state(self, state: dict[str, object]) -> None:
        vars(self).update(state)
        self.calls.use_ids(self._new_id)

    # --- queries --------------------------------------------------------------------------

    def session(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def session_of(self, connection: str) -> Session | None:
        """The session a socket serves now (None once it was taken over or closed)."""
        session_id = self._connections.get(connection)
        return self._sessions.get(session_id) if session_id is not None else None

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    @property
    def away_count(self) -> int:
        """Sessions whose socket dropped, waiting for a resume (counted on a metrics scrape)."""
        return sum(1 for session in self._sessions.values() if session.connection is None)

    # --- handlers -------------------------------------------------------------------------

    def _hello(self, session: Session, message: Hello, now: float, out: Outcome) -> None:
        if session.welcomed:
            out.error(
                session.id, ErrorCode.ALREADY_WELCOMED, "hello was already answered", message.id
            )
            return
        if message.v != PROTOCOL_VERSION:
            out.error(
                session.id,
                ErrorCode.UNSUPPORTED_VERSION,
                f"this server speaks protocol v{PROTOCOL_VERSION}",
                message.id,
            )
            return
        admission = self._identities.admit(message.token, message.name.strip(), now)
        if admission is None:
            out.error(session.id, ErrorCode.AUTH_FAILED, "the token was refused", message.id)
            out.effects.append(CloseSession(session.id, CloseCode.AUTH_FAILED, "auth failed"))
            return
        identity = admission.identity
        if message.resume is not None and self._resume(session, identity.user, message, now, out):
            return
        session.identity = identity
        if self.settings.resume_window > 0:
            session.resume_token = self._new_token()
            self._resume_tokens[session.resume_token] = session.id
        self._sessions_per_user[identity.user] += 1
        out.effects.append(CancelTimer((HELLO_TIMER, session.id)))
        listed = message.presence and self.settings.directory
        if message.presence:
            session.presence = True
            before = self.presence.info(identity.user)
            self.presence.add(identity.user, session.id, identity.name)
            if before is None or before.name != identity.name:
                # Came online, or came back under a new name: the directory shows it at once.
                me = UserInfo(id=identity.user, name=identity.name)
                self._announce(Presence(user=me, online=True), out, skip=session.id)
        out.send(session.id, self._welcome(session, identity, now, listed, token=admission.token))

    def _welcome(
        self,
        session: Session,
        identity: Identity,
        now: float,
        listed: bool,
        token: str | None = None,
        resumed: bool = False,
    ) -> Welcome:
        return Welcome(
            v=PROTOCOL_VERSION,
            session=session.id,
            user=UserInfo(id=identity.user, name=identity.name),
            token=token,
            maxMessageBytes=self.settings.max_message_bytes,
            iceServers=self._ice_servers(identity.user, now),
            iceTransportPolicy="relay" if self.settings.relay_only else "all",
            online=self.presence.online() if listed else None,
            resume=session.resume_token,
            resumed=resumed,
            resumeWindow=self.settings.resume_window if session.resume_token else 0,
            instance=self.instance,
        )

    def _resume(
        self, provisional: Session, user: str, message: Hello, now: float, out: Outcome
    ) -> bool:
        """Hands the socket the session named by `message.resume`; False (and nothing changed)
        when the token is unknown, expired, or not this user's."""
        assert message.resume is not None
        target_id = self._resume_tokens.get(message.resume)
        target = self._sessions.get(target_id) if target_id is not None else None
        if target is None or target.identity is None or target.identity.user != user:
            return False
        connection = provisional.connection
        assert connection is not None
        replay = target.log.after(message.lastSeq)
        if replay is None:
            # Messages the client never saw are gone: end that session (its peers are told)
            # rather than resume it with a silent gap.
            self._end_session(target, now, out)
            return False
        del self._sessions[provisional.id]
        out.effects.append(CancelTimer((HELLO_TIMER, provisional.id)))
        if target.connection is not None:
            out.effects.append(
                CloseConnection(
                    target.connection, CloseCode.TAKEN_OVER, "session resumed elsewhere"
                )
            )
            self._connections.pop(target.connection, None)
        self._back(target)
        target.connection = connection
        target.missed = 0
        self._connections[connection] = target.id
        out.effects.append(CancelTimer((RESUME_TIMER, target.id)))
        out.effects.append(Rebind(connection, target.id))
        listed = target.presence and self.settings.directory
        out.send(target.id, self._welcome(target, target.identity, now, listed, resumed=True))
        for seq, missed in replay:
            out.effects.append(Send(target.id, missed, seq))
        return True

    def _ice_servers(self, user: str, now: float) -> list[IceServer]:
        servers = list(self.settings.ice_servers)
        if self.settings.turn is not None:
            servers.append(self.settings.turn.issue(user, now))
            self.turn_credentials_issued += 1
        return servers

    def _ice_refresh(
        self, session: Session, user: str, message: IceServersRequest, now: float, out: Outcome
    ) -> None:
        if not self._ice_limit.allow(user, now):
            out.error(
                session.id, ErrorCode.RATE_LIMITED, "too many ice-servers requests", message.id
            )
            return
        out.send(
            session.id,
            IceServers(
                id=message.id,
                iceServers=self._ice_servers(user, now),
                iceTransportPolicy="relay" if self.settings.relay_only else "all",
            ),
        )

    def _announce(self, message: Presence, out: Outcome, skip: str | None = None) -> None:
        """Tells every session on the directory that a user came or went."""
        if not self.settings.directory:
            return
        for watcher in self.presence.watchers():
            if watcher != skip:
                out.send(watcher, message)

    def _join(self, session: Session, message: Join, out: Outcome) -> None:
        if session.room is not None:
            out.error(
                session.id, ErrorCode.ALREADY_JOINED, "leave the current room first", message.id
            )
            return
        user = session.identity.user if session.identity is not None else ""
        if self._rooms_per_user[user] >= self.settings.rooms_per_user:
            out.error(session.id, ErrorCode.TOO_MANY_ROOMS, "leave another room first", message.id)
            return
        entered = self.rooms.enter(message.room, session.id)
        if entered is None:
            out.error(session.id, ErrorCode.ROOM_FULL, "the room is full", message.id)
            return
        room, created = entered
        session.room = room.name
        if session.reported is not None:
            session.reported.discard(ROOM_REPORT)
        session.room_visits += 1
        self._rooms_per_user[user] += 1
        others = room.others(session.id)
        out.send(
            session.id,
            Joined(
                id=message.id,
                room=room.name,
                created=created,
                capacity=room.capacity,
                peers=[RoomPeer(id=m.session, ready=m.ready) for m in others],
            ),
        )
        announcement = PeerJoined(peer=session.id)
        for member in others:
            out.send(member.session, announcement)

    def _ready(self, session: Session, message: Ready, out: Outcome) -> None:
        room = self._room_of(session, message, out)
        if room is None:
            return
        room.members[session.id].ready = True
        announcement = PeerReady(peer=session.id)
        for member in room.others(session.id):
            out.send(member.session, announcement)

    def forward(self, connection: str, route: RelayRoute, now: float) -> list[Effect]:
        """An offer, answer or candidate read for routing only (protocol.routing): checked
        and answered exactly as `receive` does the typed message, its payload passed on as is."""
        session_id = self._connections.get(connection)
        session = self._sessions.get(session_id) if session_id is not None else None
        if session is None:
            return []
        user = session.identity.user if session.identity is not None else None
        if user is not None and self._may_relay(session, user, route.to):
            send = Send(route.to, forwarded(route, session.id))
            recipient = self._sessions.get(route.to)
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

    def _may_relay(self, session: Session, user: str, to: str) -> bool:
        """Relays go to another member of the sender's room, or to its peer in a call."""
        room = self.rooms.get(session.room) if session.room is not None else None
        if room is not None and to != session.id and to in room.members:
            return True
        return self.calls.peer_session(session.id, user) == to

    def _relay(
        self,
        session: Session,
        user: str,
        message: Offer | Answer | Candidate | MediaState | VideoRequest | VideoReply,
        out: Outcome,
    ) -> None:
        if not self._may_relay(session, user, message.to):
            out.error(session.id, ErrorCode.PEER_NOT_FOUND, "no such peer", message.id)
            return
        relayed: ServerMessage
        match message:
            case Offer():
                relayed = RelayedOffer(from_=session.id, sdp=message.sdp)
            case Answer():
                relayed = RelayedAnswer(from_=session.id, sdp=message.sdp)
            case Candidate():
                relayed = RelayedCandidate(from_=session.id, candidate=message.candidate)
            case MediaState():
                relayed = RelayedMediaState(
                    from_=session.id,
                    muted=message.muted,
                    cameraOff=message.cameraOff,
                    screen=message.screen,
                )
            case VideoRequest():
                relayed = RelayedVideoRequest(from_=session.id)
            case VideoReply():
                relayed = RelayedVideoReply(from_=session.id, accepted=message.accepted)
        out.send(message.to, relayed)

    def _quality(
        self, session: Session, user: str, message: Quality, now: float, out: Outcome
    ) -> None:
        if not self._quality_limit.allow(user, now):
            out.error(session.id, ErrorCode.RATE_LIMITED, "too many quality reports", message.id)
            return
        if message.call is not None:
            if not self.calls.is_party(message.call, user, now, QUALITY_GRACE_SECONDS):
                out.error(session.id, ErrorCode.CALL_NOT_FOUND, "no such call", message.id)
                return
        elif session.room is None:
            out.error(session.id, ErrorCode.NOT_IN_ROOM, "no call to report on", message.id)
            return
        subject = message.call if message.call is not None else ROOM_REPORT
        if session.reported is None:
            session.reported = set()
        elif subject in session.reported:
            out.send(session.id, QualitySaved(id=message.id))
            return
        session.reported.add(subject)
        out.effects.append(
            RecordQuality(
                QualityRecord(
                    user=user,
                    call=message.call,
                    room_session=None if message.call is not None else _room_visit(session),
                    reported=now,
                    duration_seconds=message.durationSeconds,
                    rtt_mean_ms=message.rttMeanMs,
                    rtt_max_ms=message.rttMaxMs,
                    loss_percent=message.lossPercent,
                    send_kbps=message.sendKbps,
                    receive_kbps=message.receiveKbps,
                    candidate_type=message.candidateType,
                    protocol=message.protocol,
                )
            )
        )
        out.send(session.id, QualitySaved(id=message.id))

    def _leave(self, session: Session, message: Leave, out: Outcome) -> None:
        name = session.room
        if name is None:
            out.error(session.id, ErrorCode.NOT_IN_ROOM, "you are not in a room", message.id)
            return
        self._exit_room(session, "left", out)
        out.send(session.id, Left(id=message.id, room=name))

    # --- helpers --------------------------------------------------------------------------

    def _room_of(self, session: Session, message: ClientMessage, out: Outcome) -> Room | None:
        room = self.rooms.get(session.room) if session.room is not None else None
        if room is None:
            out.error(session.id, ErrorCode.NOT_IN_ROOM, "join a room first", message.id)
        return room

    def _exit_room(self, session: Session, reason: PeerLeftReason, out: Outcome) -> None:
        if session.room is None:
            return
        user = session.identity.user if session.identity is not None else ""
        self._rooms_per_user[user] -= 1
        if self._rooms_per_user[user] <= 0:
            del self._rooms_per_user[user]
        room = self.rooms.exit(session.room, session.id)
        session.room = None
        if room is None:
            return
        announcement = PeerLeft(peer=session.id, reason=reason)
        for member in room.members.values():
            out.send(member.session, announcement)
