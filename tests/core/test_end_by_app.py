"""The host app ends a call (`POST /api/v1/calls/{id}/end`, SignalingCore.end_call_by_app):
ringing, answered, or being taken back after a restart, every session still involved hears
`call-ended` with reason `ended-by-app` and no `by`, it is recorded once, and its users are free
again. A call that ended, or never was, is left alone."""

from parley.core.calls import RECLAIM_TIMER, CallState
from parley.core.effects import CancelTimer, Effect, Send
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import CallEnded, Hangup, ResumeCall
from tests.core.helpers import (
    Harness,
    ended_records,
    error_codes,
    of_type,
    recipients,
    ring_key,
    ticket,
)


def told(effects: list[Effect], call: str) -> dict[str, list[CallEnded]]:
    """session -> the call-ended messages it got."""
    heard: dict[str, list[CallEnded]] = {}
    for session, message in of_type(effects, CallEnded):
        heard.setdefault(session, []).append(message)
    expected = CallEnded(call=call, reason="ended-by-app", by=None)
    assert all(m == expected for ms in heard.values() for m in ms), heard
    return heard


def test_a_ringing_call_ends_for_the_caller_and_every_ringing_device(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    phone = harness.device(bob, "Bob")
    call = harness.invite(ann.session, bob.user)

    ending, effects = harness.core.end_call_by_app(call, harness.now)

    assert (ending.result, ending.was) == ("ended", CallState.RINGING)
    heard = told(effects, call)
    assert sorted(heard) == sorted([ann.session, bob.session, phone.session])
    assert all(len(messages) == 1 for messages in heard.values())
    assert CancelTimer(ring_key(call)) in effects
    [record] = ended_records(effects)
    assert (record.id, record.end_reason, record.ended_by, record.answered) == (
        call,
        "ended-by-app",
        None,
        None,
    )
    # Nobody is left in a call: Ann may call Bob again.
    assert harness.core.calls.get(call) is None
    assert harness.core.calls.get(harness.invite(ann.session, bob.user)) is not None


def test_an_answered_call_ends_for_both_sides_and_not_the_other_devices(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    phone = harness.device(bob, "Bob")
    call = harness.invite(ann.session, bob.user)
    harness.accept(phone.session, call)
    harness.now += 30

    ending, effects = harness.core.end_call_by_app(call, harness.now)

    assert (ending.result, ending.was) == ("ended", CallState.ACTIVE)
    assert sorted(told(effects, call)) == sorted([ann.session, phone.session])
    assert bob.session not in recipients(effects), "the device that did not answer is out"
    [record] = ended_records(effects)
    assert (record.end_reason, record.ended, record.answered) == (
        "ended-by-app",
        harness.now,
        harness.now - 30,
    )
    # Hanging up afterwards finds no call: it ended exactly once.
    effects = harness.send(ann.session, Hangup(call=call, id=4))
    assert error_codes(effects) == [ErrorCode.CALL_NOT_FOUND]


def test_a_call_being_taken_back_after_a_restart_ends_for_the_side_that_claimed_it(
    harness: Harness,
) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    call = "call-before-restart"
    claim = ResumeCall(
        call=call,
        peer=bob.user,
        role="caller",
        media="audio",
        id=3,
        ticket=ticket(call, ann.user, bob.user),
    )
    harness.send(ann.session, claim)
    assert harness.core.calls.get(call) is not None

    ending, effects = harness.core.end_call_by_app(call, harness.now)

    assert (ending.result, ending.was) == ("ended", CallState.RECLAIMING)
    assert sorted(told(effects, call)) == [ann.session]
    assert CancelTimer((RECLAIM_TIMER, call)) in effects
    assert [r.end_reason for r in ended_records(effects)] == ["ended-by-app"]


def test_a_call_that_already_ended_is_over_and_nothing_happens(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    call = harness.invite(ann.session, bob.user)
    harness.send(ann.session, Hangup(call=call))

    ending, effects = harness.core.end_call_by_app(call, harness.now)

    assert (ending.result, ending.was, effects) == ("over", None, [])


def test_a_call_that_never_was_is_unknown_and_nothing_happens(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    harness.invite(ann.session, bob.user)

    ending, effects = harness.core.end_call_by_app("no-such-call", harness.now)

    assert (ending.result, ending.was, effects) == ("unknown", None, [])
    assert len(harness.core.calls) == 1, "the call going on is untouched"


def test_the_end_is_numbered_into_each_sessions_replay_log(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    call = harness.invite(ann.session, bob.user)
    before = harness.core.session(ann.session)
    assert before is not None
    last = before.log.last_seq

    _, effects = harness.core.end_call_by_app(call, harness.now)

    [send] = [e for e in effects if isinstance(e, Send) and e.session == ann.session]
    assert send.seq == last + 1
