"""Events that cross on the wire: whichever the core processes first wins, and the loser gets a
clear answer (call-not-found once the call is over, hangup when an answer beat a cancel).

Also the parties that are not (or no longer) in a call: they get call-not-found, exactly as for
a call id that never existed, and the call and its parties notice nothing.
"""

import pytest

from parley.core.calls import CallState
from parley.core.effects import Effect
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    Accept,
    CallAccepted,
    CallEnded,
    Cancel,
    Hangup,
    Reject,
)
from tests.core.helpers import (
    Harness,
    ended_records,
    messages_to,
    of_type,
    only_error_to,
    records,
    ring_key,
)

CallAction = Accept | Reject | Cancel | Hangup


class Parties:
    """Ann calling Bob, ringing on his laptop and his phone."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.ann = harness.user("Ann")
        self.bob = harness.user("Bob")
        self.phone = harness.device(self.bob, "Bob")
        self.call = harness.invite(self.ann.session, self.bob.user)


@pytest.fixture
def parties(harness: Harness) -> Parties:
    return Parties(harness)


def action(kind: str, call: str, request_id: int | str | None = None) -> CallAction:
    match kind:
        case "accept":
            return Accept(call=call, media="video", id=request_id)
        case "reject":
            return Reject(call=call, id=request_id)
        case "cancel":
            return Cancel(call=call, id=request_id)
        case "hangup":
            return Hangup(call=call, id=request_id)
    raise ValueError(kind)


ACTIONS = ["accept", "reject", "cancel", "hangup"]


def assert_call_not_found(effects: list[Effect], session: str, request_id: object) -> None:
    error = only_error_to(effects, session)
    assert (error.code, error.id) == (ErrorCode.CALL_NOT_FOUND, request_id)


# --- accept vs cancel -----------------------------------------------------------------------


def test_accept_before_cancel_turns_the_cancel_into_a_hangup(parties: Parties) -> None:
    h, ann, bob = parties.harness, parties.ann, parties.bob
    h.accept(bob.session, parties.call)
    effects = h.send(ann.session, Cancel(call=parties.call, id="late"))
    assert messages_to(effects, ann.session) == [
        CallEnded(id="late", call=parties.call, reason="hangup", by=ann.user)
    ]
    assert messages_to(effects, bob.session) == [
        CallEnded(call=parties.call, reason="hangup", by=ann.user)
    ]
    assert messages_to(effects, parties.phone.session) == []
    [record] = ended_records(effects)
    assert record.answered is not None
    assert (record.end_reason, record.ended_by) == ("hangup", ann.user)


def test_cancel_before_accept_leaves_the_accept_call_not_found(parties: Parties) -> None:
    h, ann, bob = parties.harness, parties.ann, parties.bob
    cancelled = h.send(ann.session, Cancel(call=parties.call))
    assert [m.reason for _, m in of_type(cancelled, CallEnded)] == ["cancelled"] * 3
    effects = h.send(bob.session, Accept(call=parties.call, media="video", id=1))
    assert_call_not_found(effects, bob.session, 1)
    assert records(h.log, "answered") == []


# --- accept vs the ring timer ---------------------------------------------------------------


def test_accept_before_the_ring_timer_wins(parties: Parties) -> None:
    h = parties.harness
    h.accept(parties.bob.session, parties.call)
    h.now += 30
    assert h.fire(ring_key(parties.call)) == []
    call = h.core.calls.get(parties.call)
    assert call is not None and call.state is CallState.ACTIVE
    assert ended_records(h.log) == []


def test_ring_timer_before_accept_leaves_the_accept_call_not_found(parties: Parties) -> None:
    h = parties.harness
    h.now += 30
    assert [r.end_reason for r in ended_records(h.fire(ring_key(parties.call)))] == ["no-answer"]
    effects = h.send(parties.phone.session, Accept(call=parties.call, media="audio", id="a"))
    assert_call_not_found(effects, parties.phone.session, "a")
    assert records(h.log, "answered") == []


# --- two devices answering at once ----------------------------------------------------------


def test_two_devices_accepting_give_exactly_one_call_accepted_pair(parties: Parties) -> None:
    h, ann, bob, phone = parties.harness, parties.ann, parties.bob, parties.phone
    h.send(phone.session, Accept(call=parties.call, media="video", id=1))
    error = only_error_to(
        h.send(bob.session, Accept(call=parties.call, media="video", id=2)), bob.session
    )
    assert error.id == 2
    assert error.code in (ErrorCode.CALL_NOT_FOUND, ErrorCode.WRONG_CALL_STATE)
    accepted = of_type(h.log, CallAccepted)
    assert [(s, m.peer) for s, m in accepted] == [
        (ann.session, phone.session),
        (phone.session, ann.session),
    ]
    assert len(records(h.log, "answered")) == 1


# --- hang-up during ringing -----------------------------------------------------------------


def test_callee_hanging_up_on_one_device_stops_the_other_before_it_accepts(
    parties: Parties,
) -> None:
    h = parties.harness
    declined = h.send(parties.bob.session, Hangup(call=parties.call))
    assert messages_to(declined, parties.phone.session) == [
        CallEnded(call=parties.call, reason="declined", by=parties.bob.user)
    ]
    effects = h.send(parties.phone.session, Accept(call=parties.call, media="video", id=3))
    assert_call_not_found(effects, parties.phone.session, 3)


def test_caller_hanging_up_before_the_accept_arrives(parties: Parties) -> None:
    h = parties.harness
    h.send(parties.ann.session, Hangup(call=parties.call))
    effects = h.send(parties.bob.session, Accept(call=parties.call, media="video", id=4))
    assert_call_not_found(effects, parties.bob.session, 4)
    assert [r.end_reason for r in ended_records(h.log)] == ["cancelled"]


def test_caller_hanging_up_just_after_the_accept(parties: Parties) -> None:
    h = parties.harness
    h.accept(parties.bob.session, parties.call)
    effects = h.send(parties.ann.session, Hangup(call=parties.call))
    assert [r.end_reason for r in ended_records(effects)] == ["hangup"]


def test_reject_crossing_a_cancel_the_second_gets_call_not_found(parties: Parties) -> None:
    h = parties.harness
    h.send(parties.bob.session, Reject(call=parties.call))
    effects = h.send(parties.ann.session, Cancel(call=parties.call, id=5))
    assert_call_not_found(effects, parties.ann.session, 5)
    assert [r.end_reason for r in ended_records(h.log)] == ["declined"]


def test_cancel_crossing_a_reject_the_second_gets_call_not_found(parties: Parties) -> None:
    h = parties.harness
    h.send(parties.ann.session, Cancel(call=parties.call))
    effects = h.send(parties.phone.session, Reject(call=parties.call, id=6))
    assert_call_not_found(effects, parties.phone.session, 6)
    assert [r.end_reason for r in ended_records(h.log)] == ["cancelled"]


def test_accept_after_the_caller_closed_gets_call_not_found(parties: Parties) -> None:
    h = parties.harness
    h.disconnect(parties.ann.session)
    effects = h.send(parties.bob.session, Accept(call=parties.call, media="video", id=7))
    assert_call_not_found(effects, parties.bob.session, 7)


@pytest.mark.parametrize("kind", ACTIONS)
def test_any_action_on_an_ended_call_gets_call_not_found(parties: Parties, kind: str) -> None:
    h = parties.harness
    h.fire(ring_key(parties.call))
    for device in (parties.ann, parties.bob, parties.phone):
        assert_call_not_found(
            h.send(device.session, action(kind, parties.call, 8)), device.session, 8
        )


# --- outsiders ------------------------------------------------------------------------------


@pytest.mark.parametrize("answered", [False, True], ids=["ringing", "answered"])
@pytest.mark.parametrize("kind", ACTIONS)
def test_a_third_user_acting_on_a_call_gets_call_not_found_and_nobody_notices(
    parties: Parties, kind: str, answered: bool
) -> None:
    h = parties.harness
    if answered:
        h.accept(parties.bob.session, parties.call)
    call = h.core.calls.get(parties.call)
    assert call is not None
    before = (call.state, set(call.ringing_sessions), call.callee_session)
    cy = h.user("Cy")
    effects = h.send(cy.session, action(kind, parties.call, "x"))
    assert_call_not_found(effects, cy.session, "x")
    assert (call.state, set(call.ringing_sessions), call.callee_session) == before
    assert h.core.calls.get(parties.call) is call


@pytest.mark.parametrize("kind", ACTIONS)
def test_a_third_users_answer_is_the_same_as_for_an_unknown_call(
    parties: Parties, kind: str
) -> None:
    # So call ids cannot be probed: a real call that is not yours looks like no call at all.
    h = parties.harness
    cy = h.user("Cy")
    real = only_error_to(h.send(cy.session, action(kind, parties.call, 1)), cy.session)
    made_up = only_error_to(h.send(cy.session, action(kind, "no-such-call", 1)), cy.session)
    assert real == made_up


@pytest.mark.parametrize("kind", ACTIONS)
def test_an_unknown_call_id_gets_call_not_found(harness: Harness, kind: str) -> None:
    ann = harness.user("Ann")
    assert_call_not_found(
        harness.send(ann.session, action(kind, "no-such-call", 9)), ann.session, 9
    )


def test_a_third_user_in_a_call_of_their_own_cannot_touch_another(harness: Harness) -> None:
    ann, bob, cy, dee = (harness.user(n) for n in ("Ann", "Bob", "Cy", "Dee"))
    theirs = harness.invite(ann.session, bob.user)
    harness.invite(cy.session, dee.user)
    assert_call_not_found(harness.send(cy.session, Hangup(call=theirs, id=1)), cy.session, 1)
    assert_call_not_found(
        harness.send(dee.session, Accept(call=theirs, media="video", id=2)), dee.session, 2
    )
    assert harness.core.calls.get(theirs) is not None


@pytest.mark.parametrize("kind", ["cancel", "hangup"])
def test_the_callers_other_device_cannot_end_the_call(parties: Parties, kind: str) -> None:
    h = parties.harness
    laptop = h.device(parties.ann, "Ann")
    effects = h.send(laptop.session, action(kind, parties.call, 3))
    assert_call_not_found(effects, laptop.session, 3)
    call = h.core.calls.get(parties.call)
    assert call is not None and call.state is CallState.RINGING


@pytest.mark.parametrize("kind", ACTIONS)
def test_the_callees_other_device_after_the_answer_gets_call_not_found(
    parties: Parties, kind: str
) -> None:
    h = parties.harness
    h.accept(parties.phone.session, parties.call)
    effects = h.send(parties.bob.session, action(kind, parties.call, 4))
    assert_call_not_found(effects, parties.bob.session, 4)
    assert messages_to(effects, parties.ann.session) == []
    assert messages_to(effects, parties.phone.session) == []
    call = h.core.calls.get(parties.call)
    assert call is not None and call.state is CallState.ACTIVE
    assert call.callee_session == parties.phone.session
    assert h.core.calls.peer_session(parties.ann.session, parties.ann.user) == parties.phone.session


def test_an_outsider_cannot_end_a_call_by_closing_their_socket(parties: Parties) -> None:
    h = parties.harness
    cy = h.user("Cy")
    h.send(cy.session, Hangup(call=parties.call))
    effects = h.disconnect(cy.session)
    assert of_type(effects, CallEnded) == []
    assert h.core.calls.get(parties.call) is not None
