"""CoreSnapshot: a busy core's state survives msgpack (as a cluster node hands it to a joining
one), and the core that imports it answers the next events exactly as the original does."""

import copy
from dataclasses import dataclass
from typing import Any

import msgspec

from parley.core.calls import RING_TIMER, CallState
from parley.core.effects import Effect, Send
from parley.core.settings import CoreSettings
from parley.core.signaling import RESUME_TIMER, CoreSnapshot, SignalingCore
from parley.identity import GuestIdentities
from parley.protocol.messages import (
    PROTOCOL_VERSION,
    Accept,
    Candidate,
    Hangup,
    Hello,
    IceServer,
    IceServersRequest,
    Invite,
    Join,
    Leave,
    Offer,
    Quality,
    Ready,
    Welcome,
)
from parley.protocol.routing import RelayRoute, decode_route

SECRET = b"s" * 32


@dataclass
class Counter:
    """An id source whose position can be copied, so that two cores draw the same ids."""

    prefix: str
    n: int = 0

    def __call__(self) -> str:
        self.n += 1
        return f"{self.prefix}{self.n}"


class FakeTurn:
    """Anything with `issue(user, now)` serves as CoreSettings.turn."""

    def issue(self, user: str, now: float) -> IceServer:
        return IceServer(urls=["turn:turn.test"], username=f"{int(now)}:{user}", credential="c")


SETTINGS = CoreSettings(turn=FakeTurn(), ice_requests_per_minute=2, quality_reports_per_minute=3)


def make_core(ids: Counter, guests: Counter, tokens: Counter) -> SignalingCore:
    return SignalingCore(
        SETTINGS,
        new_id=ids,
        identities=GuestIdentities(SECRET, new_id=guests),
        instance="gen-1",
        new_token=tokens,
        ticket_key=b"k" * 32,  # every node of a cluster signs with the same key
    )


@dataclass
class Tab:
    session: str
    user: str
    token: str
    resume: str


class World:
    def __init__(self) -> None:
        self.ids, self.guests, self.tokens = Counter("s"), Counter("u"), Counter("t")
        self.core = make_core(self.ids, self.guests, self.tokens)
        self.now = 1000.0

    def twin(self, snapshot: CoreSnapshot) -> "World":
        """Another world whose core imported `snapshot`, with id sources at the same place."""
        other = World.__new__(World)
        other.ids, other.guests, other.tokens = (copy.copy(c) for c in self.ids_sources())
        other.core = make_core(other.ids, other.guests, other.tokens)
        other.core.import_state(snapshot)
        other.now = self.now
        return other

    def ids_sources(self) -> tuple[Counter, Counter, Counter]:
        return self.ids, self.guests, self.tokens

    def hello(self, presence: bool = True, name: str = "") -> Tab:
        session, _ = self.core.connect(self.now)
        effects = self.core.receive(
            session, Hello(v=PROTOCOL_VERSION, name=name, presence=presence), self.now
        )
        (welcome,) = [e.message for e in effects if isinstance(e, Send) and e.session == session]
        assert isinstance(welcome, Welcome) and welcome.token and welcome.resume
        return Tab(session, welcome.user.id, welcome.token, welcome.resume)

    def send(self, tab: Tab, message: Any) -> list[Effect]:
        self.now += 1
        return self.core.receive(tab.session, message, self.now)


def view(effects: list[Effect]) -> list[Any]:
    """Effects with each Send's seq spelled out (it is left out of a Send's equality)."""
    return [(e.session, e.message, e.seq) if isinstance(e, Send) else e for e in effects]


def route(to: str) -> RelayRoute:
    found = decode_route(f'{{"type":"offer","to":"{to}","sdp":"v=0\\r\\no=- 1 2 IN IP4 0.0.0.0"}}')
    assert found is not None
    return found


def busy_world() -> tuple[World, dict[str, Tab], str]:
    """Sessions online, an answered call with relays (typed and forwarded), a ringing call with
    an offer, an ended call, a room of two, a session away with missed messages, used budgets."""
    w = World()
    ana, bo, cy, di, eve = (w.hello(name=n) for n in ("Ana", "Bo", "Cy", "Di", "Eve"))
    room_a, room_b, gus, hal = (w.hello(presence=False) for _ in range(4))
    answered = _call(w, ana, bo)
    w.send(ana, Offer(to=bo.session, sdp="v=0 typed"))
    w.core.forward(bo.session, route(ana.session), w.now)
    w.send(bo, Candidate(to=ana.session, candidate=None))
    ended = _call(w, eve, cy)
    w.send(eve, Hangup(call=ended))
    w.send(cy, Quality(call=ended, durationSeconds=3))
    w.send(eve, Invite(to=di.user, media="video", caller_offers=True, offer="v=0 rung"))
    for tab in (room_a, room_b):
        w.send(tab, Join(room="blue-fox"))
        w.send(tab, Ready())
    w.send(room_a, IceServersRequest())
    w.send(room_a, IceServersRequest())
    for tab in (gus, hal):
        w.send(tab, Join(room="red-owl"))
    w.core.connection_lost(gus.session, w.now)
    # Bo's socket drops: he misses a forwarded offer and a candidate while away.
    w.core.connection_lost(bo.session, w.now)
    w.core.forward(ana.session, route(bo.session), w.now)
    w.send(ana, Candidate(to=bo.session, candidate=None))
    assert w.core.calls.get(answered) is not None
    tabs = dict(ana=ana, bo=bo, cy=cy, di=di, eve=eve, room_a=room_a, room_b=room_b, gus=gus)
    return w, tabs, ended


def _call(w: World, caller: Tab, callee: Tab) -> str:
    effects = w.send(caller, Invite(to=callee.user, media="video", caller_offers=True))
    (call,) = {getattr(e.message, "call", None) for e in effects if isinstance(e, Send)} - {None}
    w.send(callee, Accept(call=call, media="video", caller_offers=True))
    return str(call)


def next_events(w: World, tabs: dict[str, Tab], ended: str) -> list[list[Any]]:
    """The same events, in the same order, for either core: what each returns."""
    ana, bo, di, eve = tabs["ana"], tabs["bo"], tabs["di"], tabs["eve"]
    room_a, room_b = tabs["room_a"], tabs["room_b"]
    core = w.core
    ringing = next(c for c in core.calls.known_ids() if c != _answered(core))
    answers: list[list[Effect]] = []
    # Bo comes back on a new socket: his session, and exactly what he missed, in order.
    socket, _ = core.connect(w.now)
    resume = Hello(v=PROTOCOL_VERSION, token=bo.token, resume=bo.resume, lastSeq=2)
    answers.append(core.receive(socket, resume, w.now))
    answers.append(core.receive(socket, Offer(to=ana.session, sdp="v=0 resumed"), w.now))
    answers.append(w.send(di, Accept(call=ringing, media="audio", caller_offers=True)))
    answers.append(w.send(room_a, IceServersRequest()))  # over its budget
    answers.append(w.send(room_b, Quality(durationSeconds=5)))
    answers.append(w.send(room_b, Quality(durationSeconds=5)))  # a repeat: saved once
    answers.append(w.send(room_a, Leave()))
    answers.append(w.send(eve, Hangup(call=ringing)))
    answers.append(w.send(tabs["cy"], Quality(call=ended, durationSeconds=1)))
    fresh = w.hello(name="Fay")
    answers.append(w.send(fresh, Invite(to=ana.user, media="audio")))  # Ana is busy
    answers.append(core.disconnect(ana.session, w.now))
    answers.append(core.timer_expired((RESUME_TIMER, tabs["gus"].session), w.now + 60))
    return [view(effects) for effects in answers]


def _answered(core: SignalingCore) -> str:
    return next(
        c
        for c in core.calls.known_ids()
        if (call := core.calls.get(c)) is not None and call.state is CallState.ACTIVE
    )


def test_a_busy_core_round_trips_through_msgpack_and_then_behaves_the_same() -> None:
    original, tabs, ended = busy_world()
    snapshot = original.core.export_state()
    data = msgspec.msgpack.encode(snapshot)
    decoded = msgspec.msgpack.decode(data, type=CoreSnapshot)
    assert decoded == snapshot
    restored = original.twin(decoded)
    assert restored.core.export_state() == snapshot
    # What the snapshot holds, spelled out (so that an empty one could not pass).
    assert {c.state for c in snapshot.calls.calls} == {CallState.ACTIVE, CallState.RINGING}
    assert snapshot.calls.ended and snapshot.rooms["blue-fox"].members
    away = {s for ids in snapshot.sessions.away_by_user.values() for s in ids}
    assert away == {tabs["bo"].session, tabs["gus"].session}
    assert {e.kind for s in snapshot.sessions.sessions for e in s.log.entries or ()} >= {
        "ForwardedOffer",
        "RelayedOffer",
        "RelayedCandidate",
    }
    assert snapshot.ice_requests and snapshot.invites and snapshot.quality_reports
    assert snapshot.turn_credentials_issued > 0

    expected = next_events(original, tabs, ended)
    assert next_events(restored, tabs, ended) == expected
    assert restored.core.export_state() == original.core.export_state()
    assert restored.core.turn_credentials_issued == original.core.turn_credentials_issued


def test_a_snapshot_also_round_trips_through_json() -> None:
    original, _, _ = busy_world()
    snapshot = original.core.export_state()
    assert msgspec.json.decode(msgspec.json.encode(snapshot), type=CoreSnapshot) == snapshot


def test_an_imported_snapshot_shares_nothing_with_its_source() -> None:
    original, tabs, _ = busy_world()
    snapshot = original.core.export_state()
    before = msgspec.msgpack.encode(snapshot)
    twin = original.twin(snapshot)
    twin.send(tabs["room_b"], Leave())
    twin.core.timer_expired((RING_TIMER, "none"), twin.now)
    twin.core.disconnect(tabs["ana"].session, twin.now)
    assert msgspec.msgpack.encode(snapshot) == before
    assert original.core.export_state() == snapshot


def test_reset_forgets_everything_but_the_configuration() -> None:
    original, _, _ = busy_world()
    original.core.reset(instance="gen-2")
    state = original.core.export_state()
    assert state.instance == "gen-2"
    assert state.sessions.sessions == [] and state.calls.calls == [] and state.rooms == {}
    assert original.core.connect(original.now)[0] == f"s{original.ids.n}"
