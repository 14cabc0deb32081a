"""A state machine test: many sessions drive one SignalingCore through random event sequences.

Hypothesis connects up to six sessions (some online for calls, some sharing a user through a
token), has them join, relay, call, answer, hang up and disconnect in any order, and lets the
clock run so that hello and ring timers fire. The test keeps its own model of the world, built
only from the effects the core returned, and checks every step against what docs/protocol.md
promises: rooms never overflow, messages only go to open sessions, relays only reach room mates
or the other end of an answered call and always name their real sender, every call ends exactly
once in the history, and a user is never in two calls at once.
"""

from collections import Counter
from dataclasses import dataclass, field

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from parley.core.calls import RING_TIMER, CallState
from parley.core.effects import (
    CancelTimer,
    CloseSession,
    Effect,
    RecordCall,
    RecordRoom,
    Send,
    StartTimer,
    TimerKey,
)
from parley.core.identity import Admission, Identity
from parley.core.presence import PRESENCE_FLUSH
from parley.core.signaling import HELLO_TIMER, CoreSettings, SignalingCore
from parley.core.tickets import CallTickets
from parley.protocol.close_codes import CloseCode
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    PROTOCOL_VERSION,
    Accept,
    Answer,
    CallAccepted,
    CallEnded,
    Cancel,
    Candidate,
    ClientMessageUnion,
    EndReason,
    Error,
    Hangup,
    Hello,
    IceCandidate,
    IceServers,
    IceServersRequest,
    IncomingCall,
    Invite,
    Join,
    Joined,
    Leave,
    Left,
    Media,
    Offer,
    PeerJoined,
    PeerLeft,
    PeerReady,
    Presence,
    Ready,
    Reject,
    RelayedAnswer,
    RelayedCandidate,
    RelayedOffer,
    RequestId,
    Ringing,
    RoomPeer,
    ServerMessage,
    Welcome,
)
from tests.core.helpers import counting_ids

MAX_CONNECTED = 6
CAPACITY = 2
ROOMS_PER_USER = 2  # lower than the default 4, so that users on several tabs reach it
ROOMS = ("red", "green", "blue")
NAMES = ("", "Ana", "Bo")
INVITES_PER_MINUTE = 20
FAKE_SESSION = "no-such-session"
FAKE_CALL = "no-such-call"
FAKE_USER = "no-such-user"
RELAYED = (RelayedOffer, RelayedAnswer, RelayedCandidate)
SETTINGS = CoreSettings(
    room_capacity=CAPACITY,
    rooms_per_user=ROOMS_PER_USER,
    hello_timeout=10.0,
    ring_timeout=30.0,
    invites_per_minute=INVITES_PER_MINUTE,
)

request_ids = st.none() | st.integers(0, 5) | st.sampled_from(["a", "b"])
media = st.sampled_from(["audio", "video"])


class CountingGuests:
    """Guest identities as the embedded default hands them out (a new user for a hello without
    a known token, the same user for the same token), with ids u1, u2, ... so that every run
    replays exactly."""

    def __init__(self) -> None:
        self._ids = counting_ids("u")
        self._users: dict[str, str] = {}

    def admit(self, token: str | None, name: str, now: float) -> Admission | None:
        user = self._users.get(token) if token is not None else None
        if user is not None:
            return Admission(Identity(user, name), None)
        user = next(self._ids)
        issued = f"token-of-{user}"
        self._users[issued] = user
        return Admission(Identity(user, name), issued)

    def user_for_token(self, token: str, now: float) -> str | None:
        return self._users.get(token)


def knows_roles(session: str) -> bool:
    """Half the sessions are clients that take their role from `call-accepted.polite`
    (`caller_offers`), half are older ones."""
    return sum(map(ord, session)) % 2 == 0


@dataclass
class CallModel:
    """One call as the effects described it (never read from the core's own state)."""

    caller: str
    callee: str
    media: Media
    caller_session: str | None = None
    callee_session: str | None = None  # set once answered
    caller_offers: bool = False  # the invite said the caller's client follows `polite`
    ringing: set[str] = field(default_factory=set)  # devices told incoming-call, still ringing

    @property
    def answered(self) -> bool:
        return self.callee_session is not None

    def involved(self) -> set[str]:
        assert self.caller_session is not None
        others = {self.callee_session} if self.callee_session is not None else self.ringing
        return {self.caller_session, *others}


def narrower(a: Media, b: Media) -> Media:
    return "video" if a == b == "video" else "audio"


def sent(effects: list[Effect], kind: type[ServerMessage]) -> list[tuple[str, ServerMessage]]:
    return [
        (e.session, e.message)
        for e in effects
        if isinstance(e, Send) and isinstance(e.message, kind)
    ]


class SignalingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        ids = counting_ids("s")
        self.tickets = CallTickets(b"p" * 32)
        self.core = SignalingCore(
            SETTINGS, new_id=lambda: next(ids), identities=CountingGuests(), ticket_key=b"p" * 32
        )
        self.now = 1000.0
        self.connected: set[str] = set()
        self.ever: list[str] = []
        self.user_of: dict[str, str] = {}  # welcomed session -> user
        self.presence: set[str] = set()  # welcomed sessions that asked for presence
        self.tokens: dict[str, str] = {}  # user -> guest token
        self.room_of: dict[str, str] = {}  # session -> room, as joined/left told it
        self.room_started: dict[str, float] = {}  # room -> when, as RecordRoom told it
        self.ready: set[str] = set()
        self.timers: dict[TimerKey, float] = {}
        self.calls: dict[str, CallModel] = {}  # every call ever created
        self.ended: Counter[str] = Counter()
        self.invites: dict[str, list[float]] = {}  # user -> times of invites let through

    # --- the model ---------------------------------------------------------------------------

    def live_calls(self) -> list[str]:
        return [c for c in self.calls if self.ended[c] == 0]

    def call_of_user(self, user: str) -> str | None:
        for call in self.live_calls():
            if user in (self.calls[call].caller, self.calls[call].callee):
                return call
        return None

    def answered_peer(self, session: str) -> str | None:
        """The other end of `session`'s answered call, from the call-accepted messages sent."""
        for call in self.live_calls():
            model = self.calls[call]
            if not model.answered:
                continue
            if session == model.caller_session:
                return model.callee_session
            if session == model.callee_session:
                return model.caller_session
        return None

    def room_members(self, room: str) -> list[str]:
        return [s for s, r in self.room_of.items() if r == room]

    def room_mates(self, session: str) -> list[str]:
        room = self.room_of.get(session)
        return [] if room is None else [s for s in self.room_members(room) if s != session]

    def may_relay(self, sender: str, target: str) -> bool:
        return target in self.room_mates(sender) or self.answered_peer(sender) == target

    def join_refusal(self, session: str, room: str) -> ErrorCode | None:
        """Why `session` may not join `room` now, in the order the server checks."""
        user = self.user_of.get(session)
        if user is None:
            return ErrorCode.HELLO_REQUIRED
        if session in self.room_of:
            return ErrorCode.ALREADY_JOINED
        if sum(1 for s in self.room_of if self.user_of[s] == user) >= ROOMS_PER_USER:
            return ErrorCode.TOO_MANY_ROOMS
        if len(self.room_members(room)) >= CAPACITY:
            return ErrorCode.ROOM_FULL
        return None

    def devices(self, user: str, presence_only: bool = False) -> list[str]:
        return sorted(
            s
            for s, u in self.user_of.items()
            if u == user and (s in self.presence or not presence_only)
        )

    # --- driving the core ----------------------------------------------------------------------

    def apply(self, effects: list[Effect], relay_sender: str | None = None) -> list[Effect]:
        """Checks one event's effects as the hub would carry them out, and learns from them.
        The presence window is taken to end before the next event: its news join the effects."""
        flush = [e for e in effects if isinstance(e, StartTimer) and e.key == PRESENCE_FLUSH]
        if flush:
            effects = [e for e in effects if e not in flush]
            effects += self.core.timer_expired(PRESENCE_FLUSH, flush[0].deadline)
        may_receive = {s for s in self.ever if relay_sender and self.may_relay(relay_sender, s)}
        closing: list[str] = []
        for effect in effects:
            match effect:
                case Send(session, message):
                    assert session in self.connected, f"{message!r} sent to closed {session}"
                    self.learn(session, message, relay_sender, may_receive)
                case StartTimer(key, deadline):
                    self.timers[key] = deadline
                case CancelTimer(key):
                    self.timers.pop(key, None)
                case RecordRoom(step, room, started, ended):
                    if step == "started":
                        assert room not in self.room_started, f"{room} started twice"
                        assert started == self.now, effect
                        self.room_started[room] = started
                    else:
                        assert self.room_started.pop(room) == started, effect
                        assert ended == self.now, effect
                case RecordCall(step, record):
                    if step == "created":
                        assert record.id not in self.calls, f"call id {record.id} made twice"
                        self.calls[record.id] = CallModel(
                            record.caller, record.callee, record.media
                        )
                    else:
                        assert record.id in self.calls, f"{step} for unknown call {record.id}"
                        assert self.ended[record.id] == 0, f"{step} after the end: {record}"
                        if step == "ended":
                            self.ended[record.id] += 1
                            event(f"call ended: {record.end_reason}")
                case CloseSession(session, code, _):
                    assert session in self.connected, effect
                    assert session not in self.user_of, f"welcomed {session} closed: {effect}"
                    assert code == CloseCode.HELLO_TIMEOUT, effect
                    closing.append(session)
        for session in closing:
            # The hub closes the socket; its reader then reports the disconnect.
            self.drop(session)
        return effects

    def learn(
        self, session: str, message: ServerMessage, relay_sender: str | None, may_receive: set[str]
    ) -> None:
        event(f"sent {type(message).__name__}")
        if isinstance(message, RELAYED):
            assert relay_sender is not None, f"{message!r} relayed outside a relay"
            assert message.from_ == relay_sender, f"{message!r} does not name {relay_sender}"
            assert session in may_receive, f"{relay_sender}'s {message!r} reached {session}"
        match message:
            case Welcome():
                self.user_of[session] = message.user.id
                if message.token is not None:
                    self.tokens[message.user.id] = message.token
            case Joined():
                self.room_of[session] = message.room
            case Left():
                assert self.room_of.pop(session) == message.room
                self.ready.discard(session)
            case PeerLeft() | PeerJoined() | PeerReady():
                assert self.room_of.get(session) is not None, message
                assert self.room_of.get(message.peer) == self.room_of.get(session), message
            case Presence():
                assert session in self.presence, f"presence sent to {session}, not watching"
            case Ringing():
                self.calls[message.call].caller_session = session
            case IncomingCall():
                model = self.calls[message.call]
                assert self.user_of[session] == model.callee, message
                assert session in self.presence, f"{session} rings without presence"
                model.ringing.add(session)
            case CallAccepted():
                model = self.calls[message.call]
                if session == model.caller_session:
                    model.callee_session = message.peer
                else:
                    assert message.peer == model.caller_session, message
                    model.callee_session = session
                model.ringing = set()
            case CallEnded():
                # A call that never rang (offline, busy) is not history: the model never saw it.
                assert message.call in self.calls or message.reason in ("offline", "busy"), message

    def send(self, session: str, message: ClientMessageUnion, relay: bool = False) -> list[Effect]:
        effects = self.core.receive(session, message, self.now)
        return self.apply(effects, relay_sender=session if relay else None)

    def drop(self, session: str) -> list[Effect]:
        """The session's socket closed: its room hears of it, its calls end as documented."""
        user = self.user_of.get(session)
        was_online = session in self.presence and len(self.devices(user or "", True)) == 1
        watchers = self.presence - {session}
        endings: dict[str, tuple[set[str], str]] = {}
        for call in self.live_calls():
            model = self.calls[call]
            if session in (model.caller_session, model.callee_session):
                endings[call] = (model.involved() - {session}, "connection-lost")
            elif model.ringing == {session}:
                # The callee's last ringing device.
                endings[call] = ({model.caller_session}, "connection-lost")  # type: ignore[arg-type]
        self.connected.discard(session)
        effects = self.apply(self.core.disconnect(session, self.now))
        for call, (told, reason) in endings.items():
            self.expect_end(effects, call, reason, user, told)
        for call in self.live_calls():
            self.calls[call].ringing.discard(session)
        announced = sent(effects, Presence)
        if was_online:
            assert {s for s, _ in announced} == watchers, announced
            assert all(not m.online and m.user.id == user for _, m in announced)  # type: ignore[attr-defined]
        else:
            assert announced == [], announced
        self.room_of.pop(session, None)
        assert set(self.room_of.values()) == set(self.room_started), "a room's end not told"
        self.ready.discard(session)
        self.user_of.pop(session, None)
        self.presence.discard(session)
        if user is not None and user not in self.user_of.values():
            self.invites.pop(user, None)  # the core forgets the budget of a user who left
        assert (HELLO_TIMER, session) not in self.timers, "a closed session keeps its hello timer"
        return effects

    # --- expectations ----------------------------------------------------------------------------

    def expect_error(self, effects: list[Effect], session: str, code: ErrorCode) -> None:
        assert len(effects) == 1, f"expected only a {code} error, got {effects}"
        (effect,) = effects
        assert isinstance(effect, Send), effect
        assert effect.session == session, effect
        assert isinstance(effect.message, Error), effect
        assert effect.message.code == code, effect

    def expect_end(
        self,
        effects: list[Effect],
        call: str,
        reason: EndReason,
        by: str | None,
        told: set[str],
        requester: str | None = None,
        request_id: RequestId = None,
    ) -> None:
        """`call` ended in this step, and exactly `told` (plus the requester) heard of it."""
        assert self.ended[call] == 1, f"call {call} did not end ({reason}): {effects}"
        endings = [(s, m) for s, m in sent(effects, CallEnded) if m.call == call]  # type: ignore[attr-defined]
        expected = [(s, CallEnded(call=call, reason=reason, by=by)) for s in told - {requester}]
        if requester is not None:
            expected.append((requester, CallEnded(id=request_id, call=call, reason=reason, by=by)))
        assert sorted(endings, key=repr) == sorted(expected, key=repr), (endings, expected)

    def expect_answer(
        self,
        effects: list[Effect],
        call: str,
        device: str,
        chosen: Media,
        request_id: RequestId,
        ringing: set[str],
    ) -> None:
        """`device` answered `call`: both ends learn each other's session, other devices stop."""
        model = self.calls[call]
        agreed = narrower(model.media, chosen)
        assert self.ended[call] == 0
        assert model.callee_session == device
        caller = model.caller_session
        accepted = sorted(sent(effects, CallAccepted), key=repr)
        assert caller is not None
        # Both clients know the caller-offers rule, or else the room rule (ids in order).
        caller_polite = not (model.caller_offers and knows_roles(device)) and caller < device
        proof = self.tickets.issue(call, model.caller, model.callee)
        assert accepted == sorted(
            [
                (
                    caller,
                    CallAccepted(
                        call=call, media=agreed, peer=device, polite=caller_polite, ticket=proof
                    ),
                ),
                (
                    device,
                    CallAccepted(
                        id=request_id,  # type: ignore[arg-type]
                        call=call,
                        media=agreed,
                        peer=caller,
                        polite=not caller_polite,
                        ticket=proof,
                    ),
                ),
            ],
            key=repr,
        ), accepted
        elsewhere = CallEnded(call=call, reason="answered-elsewhere", by=model.callee)
        assert sorted(sent(effects, CallEnded)) == [
            (s, elsewhere) for s in sorted(ringing - {device})
        ]

    # --- choosing ------------------------------------------------------------------------------

    def choose(self, data: st.DataObject, label: str, likely: list[str], rest: list[str]) -> str:
        """Mostly one of `likely` (where the interesting things happen), else any of `rest`."""
        if likely and (not rest or data.draw(st.integers(0, 3), label=f"{label} is rare") < 3):
            return data.draw(st.sampled_from(sorted(likely)), label=label)
        return data.draw(st.sampled_from(sorted(rest)), label=label)

    def pick(self, data: st.DataObject, label: str) -> str:
        """A connected session, most often a welcomed one."""
        return self.choose(data, label, list(self.user_of), list(self.connected))

    # --- rules ---------------------------------------------------------------------------------

    def arrive(self) -> str:
        session, effects = self.core.connect(self.now)
        assert session not in self.ever, f"session id {session} reused"
        self.connected.add(session)
        self.ever.append(session)
        assert effects == [StartTimer((HELLO_TIMER, session), self.now + SETTINGS.hello_timeout)]
        self.apply(effects)
        return session

    def greet(
        self,
        session: str,
        presence: bool,
        as_user: str | None,
        token: str | None,
        name: str = "",
        version: int = PROTOCOL_VERSION,
        request_id: RequestId = None,
    ) -> None:
        """`session` says hello; `as_user` is the user its token stands for (None: new guest)."""
        welcomed_before = session in self.user_of
        known_users = set(self.tokens)
        watchers = set(self.presence)
        message = Hello(v=version, name=name, token=token, presence=presence, id=request_id)
        effects = self.core.receive(session, message, self.now)
        if welcomed_before:
            self.apply(effects)
            self.expect_error(effects, session, ErrorCode.ALREADY_WELCOMED)
            return
        if version != PROTOCOL_VERSION:
            self.apply(effects)
            self.expect_error(effects, session, ErrorCode.UNSUPPORTED_VERSION)
            return
        was_online = as_user is not None and bool(self.devices(as_user, presence_only=True))
        if presence:
            self.presence.add(session)
        effects = self.apply(effects)
        welcomes = sent(effects, Welcome)
        assert len(welcomes) == 1, effects
        ((to, welcome),) = welcomes
        assert isinstance(welcome, Welcome)
        assert to == session
        assert welcome.session == session
        assert CancelTimer((HELLO_TIMER, session)) in effects
        if as_user is not None:
            # The same token is the same user, on one more device.
            assert welcome.user.id == as_user
            assert welcome.token is None
        else:
            # No token, or one that does not verify: a new guest, never someone else.
            assert welcome.user.id not in known_users
            assert welcome.token is not None
        announced = sent(effects, Presence)
        if presence:
            assert welcome.online is not None
            assert welcome.user.id in {u.id for u in welcome.online}
            if not was_online:
                # A user coming online is announced to every other session on the directory.
                assert {s for s, _ in announced} == watchers, announced
        else:
            assert welcome.online is None
            assert announced == [], announced

    @initialize(
        devices=st.lists(
            st.tuples(st.booleans(), st.integers(0, 3)), min_size=2, max_size=MAX_CONNECTED - 1
        )
    )
    def some_welcomed_sessions(self, devices: list[tuple[bool, int]]) -> None:
        """Starts from a few welcomed sessions: (presence, k), where k > 0 makes the session one
        more device of the k-th user seen so far."""
        for presence, device_of in devices:
            self.connect(0, presence, device_of)

    @precondition(lambda self: len(self.connected) < MAX_CONNECTED)
    @rule(silent=st.integers(0, 3), presence=st.booleans(), device_of=st.integers(0, 3))
    def connect(self, silent: int, presence: bool, device_of: int) -> None:
        """A new connection that says hello at once (as a new user, or with device_of > 0 as
        another device of a known user), or one time in four says nothing yet."""
        session = self.arrive()
        if silent == 3:
            return
        users = sorted(self.tokens)
        as_user = users[device_of - 1] if 0 < device_of <= len(users) else None
        token = self.tokens[as_user] if as_user is not None else None
        self.greet(session, presence, as_user, token)

    @precondition(lambda self: self.connected)
    @rule(
        data=st.data(),
        presence=st.booleans(),
        token=st.sampled_from(["none", "known", "forged"]),
        name=st.sampled_from(NAMES),
        version=st.sampled_from([PROTOCOL_VERSION, PROTOCOL_VERSION, 2]),
        request_id=request_ids,
    )
    def hello(
        self,
        data: st.DataObject,
        presence: bool,
        token: str,
        name: str,
        version: int,
        request_id: RequestId,
    ) -> None:
        silent = [s for s in self.connected if s not in self.user_of]
        session = self.choose(data, "session", silent, list(self.connected))
        as_user: str | None = None
        sent_token: str | None = None
        if token == "known" and self.tokens:
            as_user = data.draw(st.sampled_from(sorted(self.tokens)), label="as_user")
            sent_token = self.tokens[as_user]
        elif token == "forged":
            sent_token = f"{next(iter(self.tokens.values()), 'token-of-u1')}-forged"
        self.greet(session, presence, as_user, sent_token, name, version, request_id)

    @precondition(lambda self: self.connected)
    @rule(data=st.data(), request_id=request_ids)
    def join(self, data: st.DataObject, request_id: RequestId) -> None:
        outside = [s for s in self.user_of if s not in self.room_of]
        session = self.choose(data, "session", outside, list(self.connected))
        waiting = [r for r in ROOMS if len(self.room_members(r)) == 1]
        room = self.choose(data, "room", waiting, list(ROOMS))
        members = self.room_members(room)
        refusal = self.join_refusal(session, room)
        effects = self.send(session, Join(room=room, id=request_id))
        if refusal is not None:
            self.expect_error(effects, session, refusal)
        else:
            peers = [RoomPeer(id=m, ready=m in self.ready) for m in members]
            joined = Joined(
                id=request_id, room=room, created=not members, capacity=CAPACITY, peers=peers
            )
            assert effects == [
                *([RecordRoom("started", room, self.now)] if not members else []),
                Send(session, joined),
                *(Send(m, PeerJoined(peer=session)) for m in members),
            ]

    @precondition(lambda self: self.connected)
    @rule(data=st.data())
    def ready_(self, data: st.DataObject) -> None:
        session = self.choose(data, "session", list(self.room_of), list(self.connected))
        room = self.room_of.get(session)
        welcomed = session in self.user_of
        effects = self.send(session, Ready())
        if not welcomed:
            self.expect_error(effects, session, ErrorCode.HELLO_REQUIRED)
        elif room is None:
            self.expect_error(effects, session, ErrorCode.NOT_IN_ROOM)
        else:
            assert effects == [Send(m, PeerReady(peer=session)) for m in self.room_mates(session)]
            self.ready.add(session)

    @precondition(lambda self: self.connected)
    @rule(data=st.data(), request_id=request_ids)
    def leave(self, data: st.DataObject, request_id: RequestId) -> None:
        session = self.choose(data, "session", list(self.room_of), list(self.connected))
        room = self.room_of.get(session)
        mates = self.room_mates(session)
        welcomed = session in self.user_of
        started = self.room_started.get(room) if room is not None else None
        effects = self.send(session, Leave(id=request_id))
        if not welcomed:
            self.expect_error(effects, session, ErrorCode.HELLO_REQUIRED)
        elif room is None:
            self.expect_error(effects, session, ErrorCode.NOT_IN_ROOM)
        else:
            assert started is not None
            ended = [RecordRoom("ended", room, started, self.now)] if not mates else []
            assert effects == [
                *ended,
                *(Send(m, PeerLeft(peer=session, reason="left")) for m in mates),
                Send(session, Left(id=request_id, room=room)),
            ]
            assert session not in self.room_of

    @precondition(lambda self: self.connected)
    @rule(
        data=st.data(),
        kind=st.sampled_from(["offer", "answer", "candidate", "end-of-candidates"]),
        request_id=request_ids,
    )
    def relay(self, data: st.DataObject, kind: str, request_id: RequestId) -> None:
        # Mostly someone with a room mate or a call, and mostly to a room mate or the peer of a
        # call of the sender's user (which only the answering device may reach).
        in_calls = {
            u for c in self.live_calls() for u in (self.calls[c].caller, self.calls[c].callee)
        }
        talking = [s for s, u in self.user_of.items() if u in in_calls or self.room_mates(s)]
        sender = self.choose(data, "sender", talking, list(self.connected))
        user = self.user_of.get(sender)
        peers = {self.answered_peer(s) for s in self.devices(user)} if user else set()
        likely = self.room_mates(sender) + sorted(p for p in peers if p is not None)
        target = self.choose(data, "target", likely, [*self.ever, FAKE_SESSION])
        self.relay_from(sender, target, kind, request_id)

    def bystanders(self) -> list[tuple[str, str]]:
        """(device, peer): a device of a user in an answered call that is not the device in the
        call, with the session at the call's other end."""
        found = []
        for call in self.live_calls():
            model = self.calls[call]
            if not model.answered:
                continue
            for user, end, peer in (
                (model.caller, model.caller_session, model.callee_session),
                (model.callee, model.callee_session, model.caller_session),
            ):
                found += [(s, peer) for s in self.devices(user) if s != end]
        return sorted(found)  # type: ignore[arg-type]

    @precondition(lambda self: self.bystanders())
    @rule(data=st.data(), kind=st.sampled_from(["offer", "answer", "candidate"]))
    def relay_from_another_device(self, data: st.DataObject, kind: str) -> None:
        """The call's user on another tab is not the call: it cannot reach the peer (unless the
        two happen to share a room)."""
        device, peer = data.draw(st.sampled_from(self.bystanders()), label="device, peer")
        self.relay_from(device, peer, kind, None)

    def relay_from(self, sender: str, target: str, kind: str, request_id: RequestId) -> None:
        message: Offer | Answer | Candidate
        expected: ServerMessage
        sdp = f"v=0 from {sender}"
        match kind:
            case "offer":
                message = Offer(to=target, sdp=sdp, id=request_id)
                expected = RelayedOffer(from_=sender, sdp=sdp)
            case "answer":
                message = Answer(to=target, sdp=sdp, id=request_id)
                expected = RelayedAnswer(from_=sender, sdp=sdp)
            case "candidate":
                line = IceCandidate(candidate=f"candidate:{sender}", sdpMid="0")
                message = Candidate(to=target, candidate=line, id=request_id)
                expected = RelayedCandidate(from_=sender, candidate=line)
            case _:
                message = Candidate(to=target, candidate=None, id=request_id)
                expected = RelayedCandidate(from_=sender, candidate=None)
        allowed = self.may_relay(sender, target)
        effects = self.send(sender, message, relay=True)
        if sender not in self.user_of:
            self.expect_error(effects, sender, ErrorCode.HELLO_REQUIRED)
        elif allowed:
            assert effects == [Send(target, expected)]
        else:
            # Unknown, closed, elsewhere or yourself: all the same answer, nothing delivered.
            self.expect_error(effects, sender, ErrorCode.PEER_NOT_FOUND)

    @precondition(lambda self: self.connected)
    @rule(data=st.data())
    def ice_servers(self, data: st.DataObject) -> None:
        session = self.pick(data, "session")
        welcomed = session in self.user_of
        effects = self.send(session, IceServersRequest(id=1))
        if not welcomed:
            self.expect_error(effects, session, ErrorCode.HELLO_REQUIRED)
        else:
            assert len(effects) == 1, effects
            assert isinstance(effects[0], Send)
            assert effects[0].session == session
            assert isinstance(effects[0].message, IceServers | Error), effects

    @precondition(lambda self: self.user_of)
    @rule(data=st.data(), media=media, request_id=request_ids)
    def invite(self, data: st.DataObject, media: Media, request_id: RequestId) -> None:
        busy = {u for c in self.live_calls() for u in (self.calls[c].caller, self.calls[c].callee)}
        free = [s for s, u in self.user_of.items() if u not in busy]
        session = self.choose(data, "caller", free, list(self.user_of))
        user = self.user_of[session]
        online = sorted({self.user_of[p] for p in self.presence} - {user})
        users = sorted(set(self.user_of.values()) | set(self.tokens))
        to = self.choose(data, "callee", online, [*users, FAKE_USER])
        self.place_call(session, to, media, request_id)

    def place_call(
        self, session: str, to: str, media: Media, request_id: RequestId = None
    ) -> str | None:
        """`session` invites the user `to`; checks the answer; returns the call when it rings."""
        user = self.user_of[session]
        recent = [t for t in self.invites.get(user, []) if t > self.now - 60.0]
        own = self.call_of_user(user)
        callee_call = self.call_of_user(to)
        devices = set(self.devices(to, presence_only=True))
        ringing_before = set(self.calls[own].ringing) if own is not None else set()
        glare = own is not None and (
            not self.calls[own].answered
            and (self.calls[own].caller, self.calls[own].callee) == (to, user)
        )
        calls_before = set(self.calls)
        invite = Invite(to=to, media=media, id=request_id, caller_offers=knows_roles(session))
        effects = self.send(session, invite)
        if len(recent) >= INVITES_PER_MINUTE:
            self.expect_error(effects, session, ErrorCode.RATE_LIMITED)
            return None
        self.invites[user] = [*recent, self.now]
        if to == user:
            self.expect_error(effects, session, ErrorCode.CANNOT_CALL_SELF)
            return None
        if own is not None:
            if glare:
                # Both called each other: this invite answers the call that rings this user.
                event("glare")
                self.expect_answer(effects, own, session, media, request_id, ringing_before)
            else:
                self.expect_error(effects, session, ErrorCode.ALREADY_IN_CALL)
            return None
        new = set(self.calls) - calls_before
        if not devices or callee_call is not None:
            reason: EndReason = "offline" if not devices else "busy"
            assert new == set(), f"a call that never rang was recorded: {effects}"
            [(to_session, ended)] = sent(effects, CallEnded)
            assert to_session == session and len(effects) == 1, effects
            assert (ended.reason, ended.id, ended.by) == (reason, request_id, None)  # type: ignore[attr-defined]
            return None
        assert len(new) == 1, f"an invite that passed made {len(new)} calls: {effects}"
        (call,) = new
        model = self.calls[call]
        model.caller_offers = invite.caller_offers
        assert (model.caller, model.callee, model.media) == (user, to, media)
        assert self.ended[call] == 0
        assert model.caller_session == session
        ringing = sent(effects, Ringing)
        assert [(s, m.id, m.call, m.media) for s, m in ringing] == [  # type: ignore[attr-defined]
            (session, request_id, call, media)
        ]
        assert model.ringing == devices, (model.ringing, devices)
        assert self.timers[(RING_TIMER, call)] == self.now + SETTINGS.ring_timeout
        return call

    @precondition(lambda self: self.connected)
    @rule(
        data=st.data(),
        kind=st.sampled_from(["accept", "reject", "cancel", "hangup"]),
        media=media,
        request_id=request_ids,
    )
    def call_action(
        self, data: st.DataObject, kind: str, media: Media, request_id: RequestId
    ) -> None:
        call = self.choose(data, "call", self.live_calls(), [*self.calls, FAKE_CALL])
        model = self.calls.get(call)
        parties = []
        if model is not None:
            parties = [s for s, u in self.user_of.items() if u in (model.caller, model.callee)]
        session = self.choose(data, "session", parties, list(self.connected))
        self.act_on_call(session, kind, call, media, request_id)

    def act_on_call(
        self, session: str, kind: str, call: str, media: Media, request_id: RequestId = None
    ) -> None:
        """`session` accepts, rejects, cancels or hangs up `call`; checks the documented result."""
        message: Accept | Reject | Cancel | Hangup
        match kind:
            case "accept":
                message = Accept(
                    call=call, media=media, id=request_id, caller_offers=knows_roles(session)
                )
            case "reject":
                message = Reject(call=call, id=request_id)
            case "cancel":
                message = Cancel(call=call, id=request_id)
            case _:
                message = Hangup(call=call, id=request_id)
        user = self.user_of.get(session)
        model = self.calls.get(call)
        outsider = (
            model is None
            or self.ended[call] > 0
            or user not in (model.caller, model.callee)
            or (user == model.caller and session != model.caller_session)
            or (user == model.callee and model.answered and session != model.callee_session)
        )
        answered = model is not None and model.answered
        told = model.involved() if model is not None and not outsider else set()
        ringing = set(model.ringing) if model is not None else set()
        effects = self.send(session, message)
        if user is None:
            self.expect_error(effects, session, ErrorCode.HELLO_REQUIRED)
            return
        if outsider:
            # Only the parties of a live call can act on it; to anyone else it does not exist.
            self.expect_error(effects, session, ErrorCode.CALL_NOT_FOUND)
            return
        assert model is not None
        is_caller = user == model.caller
        reason: EndReason
        if kind in ("accept", "reject") and (is_caller or answered):
            self.expect_error(effects, session, ErrorCode.WRONG_CALL_STATE)
        elif kind == "accept":
            self.expect_answer(effects, call, session, media, request_id, ringing)
        elif kind == "reject":
            self.expect_end(effects, call, "declined", user, told, session, request_id)
        elif kind == "cancel" and not is_caller:
            self.expect_error(effects, session, ErrorCode.WRONG_CALL_STATE)
        else:
            # A cancel racing an answer hangs up; a hangup while ringing cancels or declines.
            reason = "hangup" if answered else "cancelled" if is_caller else "declined"
            self.expect_end(effects, call, reason, user, told, session, request_id)

    @precondition(lambda self: len(self.user_of) >= 2)
    @rule(data=st.data(), media=media, answer=st.booleans())
    def call_and_maybe_answer(self, data: st.DataObject, media: Media, answer: bool) -> None:
        """A shortcut to the states where calls are up: invite someone online, and answer on
        one of the callee's devices (ringing or not)."""
        busy = {u for c in self.live_calls() for u in (self.calls[c].caller, self.calls[c].callee)}
        callers = sorted(s for s, u in self.user_of.items() if u not in busy)
        if not callers:
            return
        caller = data.draw(st.sampled_from(callers), label="caller")
        callees = sorted({self.user_of[p] for p in self.presence} - busy - {self.user_of[caller]})
        if not callees:
            return
        callee = data.draw(st.sampled_from(callees), label="callee")
        call = self.place_call(caller, callee, media)
        if answer and call is not None:
            device = data.draw(st.sampled_from(self.devices(callee)), label="device")
            self.act_on_call(device, "accept", call, media)

    @precondition(lambda self: len([s for s in self.user_of if s not in self.room_of]) >= 2)
    @rule(data=st.data(), room=st.sampled_from(ROOMS))
    def pair_up(self, data: st.DataObject, room: str) -> None:
        """A shortcut to a room with two members: two sessions outside rooms join `room`."""
        outside = sorted(s for s in self.user_of if s not in self.room_of)
        first = data.draw(st.sampled_from(outside), label="first")
        second = data.draw(st.sampled_from([s for s in outside if s != first]), label="second")
        for session in (first, second):
            refusal = self.join_refusal(session, room)
            effects = self.send(session, Join(room=room))
            if refusal is not None:
                self.expect_error(effects, session, refusal)
            else:
                assert self.room_of.get(session) == room, effects

    @precondition(lambda self: self.connected)
    @rule(data=st.data())
    def disconnect(self, data: st.DataObject) -> None:
        session = self.pick(data, "session")
        self.drop(session)
        # Whatever the I/O layer still hands over for the closed session changes nothing.
        assert self.core.receive(session, Join(room=ROOMS[0]), self.now) == []
        assert self.core.receive(session, Hello(v=PROTOCOL_VERSION), self.now) == []
        assert self.core.refuse(session, ErrorCode.BAD_JSON, "late frame") == []
        assert self.core.disconnect(session, self.now) == []
        assert self.core.session(session) is None

    @rule(seconds=st.sampled_from([0.5, 5.0, 9.0, 11.0, 29.0, 31.0]))
    def advance_clock(self, seconds: float) -> None:
        """Time passes; every timer now due fires, earliest first, as the hub's loop would."""
        self.now += seconds
        for _ in range(100):
            due = sorted((deadline, key) for key, deadline in self.timers.items())
            if not due or due[0][0] > self.now:
                return
            _, key = due[0]
            del self.timers[key]
            purpose, subject = key
            silent = subject in self.connected and subject not in self.user_of
            model = self.calls.get(subject) if purpose == RING_TIMER else None
            told = model.involved() if model is not None else set()
            effects = self.apply(self.core.timer_expired(key, self.now))
            if purpose == HELLO_TIMER and silent:
                assert len(effects) >= 1, effects
                assert isinstance(effects[0], CloseSession), effects
                assert (effects[0].session, effects[0].code) == (subject, CloseCode.HELLO_TIMEOUT)
            elif model is not None:
                self.expect_end(effects, subject, "no-answer", None, told)
            else:
                assert effects == [], (key, effects)
        raise AssertionError("timers keep firing")

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def rooms_hold_at_most_their_capacity_and_agree_with_what_members_were_told(self) -> None:
        for room in ROOMS:
            found = self.core.rooms.get(room)
            members = found.members if found is not None else {}
            assert len(members) <= CAPACITY, f"room {room} holds {list(members)}"
            assert sorted(members) == sorted(self.room_members(room)), room
            for session, member in members.items():
                assert session in self.connected, f"closed {session} still in {room}"
                state = self.core.session(session)
                assert state is not None
                assert state.room == room
                assert member.ready == (session in self.ready), (room, session)
        assert len(self.core.rooms) == len(set(self.room_of.values()))

    @invariant()
    def every_call_ends_exactly_once(self) -> None:
        live = 0
        for call in self.calls:
            assert self.ended[call] <= 1
            in_core = self.core.calls.get(call)
            if self.ended[call]:
                assert in_core is None, f"ended call {call} is still in the core"
            else:
                assert in_core is not None, f"call {call} is gone without an `ended` record"
                live += 1
        assert len(self.core.calls) == live, "the core holds a call nobody was told about"

    @invariant()
    def a_user_is_in_at_most_one_live_call(self) -> None:
        seen: Counter[str] = Counter()
        for call in self.live_calls():
            seen[self.calls[call].caller] += 1
            seen[self.calls[call].callee] += 1
        assert all(n == 1 for n in seen.values()), seen

    @invariant()
    def live_calls_only_involve_open_sessions(self) -> None:
        for call in self.live_calls():
            model = self.calls[call]
            in_core = self.core.calls.get(call)
            assert in_core is not None
            assert in_core.caller_session == model.caller_session
            assert model.caller_session in self.connected
            if in_core.state is CallState.ACTIVE:
                assert in_core.callee_session == model.callee_session
                assert model.callee_session in self.connected
            else:
                assert not model.answered
                assert in_core.ringing_sessions == model.ringing
                assert model.ringing <= self.connected
                assert model.ringing, f"call {call} rings nowhere"

    @invariant()
    def timers_are_exactly_the_pending_deadlines(self) -> None:
        """A silent session always has a hello deadline, a ringing call a ring timeout; nothing
        else keeps a timer."""
        expected = {(HELLO_TIMER, s) for s in self.connected if s not in self.user_of}
        expected |= {(RING_TIMER, c) for c in self.live_calls() if not self.calls[c].answered}
        assert set(self.timers) == expected


SignalingMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_signaling_core_state_machine = SignalingMachine.TestCase
