"""Session resume: a socket that drops keeps its session (room, call, queued messages) for the
resume window; `hello.resume` with `lastSeq` takes it back, replaying what was missed exactly once
and in order. And `resume-call`: taking an answered call back after a server restart.

Everything here drives the core directly with a fake clock: no sockets, no sleeping.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from parley.core.calls import RECLAIM_TIMER, CallState
from parley.core.effects import (
    CancelTimer,
    CloseConnection,
    Effect,
    Rebind,
    Send,
    StartTimer,
)
from parley.core.frames import effects_of_frame
from parley.core.signaling import RESUME_TIMER, CoreSettings
from parley.protocol.close_codes import CloseCode
from parley.protocol.codec import encode
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    PROTOCOL_VERSION,
    Answer,
    CallEnded,
    CallResumed,
    Candidate,
    Hangup,
    Hello,
    IceCandidate,
    Join,
    Offer,
    PeerLeft,
    PeerReady,
    Presence,
    Ready,
    RelayedAnswer,
    RelayedCandidate,
    RelayedOffer,
    ResumeCall,
    ServerMessage,
    UserInfo,
    Welcome,
)
from tests.core.helpers import (
    Harness,
    ended_records,
    error_codes,
    messages_to,
    of_type,
    only_error_to,
    records,
    sends,
    ticket,
)

WINDOW = 30.0
RANDOM_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


@dataclass
class Tab:
    """A client as the core sees it: the socket it is on now, and what its welcome gave it."""

    connection: str
    session: str
    user: str
    token: str
    resume: str


# --- driving the core -----------------------------------------------------------------------


def say_hello(
    h: Harness,
    *,
    token: str | None = None,
    resume: str | None = None,
    last_seq: int = 0,
    presence: bool = False,
    name: str = "",
) -> tuple[str, Welcome, list[Effect]]:
    """Opens a socket and says hello on it: (connection, the welcome, all the effects)."""
    connection = h.connect()
    effects = h.send(
        connection,
        Hello(
            v=PROTOCOL_VERSION,
            name=name,
            token=token,
            presence=presence,
            resume=resume,
            lastSeq=last_seq,
        ),
    )
    welcomes = [e.message for e in sends(effects) if isinstance(e.message, Welcome)]
    assert len(welcomes) == 1, effects
    return connection, welcomes[0], effects


def sign_in(h: Harness, name: str = "", token: str | None = None, presence: bool = False) -> Tab:
    connection, welcome, _ = say_hello(h, token=token, name=name, presence=presence)
    h.flush_presence()  # a set-up: the directory hears of it now
    assert welcome.session == connection
    assert welcome.resume is not None
    return Tab(
        connection, welcome.session, welcome.user.id, welcome.token or token or "", welcome.resume
    )


def in_room(h: Harness, room: str = "blue-fox", name: str = "") -> Tab:
    tab = sign_in(h, name)
    h.send(tab.connection, Join(room=room))
    return tab


def logged(h: Harness, effects: list[Effect]) -> list[Effect]:
    h.log.extend(effects)
    return effects


def lose(h: Harness, tab: Tab) -> list[Effect]:
    """The tab's socket drops without a goodbye (network, heartbeat, restart)."""
    return logged(h, h.core.connection_lost(tab.connection, h.now))


def seen(h: Harness, session: str) -> int:
    """The highest seq sent to `session` so far: what a client that got everything says."""
    return max((e.seq for e in sends(h.log) if e.session == session), default=0)


def numbered_to(effects: list[Effect], session: str) -> list[tuple[int, ServerMessage]]:
    return [(e.seq, e.message) for e in sends(effects) if e.session == session]


def resume(h: Harness, tab: Tab, last_seq: int | None = None) -> tuple[Welcome, list[Effect]]:
    """The tab reconnects and resumes; on success its connection is the new socket."""
    connection, welcome, effects = say_hello(
        h,
        token=tab.token,
        resume=tab.resume,
        last_seq=seen(h, tab.session) if last_seq is None else last_seq,
    )
    if welcome.resumed:
        tab.connection = connection
    return welcome, effects


def relay(h: Harness, sender: Tab, to: Tab, n: int) -> ServerMessage:
    """`sender` sends `to` a candidate numbered `n`; returns what `to` is sent."""
    candidate = IceCandidate(candidate=f"candidate:{n} 1 udp 1 192.0.2.1 {4000 + n} typ host")
    effects = h.send(sender.connection, Candidate(to=to.session, candidate=candidate))
    [message] = messages_to(effects, to.session)
    assert message == RelayedCandidate(from_=sender.session, candidate=candidate)
    return message


def peer_lefts(h: Harness) -> list[tuple[str, PeerLeft]]:
    return of_type(h.log, PeerLeft)


def online(h: Harness, name: str) -> Tab:
    """A user online for direct calls."""
    return sign_in(h, name, presence=True)


def call_between(h: Harness, caller: Tab, callee: Tab) -> str:
    call = h.invite(caller.connection, callee.user)
    h.accept(callee.connection, call)
    return call


# --- the resume token -----------------------------------------------------------------------


def test_welcome_gives_an_unguessable_resume_token_bound_to_the_session() -> None:
    h = Harness()
    tabs = [sign_in(h) for _ in range(3)]
    _, welcome, _ = say_hello(h)
    assert welcome.resumed is False
    assert welcome.resumeWindow == WINDOW
    tokens = {tab.resume for tab in tabs}
    assert len(tokens) == 3
    for tab in tabs:
        assert RANDOM_ID.fullmatch(tab.resume), "128 random bits"
        assert tab.resume not in (tab.session, tab.user, tab.token)


def test_a_dropped_socket_starts_the_resume_timer_and_tells_nobody() -> None:
    h = Harness()
    ana, bo = in_room(h), in_room(h)
    assert lose(h, ana) == [StartTimer((RESUME_TIMER, ana.session), h.now + WINDOW)]
    assert h.room_members("blue-fox") == [ana.session, bo.session]
    assert h.core.session(ana.session) is not None


# --- resume within the window ---------------------------------------------------------------


def test_resume_within_the_window_gives_back_the_same_session_and_room() -> None:
    h = Harness()
    ana, bo = in_room(h), in_room(h)
    old_connection = ana.connection
    lose(h, ana)
    h.now += WINDOW - 1
    welcome, effects = resume(h, ana)
    assert welcome.resumed is True
    assert welcome.session == ana.session
    assert welcome.resume == ana.resume
    assert welcome.user.id == ana.user
    assert welcome.resumeWindow == WINDOW
    assert ana.connection != old_connection
    assert Rebind(ana.connection, ana.session) in effects
    assert CancelTimer((RESUME_TIMER, ana.session)) in effects
    assert h.core.session_of(ana.connection) is h.core.session(ana.session)
    assert h.room_members("blue-fox") == [ana.session, bo.session]
    assert h.core.session_count == 2, "the resuming socket's own session is forgotten"

    # The room works both ways, from and to the resumed session.
    relay(h, bo, ana, 1)
    relay(h, ana, bo, 2)
    effects = h.send(ana.connection, Ready())
    assert messages_to(effects, bo.session) == [PeerReady(peer=ana.session)]
    assert peer_lefts(h) == [], "the peer never heard of the drop"


def test_a_stale_resume_timer_after_a_resume_ends_nothing() -> None:
    h = Harness()
    ana, bo = in_room(h), in_room(h)
    lose(h, ana)
    resume(h, ana)
    h.now += WINDOW
    assert h.fire((RESUME_TIMER, ana.session)) == []
    assert h.room_members("blue-fox") == [ana.session, bo.session]
    relay(h, bo, ana, 1)


def test_a_resumed_session_can_drop_and_resume_again() -> None:
    h = Harness()
    ana, bo = in_room(h), in_room(h)
    for n in range(3):
        lose(h, ana)
        missed = relay(h, bo, ana, n)
        welcome, effects = resume(h, ana, last_seq=seen(h, ana.session) - 1)
        assert welcome.resumed and welcome.session == ana.session
        assert numbered_to(effects, ana.session) == [(0, welcome), (seen(h, ana.session), missed)]
    assert h.room_members("blue-fox") == [ana.session, bo.session]
    assert peer_lefts(h) == []


def test_resume_keeps_an_answered_call_and_relays_work_both_ways() -> None:
    h = Harness()
    ana, bo = online(h, "Ana"), online(h, "Bo")
    call = call_between(h, ana, bo)
    lose(h, bo)
    h.now += 5
    # Ana keeps negotiating while Bo is away: queued for him, not refused.
    effects = h.send(ana.connection, Offer(to=bo.session, sdp="v=0 while-away"))
    assert messages_to(effects, bo.session) == [
        RelayedOffer(from_=ana.session, sdp="v=0 while-away")
    ]
    assert error_codes(effects) == []

    welcome, effects = resume(h, bo, last_seq=seen(h, bo.session) - 1)
    assert welcome.resumed and welcome.session == bo.session
    replayed = [m for _, m in numbered_to(effects, bo.session)][1:]
    assert replayed == [RelayedOffer(from_=ana.session, sdp="v=0 while-away")]

    effects = h.send(bo.connection, Answer(to=ana.session, sdp="v=0 answer"))
    assert messages_to(effects, ana.session) == [RelayedAnswer(from_=bo.session, sdp="v=0 answer")]
    relay(h, ana, bo, 1)
    found = h.core.calls.get(call)
    assert found is not None and found.state is CallState.ACTIVE
    assert of_type(h.log, CallEnded) == []
    assert ended_records(h.log) == []

    h.send(ana.connection, Hangup(call=call))
    [ended] = ended_records(h.log)
    assert (ended.id, ended.end_reason, ended.ended_by) == (call, "hangup", ana.user)


# --- the window passes ----------------------------------------------------------------------


def test_after_the_window_the_room_and_the_call_are_told_and_the_call_ends_once() -> None:
    h = Harness()
    ana, bo, cy = online(h, "Ana"), online(h, "Bo"), online(h, "Cy")
    h.send(ana.connection, Join(room="r"))
    h.send(cy.connection, Join(room="r"))
    call = call_between(h, ana, bo)
    lose(h, ana)
    h.now += WINDOW
    effects = h.fire((RESUME_TIMER, ana.session)) + h.flush_presence()
    offline = Presence(user=UserInfo(id=ana.user, name="Ana"), online=False)
    assert messages_to(effects, cy.session) == [
        PeerLeft(peer=ana.session, reason="disconnected"),
        offline,
    ]
    assert messages_to(effects, bo.session) == [
        CallEnded(call=call, reason="connection-lost", by=ana.user),
        offline,
    ]
    assert h.core.session(ana.session) is None
    assert h.room_members("r") == [cy.session]
    [ended] = ended_records(h.log)
    assert (ended.id, ended.end_reason, ended.ended_by) == (call, "connection-lost", ana.user)
    assert ended.answered is not None

    # A second expiry (a timer that fired twice) changes nothing and records nothing.
    assert h.fire((RESUME_TIMER, ana.session)) == []
    assert len(ended_records(h.log)) == 1


def test_the_token_of_an_expired_session_gets_a_clean_new_session() -> None:
    h = Harness()
    ana, bo = in_room(h), in_room(h)
    relay(h, bo, ana, 1)
    lose(h, ana)
    h.now += WINDOW
    h.fire((RESUME_TIMER, ana.session))
    welcome, effects = resume(h, ana)
    assert welcome.resumed is False
    assert welcome.session != ana.session
    assert welcome.user.id == ana.user, "the same user, in a new session"
    assert welcome.resume not in (None, ana.resume)
    assert numbered_to(effects, welcome.session) == [(0, welcome)], "nothing is replayed"
    assert h.room_members("blue-fox") == [bo.session]
    assert not any(isinstance(e, Rebind) for e in effects)


# --- takeover -------------------------------------------------------------------------------


@pytest.mark.parametrize("old_socket_ends", ["lost", "goodbye"])
def test_a_resume_from_a_second_socket_takes_over_and_the_old_one_changes_nothing(
    old_socket_ends: str,
) -> None:
    h = Harness()
    ana, bo = in_room(h), in_room(h)
    old = ana.connection
    welcome, effects = resume(h, ana)
    assert welcome.resumed and welcome.session == ana.session
    closes = [e for e in effects if isinstance(e, CloseConnection)]
    assert closes == [CloseConnection(old, CloseCode.TAKEN_OVER, closes[0].reason)]
    assert closes[0].reason
    assert effects.index(closes[0]) < effects.index(Rebind(ana.connection, ana.session))
    assert h.core.session_of(old) is None

    # The old socket can no longer act for the session...
    assert h.send(old, Offer(to=bo.session, sdp="v=0 stale")) == []
    # ...and its close, however it comes, ends nothing.
    if old_socket_ends == "lost":
        assert logged(h, h.core.connection_lost(old, h.now)) == []
    else:
        assert h.disconnect(old) == []
    assert h.core.session_of(ana.connection) is h.core.session(ana.session)
    assert h.room_members("blue-fox") == [ana.session, bo.session]
    relay(h, bo, ana, 1)
    relay(h, ana, bo, 2)
    assert peer_lefts(h) == []


# --- the missed-message queue ---------------------------------------------------------------


@pytest.mark.parametrize("routed", [False, True], ids=["typed", "routing-only"])
def test_a_session_away_that_misses_more_than_the_queue_is_ended_and_its_peers_told(
    routed: bool,
) -> None:
    h = Harness(CoreSettings(resume_queue=3))
    ana, bo = in_room(h), in_room(h)
    lose(h, ana)
    for n in range(3):
        relay(h, bo, ana, n)
    assert h.core.session(ana.session) is not None, "exactly the queue still fits"
    if routed:  # the hub's path for relays (core.frames, SignalingCore.forward)
        frame = json.dumps({"type": "candidate", "to": ana.session, "candidate": None})
        effects = logged(h, effects_of_frame(h.core, bo.connection, frame, h.now))
    else:
        effects = h.send(bo.connection, Candidate(to=ana.session, candidate=None))
    assert PeerLeft(peer=ana.session, reason="disconnected") in messages_to(effects, bo.session)
    assert CancelTimer((RESUME_TIMER, ana.session)) in effects
    assert h.core.session(ana.session) is None
    assert h.room_members("blue-fox") == [bo.session]
    welcome, _ = resume(h, ana)
    assert welcome.resumed is False and welcome.session != ana.session


def test_the_queue_fits_exactly_its_size_and_replays_it_all() -> None:
    h = Harness(CoreSettings(resume_queue=3))
    ana, bo = in_room(h), in_room(h)
    before = seen(h, ana.session)
    lose(h, ana)
    sent = [relay(h, bo, ana, n) for n in range(3)]
    welcome, effects = resume(h, ana, last_seq=before)
    assert welcome.resumed
    assert numbered_to(effects, ana.session)[1:] == list(
        zip(range(before + 1, before + 4), sent, strict=True)
    )


def test_big_offers_beyond_the_replay_bytes_end_a_session_away_and_its_call() -> None:
    sdp = "v=0 " + "x" * 3000
    settings = CoreSettings(replay_bytes=10_000)
    h = Harness(settings)
    ana, bo = online(h, "Ana"), online(h, "Bo")
    call = call_between(h, ana, bo)
    lose(h, bo)
    fits = settings.replay_bytes // (len(sdp) + 256)
    assert fits == 3
    for _ in range(fits):
        effects = h.send(ana.connection, Offer(to=bo.session, sdp=sdp))
        assert of_type(effects, CallEnded) == []
    effects = h.send(ana.connection, Offer(to=bo.session, sdp=sdp))
    assert CallEnded(call=call, reason="connection-lost", by=bo.user) in messages_to(
        effects, ana.session
    )
    assert h.core.session(bo.session) is None
    [ended] = ended_records(h.log)
    assert (ended.id, ended.end_reason, ended.ended_by) == (call, "connection-lost", bo.user)
    welcome, _ = resume(h, bo)
    assert welcome.resumed is False


def test_a_connected_session_keeps_getting_big_offers_past_the_replay_bytes() -> None:
    """The byte bound only trims what is kept for a replay; it never ends a live session."""
    sdp = "v=0 " + "x" * 3000
    h = Harness(CoreSettings(replay_bytes=10_000))
    ana, bo = in_room(h), in_room(h)
    for _ in range(10):
        effects = h.send(bo.connection, Offer(to=ana.session, sdp=sdp))
        assert messages_to(effects, ana.session) == [RelayedOffer(from_=bo.session, sdp=sdp)]
    assert peer_lefts(h) == []


# --- order, and exactly once ----------------------------------------------------------------


def away_while_bo_sends(h: Harness) -> tuple[Tab, Tab, int, list[tuple[int, ServerMessage]]]:
    """Ana drops; Bo sends her an offer, candidates and ready. Returns (ana, bo, the seq Ana
    saw last, what she missed as (seq, message))."""
    ana, bo = in_room(h), in_room(h)
    relay(h, bo, ana, 0)
    last = seen(h, ana.session)
    lose(h, ana)
    missed: list[Effect] = []
    missed += h.send(bo.connection, Offer(to=ana.session, sdp="v=0 offer"))
    for n in range(1, 5):
        missed += h.send(
            bo.connection,
            Candidate(
                to=ana.session, candidate=None if n == 4 else IceCandidate(candidate=f"c{n}")
            ),
        )
    missed += h.send(bo.connection, Ready())
    return ana, bo, last, numbered_to(missed, ana.session)


def test_messages_missed_while_away_are_replayed_after_the_welcome_in_order_once() -> None:
    h = Harness()
    ana, bo, last, missed = away_while_bo_sends(h)
    assert [seq for seq, _ in missed] == list(range(last + 1, last + 7))
    welcome, effects = resume(h, ana, last_seq=last)
    to_ana = [e for e in effects if isinstance(e, Send) and e.session == ana.session]
    assert to_ana[0].message is welcome and to_ana[0].seq == 0
    assert [(e.seq, e.message) for e in to_ana[1:]] == missed, "original seq, same order"
    # The welcome comes after the socket serves the session, so it reaches the new socket.
    assert effects.index(Rebind(ana.connection, ana.session)) < effects.index(to_ana[0])

    # Live messages carry on from there: no seq is skipped or used twice.
    effects = h.send(bo.connection, Offer(to=ana.session, sdp="v=0 after"))
    assert numbered_to(effects, ana.session) == [
        (last + 7, RelayedOffer(from_=bo.session, sdp="v=0 after"))
    ]


def test_a_last_seq_in_the_middle_replays_only_the_rest() -> None:
    h = Harness()
    ana, _, last, missed = away_while_bo_sends(h)
    welcome, effects = resume(h, ana, last_seq=last + 2)
    assert welcome.resumed
    assert numbered_to(effects, ana.session)[1:] == missed[2:]


def test_a_last_seq_equal_to_the_last_replays_nothing() -> None:
    h = Harness()
    ana, _, _, missed = away_while_bo_sends(h)
    welcome, effects = resume(h, ana, last_seq=missed[-1][0])
    assert welcome.resumed
    assert numbered_to(effects, ana.session) == [(0, welcome)]


def test_messages_the_dead_socket_swallowed_before_the_drop_are_replayed_too() -> None:
    """Frames written into a socket that was already dead never arrived: the client's lastSeq
    is older than the drop, and the log still has them."""
    h = Harness()
    ana, bo = in_room(h), in_room(h)
    last = seen(h, ana.session)
    swallowed = [relay(h, bo, ana, n) for n in range(3)]
    lose(h, ana)
    missed = [relay(h, bo, ana, n) for n in range(3, 5)]
    welcome, effects = resume(h, ana, last_seq=last)
    assert welcome.resumed
    assert numbered_to(effects, ana.session)[1:] == list(
        zip(range(last + 1, last + 6), swallowed + missed, strict=True)
    )


def future_last_seq(h: Harness, ana: Tab) -> int:
    return seen(h, ana.session) + 1


def forgotten_last_seq(h: Harness, ana: Tab) -> int:
    return 1


@pytest.mark.parametrize("last_seq", [future_last_seq, forgotten_last_seq], ids=["future", "gap"])
def test_a_last_seq_that_cannot_be_replayed_exactly_ends_the_old_session_for_a_new_one(
    last_seq: Callable[[Harness, Tab], int],
) -> None:
    # Four messages kept: Bo's candidates push Ana's first ones out of her log.
    h = Harness(CoreSettings(resume_queue=2, replay_margin=2))
    ana, bo = in_room(h), in_room(h)
    for n in range(6):
        relay(h, bo, ana, n)
    lose(h, ana)
    welcome, effects = resume(h, ana, last_seq=last_seq(h, ana))
    assert welcome.resumed is False
    assert welcome.session != ana.session
    assert numbered_to(effects, welcome.session) == [(0, welcome)]
    assert PeerLeft(peer=ana.session, reason="disconnected") in messages_to(effects, bo.session)
    assert h.core.session(ana.session) is None
    assert h.room_members("blue-fox") == [bo.session]


def test_a_gap_in_a_takeover_ends_the_session_and_closes_the_old_socket() -> None:
    h = Harness(CoreSettings(resume_queue=2, replay_margin=2))
    ana, bo = in_room(h), in_room(h)
    old = ana.connection
    for n in range(6):
        relay(h, bo, ana, n)
    welcome, effects = resume(h, ana, last_seq=1)
    assert welcome.resumed is False
    assert [e for e in effects if isinstance(e, CloseConnection) and e.connection == old]
    assert PeerLeft(peer=ana.session, reason="disconnected") in messages_to(effects, bo.session)


# --- tokens that are not yours --------------------------------------------------------------


@pytest.mark.parametrize("victim_away", [True, False], ids=["victim-away", "victim-connected"])
@pytest.mark.parametrize("last_seq", [0, 10**6], ids=["no-seq", "future-seq"])
def test_someone_elses_resume_token_gets_a_new_session_and_leaves_the_victim_alone(
    victim_away: bool, last_seq: int
) -> None:
    h = Harness()
    ana, bo = in_room(h), in_room(h)
    eve = sign_in(h, "Eve")
    if victim_away:
        lose(h, ana)
    before = len(h.log)
    connection, welcome, effects = say_hello(
        h, token=eve.token, resume=ana.resume, last_seq=last_seq
    )
    assert welcome.resumed is False
    assert welcome.session == connection != ana.session
    assert welcome.user.id == eve.user
    assert welcome.resume != ana.resume
    assert not any(isinstance(e, (Rebind, CloseConnection)) for e in effects)
    assert {e.session for e in sends(h.log[before:])} == {connection}, "nobody else hears of it"
    assert h.room_members("blue-fox") == [ana.session, bo.session]
    # Ana's session is still hers to take back.
    welcome, _ = resume(h, ana)
    assert welcome.resumed and welcome.session == ana.session
    relay(h, bo, ana, 1)


def other_users_token(h: Harness) -> str:
    return sign_in(h, "Bo").token


def no_token(h: Harness) -> str | None:
    return None


def forged_token(h: Harness) -> str:
    return "g1.someone.forged"


@pytest.mark.parametrize("token", [other_users_token, no_token, forged_token])
def test_your_resume_token_under_another_identity_gets_a_new_session(
    token: Callable[[Harness], str | None],
) -> None:
    h = Harness()
    ana, cy = in_room(h), in_room(h)
    lose(h, ana)
    connection, welcome, effects = say_hello(
        h, token=token(h), resume=ana.resume, last_seq=seen(h, ana.session)
    )
    assert welcome.resumed is False
    assert welcome.session == connection != ana.session
    assert welcome.user.id != ana.user
    assert not any(isinstance(e, Rebind) for e in effects)
    assert h.room_members("blue-fox") == [ana.session, cy.session]
    assert peer_lefts(h) == []
    welcome, _ = resume(h, ana)
    assert welcome.resumed and welcome.session == ana.session


# --- sessions that end at once --------------------------------------------------------------


def test_a_goodbye_ends_the_session_at_once() -> None:
    h = Harness()
    ana, bo = in_room(h), in_room(h)
    effects = h.disconnect(ana.connection)
    assert messages_to(effects, bo.session) == [PeerLeft(peer=ana.session, reason="disconnected")]
    assert not any(isinstance(e, StartTimer) for e in effects)
    assert CancelTimer((RESUME_TIMER, ana.session)) in effects
    welcome, _ = resume(h, ana)
    assert welcome.resumed is False and welcome.session != ana.session


def test_a_resume_window_of_zero_gives_no_token_and_a_drop_ends_the_session_at_once() -> None:
    h = Harness(CoreSettings(resume_window=0))
    _, welcome, _ = say_hello(h)
    assert welcome.resume is None
    assert welcome.resumeWindow == 0
    ana, bo = h.pair()
    effects = logged(h, h.core.connection_lost(ana, h.now))
    assert messages_to(effects, bo) == [PeerLeft(peer=ana, reason="disconnected")]
    assert not any(isinstance(e, StartTimer) for e in effects)
    assert h.core.session(ana) is None


# --- resume-call after a server restart -----------------------------------------------------
# A restarted server has a fresh core: it never saw the call. Both users say hello anew (resumed
# false) and claim the call id their pages kept.

CALL = "c-answered-before-the-restart"


def claim(
    h: Harness,
    tab: Tab,
    peer: Tab,
    role: str,
    call: str = CALL,
    request_id: int = 7,
    proof: str | None = None,
) -> list[Effect]:
    """`tab` claims `call` with `peer` in `role`, showing `proof`; by default the ticket a
    party of such a call holds (its call-accepted gave it)."""
    caller, callee = (tab.user, peer.user) if role == "caller" else (peer.user, tab.user)
    shown = ticket(call, caller, callee) if proof is None else proof
    message = ResumeCall(
        call=call, peer=peer.user, role=role, media="video", id=request_id, ticket=shown
    )  # type: ignore[arg-type]
    return h.send(tab.connection, message)


def restarted() -> tuple[Harness, Tab, Tab]:
    h = Harness()
    return h, sign_in(h, "Ana"), sign_in(h, "Bo")


def test_both_sides_claiming_a_call_resume_it_and_it_ends_once() -> None:
    h, ana, bo = restarted()
    effects = claim(h, ana, bo, "caller")
    assert effects == [StartTimer((RECLAIM_TIMER, CALL), h.now + WINDOW)], "Ana waits for Bo"
    effects = claim(h, bo, ana, "callee", request_id=8)
    assert messages_to(effects, ana.session) == [
        CallResumed(call=CALL, media="video", peer=bo.session)
    ]
    assert messages_to(effects, bo.session) == [
        CallResumed(id=8, call=CALL, media="video", peer=ana.session)
    ]
    assert CancelTimer((RECLAIM_TIMER, CALL)) in effects
    assert records(h.log) == [], "the call's row was written before the restart"

    effects = h.send(ana.connection, Offer(to=bo.session, sdp="v=0 ice-restart"))
    assert messages_to(effects, bo.session) == [
        RelayedOffer(from_=ana.session, sdp="v=0 ice-restart")
    ]
    effects = h.send(bo.connection, Answer(to=ana.session, sdp="v=0 answer"))
    assert messages_to(effects, ana.session) == [RelayedAnswer(from_=bo.session, sdp="v=0 answer")]

    effects = h.send(bo.connection, Hangup(call=CALL, id=9))
    assert messages_to(effects, bo.session) == [
        CallEnded(id=9, call=CALL, reason="hangup", by=bo.user)
    ]
    assert messages_to(effects, ana.session) == [CallEnded(call=CALL, reason="hangup", by=bo.user)]
    [ended] = ended_records(h.log)
    assert (ended.id, ended.end_reason, ended.ended_by) == (CALL, "hangup", bo.user)
    assert (ended.caller, ended.callee) == (ana.user, bo.user)
    assert h.fire((RECLAIM_TIMER, CALL)) == []
    assert len(ended_records(h.log)) == 1


def test_a_claim_the_other_side_never_makes_ends_as_connection_lost() -> None:
    h, ana, bo = restarted()
    claim(h, ana, bo, "caller")
    # Meanwhile Bo cannot reach Ana as a call peer: nothing is connected yet.
    effects = h.send(bo.connection, Offer(to=ana.session, sdp="v=0"))
    assert error_codes(effects) == [ErrorCode.PEER_NOT_FOUND]
    h.now += WINDOW
    effects = h.fire((RECLAIM_TIMER, CALL))
    assert messages_to(effects, ana.session) == [
        CallEnded(call=CALL, reason="connection-lost", by=None)
    ]
    assert messages_to(effects, bo.session) == []
    [ended] = ended_records(h.log)
    assert (ended.id, ended.end_reason) == (CALL, "connection-lost")
    assert h.core.calls.get(CALL) is None


@pytest.mark.parametrize(
    ("peer_is", "role"),
    [("someone-else", "callee"), ("ana", "caller"), ("bo", "callee")],
    ids=["wrong-peer", "wrong-role", "names-self"],
)
def test_a_claim_naming_the_wrong_peer_or_role_does_not_connect(peer_is: str, role: str) -> None:
    h, ana, bo = restarted()
    cy = sign_in(h, "Cy")
    claim(h, ana, bo, "caller")
    peer = {"someone-else": cy, "ana": ana, "bo": bo}[peer_is]
    effects = claim(h, bo, peer, role)
    assert only_error_to(effects, bo.session).code == ErrorCode.CALL_NOT_FOUND
    assert of_type(h.log, CallResumed) == []
    # The right claim still connects them.
    effects = claim(h, bo, ana, "callee")
    assert [s for s, _ in of_type(effects, CallResumed)] == [ana.session, bo.session]


def test_a_third_user_cannot_claim_someone_elses_call() -> None:
    h, ana, bo = restarted()
    eve = sign_in(h, "Eve")
    claim(h, ana, bo, "caller")
    for peer, role in ((ana, "callee"), (bo, "caller")):
        effects = claim(h, eve, peer, role, proof=ticket(CALL, ana.user, bo.user))
        assert only_error_to(effects, eve.session).code == ErrorCode.CALL_NOT_FOUND
    effects = h.send(eve.connection, Offer(to=ana.session, sdp="v=0"))
    assert only_error_to(effects, eve.session).code == ErrorCode.PEER_NOT_FOUND
    effects = claim(h, bo, ana, "callee")
    assert {s for s, _ in of_type(effects, CallResumed)} == {ana.session, bo.session}
    assert eve.session not in {s for s, _ in of_type(h.log, CallResumed)}


def test_a_late_claim_on_a_call_that_timed_out_hears_how_it_ended() -> None:
    h, ana, bo = restarted()
    claim(h, ana, bo, "caller")
    h.now += WINDOW
    h.fire((RECLAIM_TIMER, CALL))
    effects = claim(h, bo, ana, "callee", request_id=3)
    assert messages_to(effects, bo.session) == [
        CallEnded(id=3, call=CALL, reason="connection-lost", by=None)
    ]
    assert len(ended_records(h.log)) == 1, "telling it again records nothing"


def test_a_late_claim_on_a_resumed_call_that_was_hung_up_hears_the_hangup() -> None:
    h, ana, bo = restarted()
    claim(h, ana, bo, "caller")
    claim(h, bo, ana, "callee")
    h.send(ana.connection, Hangup(call=CALL))
    bo_phone = sign_in(h, "Bo", token=bo.token)
    effects = claim(h, bo_phone, ana, "callee", request_id=4)
    assert messages_to(effects, bo_phone.session) == [
        CallEnded(id=4, call=CALL, reason="hangup", by=ana.user)
    ]
    # A stranger asking about it learns nothing.
    eve = sign_in(h, "Eve")
    assert of_type(claim(h, eve, ana, "callee"), CallEnded) == []
    assert len(ended_records(h.log)) == 1


def test_a_user_already_in_another_call_cannot_complete_a_claim() -> None:
    """A user is in one call at a time: Bo, who started a new call with Cy while Ana's claim
    waited, must not be put in the resumed call too (which would cut his relays to Cy)."""
    h, ana, bo = restarted()
    cy = online(h, "Cy")
    claim(h, ana, bo, "caller")
    talking = call_between(h, bo, cy)
    effects = claim(h, bo, ana, "callee", request_id=5)
    assert error_codes(effects) == [ErrorCode.ALREADY_IN_CALL]
    assert of_type(effects, CallResumed) == []
    relay(h, bo, cy, 1)
    relay(h, cy, bo, 2)
    found = h.core.calls.get(talking)
    assert found is not None and found.state is CallState.ACTIVE


def test_a_call_going_on_cannot_be_claimed_by_another_device_of_its_user() -> None:
    """The callee's other devices were told the call id when it rang; claiming it must not
    take the call from the device that answered."""
    h = Harness()
    ana, bo = online(h, "Ana"), online(h, "Bo")
    call = call_between(h, ana, bo)
    other_device = sign_in(h, token=bo.token, presence=True)
    assert other_device.user == bo.user
    effects = claim(h, other_device, ana, "callee", call=call)
    assert error_codes(effects) == [ErrorCode.CALL_NOT_FOUND]
    effects = h.send(bo.connection, Offer(to=ana.session, sdp="v=0 still mine"))
    assert messages_to(effects, ana.session) == [
        RelayedOffer(from_=bo.session, sdp="v=0 still mine")
    ]


def test_a_server_stopping_ends_ringing_calls_and_leaves_answered_ones_to_be_taken_back() -> None:
    h = Harness()
    ana, bo, cy, di = online(h, "Ana"), online(h, "Bo"), online(h, "Cy"), online(h, "Di")
    answered_call = call_between(h, ana, bo)
    ringing_call = h.invite(cy.connection, di.user)

    effects = logged(h, h.core.shutting_down(h.now))

    assert messages_to(effects, cy.session) == [
        CallEnded(call=ringing_call, reason="connection-lost", by=None)
    ]
    assert messages_to(effects, di.session) == [
        CallEnded(call=ringing_call, reason="connection-lost", by=None)
    ]
    assert [r.id for r in ended_records(h.log)] == [ringing_call]
    assert messages_to(effects, ana.session) == messages_to(effects, bo.session) == []
    assert h.core.calls.get(answered_call) is not None


def test_one_user_cannot_keep_more_than_a_few_sessions_waiting_for_a_resume() -> None:
    """Dropping sockets frees their slots at once; the sessions they leave must not pile up."""
    h = Harness(CoreSettings(resume_window=WINDOW, away_sessions_per_user=3))
    first = sign_in(h, "Ana")
    tabs = [first] + [sign_in(h, token=first.token) for _ in range(4)]
    assert {tab.user for tab in tabs} == {first.user}
    for tab in tabs:
        lose(h, tab)
    assert [h.core.session(tab.session) is not None for tab in tabs] == [
        False,
        False,
        True,
        True,
        True,
    ], "the two oldest waiting sessions were ended"
    welcome, _ = resume(h, tabs[4])
    assert welcome.resumed
    lose(h, sign_in(h, token=first.token))
    assert h.core.session(tabs[2].session) is not None, "a resumed session no longer counts"


def test_relays_read_for_routing_only_are_numbered_and_replayed_like_the_others() -> None:
    """The hub's path for offers, answers and candidates (core.frames, SignalingCore.forward)
    numbers them into the same log: connected or away, a resume replays them in order."""
    h = Harness()
    ana, bo = in_room(h), in_room(h)
    last = seen(h, ana.session)

    def forward(n: int) -> list[Effect]:
        frame = encode_frame(n, ana.session)
        return logged(h, effects_of_frame(h.core, bo.connection, frame, h.now))

    swallowed = [forward(n) for n in range(3)]
    lose(h, ana)
    missed = [forward(n) for n in range(3, 5)]
    sent = [numbered_to(effects, ana.session) for effects in swallowed + missed]
    assert [seq for [(seq, _)] in sent] == list(range(last + 1, last + 6))

    welcome, effects = resume(h, ana, last_seq=last)
    assert welcome.resumed
    replayed = numbered_to(effects, ana.session)[1:]
    assert replayed == [numbered for [numbered] in sent]
    assert [json.loads(encode(message)) for _, message in replayed] == [
        {"type": "candidate", "from": bo.session, "candidate": candidate_json(n)} for n in range(5)
    ]


def candidate_json(n: int) -> dict[str, object]:
    return {"candidate": f"candidate:{n} 1 udp 1 192.0.2.1 {4000 + n} typ host", "sdpMid": "0"}


def encode_frame(n: int, to: str) -> str:
    return json.dumps({"type": "candidate", "to": to, "candidate": candidate_json(n)})
