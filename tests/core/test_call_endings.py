"""How a call ends: reject, cancel, hangup, no answer, and sockets closing.

Every end is told to each session still involved (the caller's, and the ringing devices or the
answering one) with the reason and the user who ended it, and is recorded exactly once.
"""

import pytest

from parley.core.calls import CallState
from parley.core.effects import CancelTimer, Effect
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    CallAccepted,
    CallEnded,
    Cancel,
    EndReason,
    Hangup,
    Reject,
    RequestId,
)
from tests.core.helpers import (
    Device,
    Harness,
    ended_records,
    messages_to,
    of_type,
    only_error_to,
    records,
    ring_key,
)


class Parties:
    """Ann calling Bob, who is online on his laptop and his phone (both ringing)."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.ann = harness.user("Ann")
        self.bob = harness.user("Bob")
        self.phone = harness.device(self.bob, "Bob")
        self.call = harness.invite(self.ann.session, self.bob.user)

    @property
    def ringing(self) -> list[str]:
        return [self.bob.session, self.phone.session]

    def answer_on_phone(self) -> None:
        self.harness.accept(self.phone.session, self.call)


@pytest.fixture
def parties(harness: Harness) -> Parties:
    return Parties(harness)


def assert_ended(
    effects: list[Effect],
    call: str,
    reason: EndReason,
    by: str | None,
    told: list[str],
    requester: str | None = None,
    request_id: RequestId = None,
) -> None:
    """`told` (and only they) heard the end once; the requester's copy echoes its id."""
    expected = [
        (
            session,
            CallEnded(
                id=request_id if session == requester else None, call=call, reason=reason, by=by
            ),
        )
        for session in told
    ]
    assert sorted(of_type(effects, CallEnded), key=lambda p: p[0]) == sorted(
        expected, key=lambda p: p[0]
    )
    [record] = ended_records(effects)
    assert (record.id, record.end_reason, record.ended_by) == (call, reason, by)


def ended_to(effects: list[Effect], session: str) -> list[CallEnded]:
    """The call-ended messages sent to `session` (a close also sends presence, ignored here)."""
    return [m for s, m in of_type(effects, CallEnded) if s == session]


def assert_forgotten(harness: Harness, call: str, *users: Device) -> None:
    """The call is gone and its users are free to call again."""
    assert harness.core.calls.get(call) is None
    assert len(harness.core.calls) == 0
    for user in users:
        assert harness.core.calls.peer_session(user.session, user.user) is None
    ann, bob = users[0], users[1]
    again = harness.invite(ann.session, bob.user)
    assert harness.core.calls.get(again) is not None


# --- reject ---------------------------------------------------------------------------------


def test_reject_declines_on_every_device_and_tells_the_caller(parties: Parties) -> None:
    h, ann, bob, phone = parties.harness, parties.ann, parties.bob, parties.phone
    effects = h.send(phone.session, Reject(call=parties.call, id="no"))
    assert_ended(
        effects,
        parties.call,
        "declined",
        bob.user,
        [ann.session, *parties.ringing],
        requester=phone.session,
        request_id="no",
    )
    assert CancelTimer(ring_key(parties.call)) in effects
    assert_forgotten(h, parties.call, ann, bob)


def test_reject_is_recorded_unanswered_with_its_end_time(parties: Parties) -> None:
    h = parties.harness
    created = h.now
    h.now += 7
    [record] = ended_records(h.send(parties.bob.session, Reject(call=parties.call)))
    assert (record.created, record.answered, record.ended) == (created, None, h.now)
    assert (record.caller, record.callee) == (parties.ann.user, parties.bob.user)


def test_reject_by_the_caller_gets_wrong_call_state(parties: Parties) -> None:
    h = parties.harness
    error = only_error_to(
        h.send(parties.ann.session, Reject(call=parties.call, id=2)), parties.ann.session
    )
    assert (error.code, error.id) == (ErrorCode.WRONG_CALL_STATE, 2)
    assert h.core.calls.get(parties.call) is not None


def test_reject_after_answering_gets_wrong_call_state(parties: Parties) -> None:
    h = parties.harness
    parties.answer_on_phone()
    effects = h.send(parties.phone.session, Reject(call=parties.call, id=3))
    error = only_error_to(effects, parties.phone.session)
    assert (error.code, error.id) == (ErrorCode.WRONG_CALL_STATE, 3)
    call = h.core.calls.get(parties.call)
    assert call is not None and call.state is CallState.ACTIVE


# --- cancel ---------------------------------------------------------------------------------


def test_cancel_while_ringing_stops_every_ringing_device(parties: Parties) -> None:
    h, ann = parties.harness, parties.ann
    effects = h.send(ann.session, Cancel(call=parties.call, id=1))
    assert_ended(
        effects,
        parties.call,
        "cancelled",
        ann.user,
        [ann.session, *parties.ringing],
        requester=ann.session,
        request_id=1,
    )
    assert CancelTimer(ring_key(parties.call)) in effects
    assert_forgotten(h, parties.call, ann, parties.bob)


def test_cancel_of_an_answered_call_hangs_it_up(parties: Parties) -> None:
    h, ann = parties.harness, parties.ann
    parties.answer_on_phone()
    effects = h.send(ann.session, Cancel(call=parties.call, id="c"))
    assert_ended(
        effects,
        parties.call,
        "hangup",
        ann.user,
        [ann.session, parties.phone.session],
        requester=ann.session,
        request_id="c",
    )
    assert messages_to(effects, parties.bob.session) == []
    [record] = ended_records(effects)
    assert record.answered == h.now


def test_cancel_by_the_callee_gets_wrong_call_state(parties: Parties) -> None:
    h = parties.harness
    effects = h.send(parties.bob.session, Cancel(call=parties.call, id=4))
    error = only_error_to(effects, parties.bob.session)
    assert (error.code, error.id) == (ErrorCode.WRONG_CALL_STATE, 4)
    assert h.core.calls.get(parties.call) is not None


# --- hangup ---------------------------------------------------------------------------------


def test_hangup_by_the_caller_of_an_answered_call(parties: Parties) -> None:
    h, ann = parties.harness, parties.ann
    parties.answer_on_phone()
    h.now += 60
    effects = h.send(ann.session, Hangup(call=parties.call, id=5))
    assert_ended(
        effects,
        parties.call,
        "hangup",
        ann.user,
        [ann.session, parties.phone.session],
        requester=ann.session,
        request_id=5,
    )
    assert messages_to(effects, parties.bob.session) == []
    [record] = ended_records(effects)
    assert record.answered is not None
    assert record.ended == record.answered + 60
    assert_forgotten(h, parties.call, ann, parties.bob)


def test_hangup_by_the_answering_device(parties: Parties) -> None:
    h, phone = parties.harness, parties.phone
    parties.answer_on_phone()
    effects = h.send(phone.session, Hangup(call=parties.call, id=6))
    assert_ended(
        effects,
        parties.call,
        "hangup",
        parties.bob.user,
        [parties.ann.session, phone.session],
        requester=phone.session,
        request_id=6,
    )
    assert_forgotten(h, parties.call, parties.ann, parties.bob)


def test_hangup_by_the_caller_while_ringing_cancels(parties: Parties) -> None:
    h, ann = parties.harness, parties.ann
    effects = h.send(ann.session, Hangup(call=parties.call, id=7))
    assert_ended(
        effects,
        parties.call,
        "cancelled",
        ann.user,
        [ann.session, *parties.ringing],
        requester=ann.session,
        request_id=7,
    )


def test_hangup_by_the_callee_while_ringing_declines(parties: Parties) -> None:
    h, bob = parties.harness, parties.bob
    effects = h.send(bob.session, Hangup(call=parties.call, id=8))
    assert_ended(
        effects,
        parties.call,
        "declined",
        bob.user,
        [parties.ann.session, *parties.ringing],
        requester=bob.session,
        request_id=8,
    )
    assert_forgotten(h, parties.call, parties.ann, bob)


def test_hangup_twice_gets_call_not_found(parties: Parties) -> None:
    h, ann = parties.harness, parties.ann
    parties.answer_on_phone()
    h.send(ann.session, Hangup(call=parties.call))
    effects = h.send(ann.session, Hangup(call=parties.call, id=9))
    error = only_error_to(effects, ann.session)
    assert (error.code, error.id) == (ErrorCode.CALL_NOT_FOUND, 9)
    assert records(effects) == []


# --- no answer ------------------------------------------------------------------------------


def test_ring_timeout_ends_the_call_no_answer_for_everyone(parties: Parties) -> None:
    h, ann = parties.harness, parties.ann
    h.now += 30
    effects = h.fire(ring_key(parties.call))
    assert_ended(effects, parties.call, "no-answer", None, [ann.session, *parties.ringing])
    [record] = ended_records(effects)
    assert (record.answered, record.ended) == (None, h.now)
    assert_forgotten(h, parties.call, ann, parties.bob)


def test_ring_timeout_after_the_call_was_answered_does_nothing(parties: Parties) -> None:
    h = parties.harness
    parties.answer_on_phone()
    assert h.fire(ring_key(parties.call)) == []
    call = h.core.calls.get(parties.call)
    assert call is not None and call.state is CallState.ACTIVE


@pytest.mark.parametrize("ending", ["reject", "cancel", "caller-closed"])
def test_ring_timeout_after_the_call_ended_does_nothing(parties: Parties, ending: str) -> None:
    h = parties.harness
    match ending:
        case "reject":
            h.send(parties.bob.session, Reject(call=parties.call))
        case "cancel":
            h.send(parties.ann.session, Cancel(call=parties.call))
        case "caller-closed":
            h.disconnect(parties.ann.session)
    assert h.core.calls.get(parties.call) is None
    assert h.fire(ring_key(parties.call)) == []


def test_ring_timeout_fires_once(parties: Parties) -> None:
    h = parties.harness
    assert ended_records(h.fire(ring_key(parties.call)))
    assert h.fire(ring_key(parties.call)) == []


def test_ring_timeout_of_one_call_leaves_another_alone(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    cy, dee = harness.user("Cy"), harness.user("Dee")
    first = harness.invite(ann.session, bob.user)
    second = harness.invite(cy.session, dee.user)
    effects = harness.fire(ring_key(first))
    assert {r.id for r in ended_records(effects)} == {first}
    assert messages_to(effects, cy.session) == messages_to(effects, dee.session) == []
    assert harness.core.calls.get(second) is not None


def test_ring_timeout_of_an_unknown_call_does_nothing(harness: Harness) -> None:
    harness.user("Ann")
    assert harness.fire(ring_key("no-such-call")) == []


# --- sockets closing ------------------------------------------------------------------------


def test_caller_closing_while_ringing_stops_every_ringing_device(parties: Parties) -> None:
    h, ann = parties.harness, parties.ann
    effects = h.disconnect(ann.session)
    lost = CallEnded(call=parties.call, reason="connection-lost", by=ann.user)
    assert ended_to(effects, parties.bob.session) == [lost]
    assert ended_to(effects, parties.phone.session) == [lost]
    [record] = ended_records(effects)
    assert (record.end_reason, record.ended_by) == ("connection-lost", ann.user)
    assert h.core.calls.get(parties.call) is None


def test_callees_only_ringing_device_closing_tells_the_caller(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    call = harness.invite(ann.session, bob.user)
    effects = harness.disconnect(bob.session)
    assert ended_to(effects, ann.session) == [
        CallEnded(call=call, reason="connection-lost", by=bob.user)
    ]
    [record] = ended_records(effects)
    assert (record.end_reason, record.ended_by) == ("connection-lost", bob.user)
    assert harness.core.calls.get(call) is None


def test_one_of_two_ringing_devices_closing_keeps_the_other_ringing(parties: Parties) -> None:
    h = parties.harness
    effects = h.disconnect(parties.bob.session)
    assert of_type(effects, CallEnded) == []
    assert records(effects) == []
    call = h.core.calls.get(parties.call)
    assert call is not None and call.state is CallState.RINGING
    assert call.ringing_sessions == {parties.phone.session}
    effects = h.accept(parties.phone.session, parties.call)
    assert messages_to(effects, parties.bob.session) == [], "a closed device hears nothing"


def test_the_last_of_two_ringing_devices_closing_ends_the_call(parties: Parties) -> None:
    h = parties.harness
    h.disconnect(parties.bob.session)
    effects = h.disconnect(parties.phone.session)
    assert ended_to(effects, parties.ann.session) == [
        CallEnded(call=parties.call, reason="connection-lost", by=parties.bob.user)
    ]
    assert len(ended_records(effects)) == 1


def test_no_answer_after_a_ringing_device_closed_goes_to_those_left(parties: Parties) -> None:
    h = parties.harness
    h.disconnect(parties.bob.session)
    effects = h.fire(ring_key(parties.call))
    assert_ended(
        effects, parties.call, "no-answer", None, [parties.ann.session, parties.phone.session]
    )


def test_caller_closing_an_answered_call_tells_the_answering_device(parties: Parties) -> None:
    h, ann = parties.harness, parties.ann
    parties.answer_on_phone()
    effects = h.disconnect(ann.session)
    assert ended_to(effects, parties.phone.session) == [
        CallEnded(call=parties.call, reason="connection-lost", by=ann.user)
    ]
    assert ended_to(effects, parties.bob.session) == []
    [record] = ended_records(effects)
    assert (record.end_reason, record.ended_by, record.answered) == (
        "connection-lost",
        ann.user,
        h.now,
    )


def test_answering_device_closing_tells_the_caller(parties: Parties) -> None:
    h = parties.harness
    parties.answer_on_phone()
    effects = h.disconnect(parties.phone.session)
    assert ended_to(effects, parties.ann.session) == [
        CallEnded(call=parties.call, reason="connection-lost", by=parties.bob.user)
    ]
    [record] = ended_records(effects)
    assert (record.end_reason, record.ended_by) == ("connection-lost", parties.bob.user)
    assert_forgotten(h, parties.call, parties.ann, parties.bob)


@pytest.mark.parametrize("answered", [False, True], ids=["ringing", "answered"])
def test_the_closed_session_itself_is_sent_nothing_about_its_call(
    parties: Parties, answered: bool
) -> None:
    # As with peer-left in rooms: the socket is gone, so nothing is queued for it.
    h = parties.harness
    if answered:
        parties.answer_on_phone()
    assert ended_to(h.disconnect(parties.ann.session), parties.ann.session) == []


def test_answering_device_closing_sends_it_nothing(parties: Parties) -> None:
    h = parties.harness
    parties.answer_on_phone()
    assert ended_to(h.disconnect(parties.phone.session), parties.phone.session) == []


def test_callees_other_device_closing_leaves_an_answered_call_alone(parties: Parties) -> None:
    h = parties.harness
    parties.answer_on_phone()
    effects = h.disconnect(parties.bob.session)
    assert of_type(effects, CallEnded) == []
    assert records(effects) == []
    assert h.core.calls.peer_session(parties.ann.session, parties.ann.user) == parties.phone.session


def test_callers_other_device_closing_leaves_a_ringing_call_alone(parties: Parties) -> None:
    h = parties.harness
    laptop = h.device(parties.ann, "Ann")
    effects = h.disconnect(laptop.session)
    assert of_type(effects, CallEnded) == []
    assert records(effects) == []
    assert h.core.calls.get(parties.call) is not None
    effects = h.accept(parties.bob.session, parties.call)
    assert [s for s, _ in of_type(effects, CallAccepted)] == [
        parties.ann.session,
        parties.bob.session,
    ]


def test_a_bystander_closing_changes_no_call(parties: Parties) -> None:
    h = parties.harness
    cy = h.user("Cy")
    effects = h.disconnect(cy.session)
    assert of_type(effects, CallEnded) == []
    assert records(effects) == []
    assert h.core.calls.get(parties.call) is not None
