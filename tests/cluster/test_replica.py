"""The cluster's replica of the signaling core, driven by hand: no Redis, no sockets, a log fed
by the test with its own clock. Every node applies the same log to its own replica; these tests
check that replicas agree (effects, ids, state), that timers fire once whoever reports them, what
a lost or departing node does to its sessions, and that a snapshot carries everything."""

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from parley.cluster.events import (
    Closed,
    Connected,
    NodeJoined,
    NodeLeft,
    NodeLost,
    SyncRequest,
    Text,
    TimerFired,
)
from parley.cluster.replica import Replica
from parley.core.calls import RING_TIMER, CallState
from parley.core.effects import CloseSession, Effect, Send, StartTimer
from parley.core.signaling import HELLO_TIMER, RESUME_TIMER, CoreSettings
from parley.identity import GuestIdentities
from parley.protocol.messages import (
    CallAccepted,
    CallEnded,
    IncomingCall,
    Joined,
    PeerJoined,
    PeerLeft,
    Ringing,
    ServerMessage,
    Welcome,
)
from tests.cluster.helpers import (
    SECRET,
    LogFeed,
    as_handed,
    effect_view,
    frame,
    make_replica,
    plain,
    replica_state,
)

SETTINGS = CoreSettings(ring_timeout=30.0, resume_window=30.0, hello_timeout=10.0)
ID_LENGTH = 22  # 128 bits in URL-safe base64


# --- reading effects ------------------------------------------------------------------------


def messages_to(effects: list[Effect], session: str) -> list[ServerMessage]:
    return [e.message for e in effects if isinstance(e, Send) and e.session == session]


def only_to(effects: list[Effect], session: str, kind: type[Any]) -> Any:
    found = [m for m in messages_to(effects, session) if isinstance(m, kind)]
    assert len(found) == 1, f"expected one {kind.__name__} to {session}: {effects}"
    return found[0]


def timers(effects: list[Effect], purpose: str) -> list[StartTimer]:
    return [e for e in effects if isinstance(e, StartTimer) and e.key[0] == purpose]


def ended(effects: list[Effect]) -> list[tuple[str, str, str]]:
    return [
        (e.session, e.message.call, e.message.reason)
        for e in effects
        if isinstance(e, Send) and isinstance(e.message, CallEnded)
    ]


# --- a log shared by replicas -----------------------------------------------------------------


@dataclass
class Device:
    connection: str
    session: str
    user: str
    token: str
    resume: str
    last_seq: int = 0


class Agreeing:
    """Feeds one log to several replicas, checks at every entry that they all answered alike
    (same sends, same seq, same timers and records), and hands back the first one's effects."""

    def __init__(self, *replicas: Replica, feed: LogFeed | None = None) -> None:
        self.replicas = list(replicas)
        self.feed = feed or LogFeed(self.replicas)
        self.feed.replicas = self.replicas

    def apply(self, event: Any, *, at: float | None = None) -> list[Effect]:
        each = self.feed.apply(event, at=at)
        first = effect_view(each[0])
        for index, other in enumerate(each[1:], start=1):
            assert effect_view(other) == first, f"replica {index} disagrees on {event}"
        return each[0]

    @property
    def now(self) -> float:
        return self.feed.now

    def hello(
        self, node: str, connection: str, *, name: str = "", presence: bool = False, **more: Any
    ) -> tuple[Device, Welcome]:
        self.apply(Connected(node, connection))
        effects = self.apply(
            Text(connection, frame("hello", v=1, name=name, presence=presence, **more))
        )
        welcome = [
            e.message for e in effects if isinstance(e, Send) and isinstance(e.message, Welcome)
        ]
        assert len(welcome) == 1, effects
        w = welcome[0]
        assert w.resume is not None
        device = Device(
            connection, w.session, w.user.id, w.token or more.get("token", ""), w.resume
        )
        sends = [e for e in effects if isinstance(e, Send) and e.session == w.session]
        device.last_seq = max([e.seq for e in sends], default=0)
        return device, w

    def join(self, device: Device, room: str) -> list[Effect]:
        effects = self.apply(Text(device.connection, frame("join", room=room, id="j")))
        only_to(effects, device.session, Joined)
        return effects

    def invite(self, caller: Device, callee: Device) -> tuple[str, float]:
        """Rings `callee`; returns the call id and the ring timer's deadline."""
        effects = self.apply(
            Text(caller.connection, frame("invite", to=callee.user, media="video", id=1))
        )
        ringing = only_to(effects, caller.session, Ringing)
        incoming = only_to(effects, callee.session, IncomingCall)
        assert incoming.call == ringing.call
        (ring,) = timers(effects, RING_TIMER)
        assert ring.key == (RING_TIMER, ringing.call)
        return ringing.call, ring.deadline


def two_nodes(replicas: int = 2) -> Agreeing:
    log = Agreeing(*(make_replica(SETTINGS) for _ in range(replicas)))
    log.apply(NodeJoined("A"))
    log.apply(NodeJoined("B"), at=log.now + 0.5)
    return log


# --- replicas agree ---------------------------------------------------------------------------


def test_replicas_fed_the_same_log_agree_on_every_effect_id_and_state() -> None:
    log = two_nodes()
    first, second = log.replicas

    # Guests: each hello makes a new user, named alike on every replica.
    ana, ana_welcome = log.hello("A", "c-ana", name="Ana", presence=True)
    bo, _ = log.hello("B", "c-bo", name="Bo", presence=True)
    assert ana.user != bo.user
    assert len(ana.user) == ID_LENGTH and len(bo.user) == ID_LENGTH
    assert ana_welcome.token is not None and ana_welcome.instance == "gen-1"
    # The token signs the derived user id with the shared secret: any node verifies it.
    verifier = GuestIdentities(SECRET)
    assert verifier.user_for_token(ana.token, log.now) == ana.user
    # Resume tokens are secrets of their own, not the session or user ids.
    assert len({ana.resume, bo.resume, ana.session, bo.session, ana.user, bo.user}) == 6

    # A second device of Ana's (same token): the same user.
    ana2, _ = log.hello("B", "c-ana2", name="Ana", presence=True, token=ana.token)
    assert ana2.user == ana.user

    # A call: its id is drawn while the invite is applied, alike everywhere.
    call, _ = log.invite(bo, ana)
    assert len(call) == ID_LENGTH and call not in (ana.user, bo.user)
    accepted = log.apply(Text(ana2.connection, frame("accept", call=call, media="audio")))
    assert only_to(accepted, bo.session, CallAccepted).peer == ana2.session
    relay = log.apply(Text(bo.connection, frame("offer", to=ana2.session, sdp="v=0 x")))
    (relayed,) = [e for e in relay if isinstance(e, Send)]
    assert relayed.session == ana2.session and relayed.seq > 0

    # A room across the two nodes.
    cy, _ = log.hello("A", "c-cy")
    dee, _ = log.hello("B", "c-dee")
    log.join(cy, "blue")
    joined = log.join(dee, "blue")
    assert messages_to(joined, cy.session) == [PeerJoined(peer=dee.session)]

    # Dee's socket drops, she resumes through a socket on the other node.
    away = log.apply(Closed(dee.connection, True))
    assert timers(away, RESUME_TIMER)
    log.apply(Text(cy.connection, frame("candidate", to=dee.session, candidate=None)))
    back, welcome = log.hello(
        "A", "c-dee2", token=dee.token, resume=dee.resume, lastSeq=dee.last_seq
    )
    assert welcome.resumed and back.session == dee.session

    # A socket that never says hello is closed by its (reported) timer.
    log.apply(Connected("A", "c-mute"))
    hello_deadline = first.deadlines[(HELLO_TIMER, "c-mute")]
    closed = log.apply(TimerFired(HELLO_TIMER, "c-mute", hello_deadline), at=hello_deadline)
    assert any(isinstance(e, CloseSession) for e in closed)

    # A node is lost: the sessions of its sockets go away, on every replica alike.
    log.apply(NodeLost("B"), at=log.now + 5)
    assert replica_state(first) == replica_state(second)
    assert first.position.number == log.feed.number


def scripted_run() -> str:
    """A fixed log (guests, a user on two devices, a call ringing both, a room, a drop and a
    resume, a lost node, a snapshot handed to a new replica) applied to a replica: a digest of
    every effect and of the final state. Nodes are separate processes, each with its own hash
    seed: nothing may depend on the order a set or a hash happens to give."""
    replica = make_replica(SETTINGS)
    log = Agreeing(replica)
    seen: list[Any] = []
    apply = log.apply

    def recording(event: Any, *, at: float | None = None) -> list[Effect]:
        effects = apply(event, at=at)
        seen.append(plain(effect_view(effects)))
        return effects

    log.apply = recording  # type: ignore[method-assign]
    log.apply(NodeJoined("A"))
    log.apply(NodeJoined("B"))
    users = [log.hello("AB"[n % 2], f"c{n}", name=f"u{n}", presence=True)[0] for n in range(6)]
    second = log.hello("B", "c-second", name="u1", presence=True, token=users[1].token)[0]
    call, _ = log.invite(users[0], users[1])
    log.apply(Text(second.connection, frame("accept", call=call, media="audio")))
    for n in (2, 3, 4):
        log.apply(Text(users[n].connection, frame("join", room="r", id=n)))
    log.apply(Closed(users[2].connection, True))
    log.apply(Text(users[3].connection, frame("ready")))
    log.hello("A", "c-back", token=users[2].token, resume=users[2].resume)
    log.apply(SyncRequest("C"))
    fresh = make_replica(SETTINGS, generation="")
    fresh.ids.start_generation("gen-1")
    fresh.restore(as_handed(replica.snapshot()))
    log.replicas.append(fresh)
    log.apply(NodeJoined("C"))
    log.apply(NodeLost("B"), at=log.now + 1)
    # A call ringing two devices that ends while ringing (cancelled, and at the end by the
    # last node leaving).
    log.hello("C", "c-fifth", name="u5", presence=True, token=users[5].token)
    other, _ = log.invite(users[4], users[5])
    log.apply(Text(users[4].connection, frame("cancel", call=other)))
    log.invite(users[4], users[5])
    log.apply(NodeLeft("A"))
    log.apply(NodeLeft("C"))
    seen.append(replica_state(fresh))
    return hashlib.sha256(repr(seen).encode()).hexdigest()


def test_replicas_in_processes_with_different_hash_seeds_agree() -> None:
    here = scripted_run()
    code = "from tests.cluster.test_replica import scripted_run; print(scripted_run())"
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=Path(__file__).parents[2],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == here, f"hash seed {seed}"


# --- timers -----------------------------------------------------------------------------------


def test_a_ring_timer_reported_late_with_a_stale_deadline_or_twice_fires_once() -> None:
    log = two_nodes()
    ana, _ = log.hello("A", "c-ana", name="Ana", presence=True)
    bo, _ = log.hello("B", "c-bo", name="Bo", presence=True)
    call, deadline = log.invite(ana, bo)

    # A report for an older deadline of this key changes nothing.
    assert log.apply(TimerFired(RING_TIMER, call, deadline - 1.0), at=deadline) == []
    assert log.replicas[0].core.calls.get(call) is not None

    # The oldest node reports it: the call ends, once, for both sides.
    fired = log.apply(TimerFired(RING_TIMER, call, deadline), at=deadline + 0.01)
    assert sorted(ended(fired)) == sorted(
        [(ana.session, call, "no-answer"), (bo.session, call, "no-answer")]
    )
    # Another node takes over late (2 s later) and reports it again: nothing more.
    assert log.apply(TimerFired(RING_TIMER, call, deadline), at=deadline + 2.0) == []
    assert (RING_TIMER, call) not in log.replicas[0].deadlines

    # The two can call again: no call is stuck.
    again, _ = log.invite(bo, ana)
    assert again != call


def test_a_resume_timer_reported_for_an_earlier_drop_does_not_end_the_session() -> None:
    log = two_nodes()
    ana, _ = log.hello("A", "c-ana")
    bo, _ = log.hello("B", "c-bo")
    log.join(ana, "blue")
    log.join(bo, "blue")

    first_drop = log.apply(Closed(bo.connection, True))
    (first,) = timers(first_drop, RESUME_TIMER)
    bo2, welcome = log.hello("A", "c-bo2", token=bo.token, resume=bo.resume)
    assert welcome.resumed
    second_drop = log.apply(Closed(bo2.connection, True), at=log.now + 3)
    (second,) = timers(second_drop, RESUME_TIMER)
    assert second.deadline > first.deadline

    # The first drop's deadline comes and is reported: it no longer counts.
    assert log.apply(TimerFired(RESUME_TIMER, bo.session, first.deadline), at=first.deadline) == []
    assert log.replicas[0].core.session(bo.session) is not None
    # The second one ends the session, once.
    gone = log.apply(TimerFired(RESUME_TIMER, bo.session, second.deadline), at=second.deadline)
    assert messages_to(gone, ana.session) == [PeerLeft(peer=bo.session, reason="disconnected")]
    assert log.apply(TimerFired(RESUME_TIMER, bo.session, second.deadline)) == []


# --- nodes that go ------------------------------------------------------------------------------


def test_a_lost_node_leaves_its_sessions_away_and_its_later_sockets_are_ignored() -> None:
    log = two_nodes()
    replica = log.replicas[0]
    ana, _ = log.hello("A", "c-ana")
    bo, _ = log.hello("B", "c-bo")
    log.join(ana, "blue")
    log.join(bo, "blue")
    last_to_ana = ana.last_seq + 2  # joined, peer-joined

    lost = log.apply(NodeLost("A"))
    # Ana's session waits for a resume: Bo is not told, she is still in the room.
    assert messages_to(lost, bo.session) == []
    assert [t.key for t in timers(lost, RESUME_TIMER)] == [(RESUME_TIMER, ana.session)]
    session = replica.core.session(ana.session)
    assert session is not None and session.connection is None and session.room == "blue"
    assert "c-ana" not in replica.connections
    assert list(replica.nodes) == ["B"]

    # The lost node's sockets (events it appended before it heard) are not served.
    assert log.apply(Connected("A", "c-late")) == []
    assert "c-late" not in replica.connections
    assert replica.core.session_of("c-late") is None
    assert log.apply(Text("c-late", frame("hello", v=1))) == []
    assert log.apply(Text("c-ana", frame("leave", id=1))) == []
    assert log.apply(Closed("c-ana", True)) == []
    assert log.apply(NodeLost("A")) == []

    # Ana resumes through the node still there, and misses nothing.
    log.apply(Text(bo.connection, frame("offer", to=ana.session, sdp="v=0 away")))
    back, welcome = log.hello(
        "B", "c-ana2", token=ana.token, resume=ana.resume, lastSeq=last_to_ana
    )
    assert welcome.resumed and back.session == ana.session
    assert replica.connections["c-ana2"] == "B"


def test_the_last_node_leaving_ends_ringing_calls_and_an_earlier_one_does_not() -> None:
    log = two_nodes()
    replica = log.replicas[0]
    ana, _ = log.hello("A", "c-ana", name="Ana", presence=True)
    bo, _ = log.hello("B", "c-bo", name="Bo", presence=True)
    call, _ = log.invite(ana, bo)

    # A leaves in good order while B runs on: Ana's session waits for her, her call rings on.
    left = log.apply(NodeLeft("A"))
    assert ended(left) == []
    assert messages_to(left, bo.session) == []
    ringing = replica.core.calls.get(call)
    assert ringing is not None and ringing.state is CallState.RINGING

    # B, the last one, leaves: nobody is left to ring, the call ends for both (Ana's end waits
    # in her replay log).
    last = log.apply(NodeLeft("B"))
    assert sorted(ended(last)) == sorted(
        [(ana.session, call, "connection-lost"), (bo.session, call, "connection-lost")]
    )
    assert replica.core.calls.get(call) is None or (
        replica.core.calls.get(call).state is not CallState.RINGING  # type: ignore[union-attr]
    )


def test_a_lost_last_node_does_not_end_calls_the_cluster_may_still_serve() -> None:
    """NodeLost is not a shutdown: only NodeLeft of the last node ends ringing calls."""
    log = two_nodes()
    ana, _ = log.hello("A", "c-ana", name="Ana", presence=True)
    bo, _ = log.hello("B", "c-bo", name="Bo", presence=True)
    call, _ = log.invite(ana, bo)
    log.apply(NodeLeft("A"))
    assert ended(log.apply(NodeLost("B"))) == []
    ringing = log.replicas[0].core.calls.get(call)
    assert ringing is not None and ringing.state is CallState.RINGING


# --- snapshots --------------------------------------------------------------------------------


def test_a_replica_restored_from_a_snapshot_goes_on_exactly_like_the_original() -> None:
    log = Agreeing(make_replica(SETTINGS))
    original = log.replicas[0]
    log.apply(NodeJoined("A"))
    ana, _ = log.hello("A", "c-ana", name="Ana", presence=True)
    bo, _ = log.hello("A", "c-bo", name="Bo", presence=True)
    cy, _ = log.hello("A", "c-cy", name="Cy", presence=True)
    call, ring_deadline = log.invite(ana, bo)
    log.join(cy, "blue")
    dee, _ = log.hello("A", "c-dee")
    log.join(dee, "blue")
    log.apply(Text(cy.connection, frame("offer", to=dee.session, sdp="v=0 before")))
    dropped = log.apply(Closed(dee.connection, True))
    (dee_resume,) = timers(dropped, RESUME_TIMER)
    log.apply(Text(cy.connection, frame("candidate", to=dee.session, candidate=None)))
    # A node asks to join: the snapshot is taken at exactly this entry.
    log.apply(SyncRequest("B"))

    # The joining node: an empty replica of its own, as parley.cluster.app makes it (its
    # generation yet unknown), then the generation and the snapshot of the running one.
    joining = make_replica(SETTINGS, generation="")
    joining.ids.start_generation("gen-1")
    joining.restore(as_handed(original.snapshot()))
    assert replica_state(joining) == replica_state(original)
    assert joining.core.instance == original.core.instance == "gen-1"
    assert joining.deadlines[(RING_TIMER, call)] == ring_deadline

    # From here on both apply the same entries and must answer alike, new ids included.
    log.replicas.append(joining)
    log.apply(NodeJoined("B"))
    eve, _ = log.hello("B", "c-eve", name="Eve", presence=True)  # a new guest id
    assert eve.user not in (ana.user, bo.user, cy.user, dee.user)
    other_call, _ = log.invite(eve, cy)  # a new call id
    assert other_call != call
    accepted = log.apply(Text(bo.connection, frame("accept", call=call, media="video")))
    assert only_to(accepted, ana.session, CallAccepted).peer == bo.session
    back, welcome = log.hello(
        "B", "c-dee2", token=dee.token, resume=dee.resume, lastSeq=dee.last_seq
    )
    assert welcome.resumed and back.session == dee.session
    log.apply(Text(cy.connection, frame("ready")))
    # A timer set before the snapshot fires on both (and once).
    fired = log.apply(
        TimerFired(RING_TIMER, other_call, joining.deadlines[(RING_TIMER, other_call)]),
        at=log.now + 31,
    )
    assert sorted(ended(fired)) == sorted(
        [(eve.session, other_call, "no-answer"), (cy.session, other_call, "no-answer")]
    )
    assert log.apply(TimerFired(RESUME_TIMER, dee.session, dee_resume.deadline)) == []
    log.apply(NodeLost("A"), at=log.now + 1)
    assert replica_state(joining) == replica_state(original)


@pytest.mark.parametrize("event", [NodeLeft("nobody"), NodeLost("nobody"), Closed("c-x", True)])
def test_events_about_unknown_nodes_or_sockets_change_nothing(event: Any) -> None:
    log = two_nodes()
    log.hello("A", "c-ana")
    before = replica_state(log.replicas[0], position=False)
    assert log.apply(event) == []
    assert replica_state(log.replicas[0], position=False) == before
