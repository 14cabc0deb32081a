"""The call history the core asks to be kept: every call is created once, ended exactly once
with its reason and who ended it, answered iff it was accepted, and never holds SDP."""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from parley.core.effects import CallRecord
from parley.protocol.messages import (
    Accept,
    CallAccepted,
    CallEnded,
    Cancel,
    EndReason,
    Hangup,
    Invite,
    Offer,
    Reject,
)
from tests.core.helpers import Harness, of_type, records, ring_key

SECRET_SDP = "v=0\r\no=- 42 2 IN IP4 203.0.113.7\r\na=fingerprint:sha-256 SECRET-FINGERPRINT\r\n"


@dataclass(frozen=True)
class Ending:
    reason: EndReason
    by: str | None
    answered: bool


Expected = dict[str, Ending]


def talk(h: Harness, caller: str, callee: str) -> None:
    """The two ends of an answered call exchange SDP (which history must never see)."""
    h.send(caller, Offer(to=callee, sdp=SECRET_SDP))


def reject(h: Harness) -> Expected:
    ann, bob = h.user("Ann"), h.user("Bob")
    call = h.invite(ann.session, bob.user)
    h.send(bob.session, Reject(call=call))
    return {call: Ending("declined", bob.user, False)}


def cancel(h: Harness) -> Expected:
    ann, bob = h.user("Ann"), h.user("Bob")
    h.device(bob, "Bob")
    call = h.invite(ann.session, bob.user)
    h.send(ann.session, Cancel(call=call))
    return {call: Ending("cancelled", ann.user, False)}


def cancel_after_answer(h: Harness) -> Expected:
    ann, bob = h.user("Ann"), h.user("Bob")
    call = h.invite(ann.session, bob.user)
    h.accept(bob.session, call)
    h.send(ann.session, Cancel(call=call))
    return {call: Ending("hangup", ann.user, True)}


def hangup_by_caller(h: Harness) -> Expected:
    ann, bob = h.user("Ann"), h.user("Bob")
    call = h.invite(ann.session, bob.user)
    h.accept(bob.session, call)
    talk(h, ann.session, bob.session)
    h.send(ann.session, Hangup(call=call))
    return {call: Ending("hangup", ann.user, True)}


def hangup_by_callee(h: Harness) -> Expected:
    ann, bob = h.user("Ann"), h.user("Bob")
    phone = h.device(bob, "Bob")
    call = h.invite(ann.session, bob.user)
    h.accept(phone.session, call, media="audio")
    talk(h, phone.session, ann.session)
    h.send(phone.session, Hangup(call=call))
    return {call: Ending("hangup", bob.user, True)}


def hangup_ringing_by_caller(h: Harness) -> Expected:
    ann, bob = h.user("Ann"), h.user("Bob")
    call = h.invite(ann.session, bob.user)
    h.send(ann.session, Hangup(call=call))
    return {call: Ending("cancelled", ann.user, False)}


def hangup_ringing_by_callee(h: Harness) -> Expected:
    ann, bob = h.user("Ann"), h.user("Bob")
    call = h.invite(ann.session, bob.user)
    h.send(bob.session, Hangup(call=call))
    return {call: Ending("declined", bob.user, False)}


def no_answer(h: Harness) -> Expected:
    ann, bob = h.user("Ann"), h.user("Bob")
    call = h.invite(ann.session, bob.user)
    h.now += 30
    h.fire(ring_key(call))
    h.fire(ring_key(call))
    return {call: Ending("no-answer", None, False)}


def busy(h: Harness) -> Expected:
    ann, bob, cy = h.user("Ann"), h.user("Bob"), h.user("Cy")
    first = h.invite(ann.session, bob.user)
    [(_, ended)] = of_type(h.send(cy.session, Invite(to=bob.user, media="video")), CallEnded)
    h.send(ann.session, Cancel(call=first))
    assert ended.reason == "busy"
    # The busy attempt never rang: it is not history (only the call that rang is).
    return {first: Ending("cancelled", ann.user, False)}


def offline(h: Harness) -> Expected:
    ann, bob = h.user("Ann"), h.user("Bob", presence=False)
    [(_, ended)] = of_type(h.send(ann.session, Invite(to=bob.user, media="audio")), CallEnded)
    assert ended.reason == "offline"
    return {}  # never rang: nothing is kept


def caller_closes_while_ringing(h: Harness) -> Expected:
    ann, bob = h.user("Ann"), h.user("Bob")
    call = h.invite(ann.session, bob.user)
    h.disconnect(ann.session)
    h.fire(ring_key(call))
    return {call: Ending("connection-lost", ann.user, False)}


def callee_closes_while_ringing(h: Harness) -> Expected:
    ann, bob = h.user("Ann"), h.user("Bob")
    phone = h.device(bob, "Bob")
    call = h.invite(ann.session, bob.user)
    h.disconnect(phone.session)
    h.disconnect(bob.session)
    return {call: Ending("connection-lost", bob.user, False)}


def caller_closes_while_talking(h: Harness) -> Expected:
    ann, bob = h.user("Ann"), h.user("Bob")
    call = h.invite(ann.session, bob.user)
    h.accept(bob.session, call)
    talk(h, ann.session, bob.session)
    h.disconnect(ann.session)
    h.disconnect(bob.session)
    return {call: Ending("connection-lost", ann.user, True)}


def callee_closes_while_talking(h: Harness) -> Expected:
    ann, bob = h.user("Ann"), h.user("Bob")
    call = h.invite(ann.session, bob.user)
    h.accept(bob.session, call)
    h.disconnect(bob.session)
    return {call: Ending("connection-lost", bob.user, True)}


def glare(h: Harness) -> Expected:
    ann, bob = h.user("Ann"), h.user("Bob")
    call = h.invite(ann.session, bob.user)
    h.send(bob.session, Invite(to=ann.user, media="audio"))
    talk(h, bob.session, ann.session)
    h.send(bob.session, Hangup(call=call))
    return {call: Ending("hangup", bob.user, True)}


def two_devices_accept(h: Harness) -> Expected:
    ann, bob = h.user("Ann"), h.user("Bob")
    phone = h.device(bob, "Bob")
    call = h.invite(ann.session, bob.user)
    h.send(phone.session, Accept(call=call, media="video"))
    h.send(bob.session, Accept(call=call, media="video"))
    h.send(bob.session, Hangup(call=call))  # the device that lost: call-not-found
    h.fire(ring_key(call))
    h.send(ann.session, Hangup(call=call))
    h.send(phone.session, Hangup(call=call))  # already over: call-not-found
    return {call: Ending("hangup", ann.user, True)}


def cancel_beats_accept(h: Harness) -> Expected:
    ann, bob = h.user("Ann"), h.user("Bob")
    call = h.invite(ann.session, bob.user)
    h.send(ann.session, Cancel(call=call))
    h.send(bob.session, Accept(call=call, media="video"))
    return {call: Ending("cancelled", ann.user, False)}


def calls_in_a_row(h: Harness) -> Expected:
    ann, bob = h.user("Ann"), h.user("Bob")
    first = h.invite(ann.session, bob.user)
    h.send(bob.session, Reject(call=first))
    second = h.invite(bob.session, ann.user)
    h.accept(ann.session, second)
    h.send(ann.session, Hangup(call=second))
    return {
        first: Ending("declined", bob.user, False),
        second: Ending("hangup", ann.user, True),
    }


SCENARIOS: list[Callable[[Harness], Expected]] = [
    reject,
    cancel,
    cancel_after_answer,
    hangup_by_caller,
    hangup_by_callee,
    hangup_ringing_by_caller,
    hangup_ringing_by_callee,
    no_answer,
    busy,
    offline,
    caller_closes_while_ringing,
    callee_closes_while_ringing,
    caller_closes_while_talking,
    callee_closes_while_talking,
    glare,
    two_devices_accept,
    cancel_beats_accept,
    calls_in_a_row,
]
each_scenario = pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)


def run(scenario: Callable[[Harness], Expected]) -> tuple[Harness, Expected]:
    harness = Harness()
    expected = scenario(harness)
    return harness, expected


@each_scenario
def test_every_call_is_created_once_and_ended_exactly_once(
    scenario: Callable[[Harness], Expected],
) -> None:
    harness, expected = run(scenario)
    created = [r.record.id for r in records(harness.log, "created")]
    ended = [r.record.id for r in records(harness.log, "ended")]
    assert sorted(created) == sorted(expected)
    assert sorted(ended) == sorted(expected)
    assert len(harness.core.calls) == 0, "every call in a scenario is over by its end"


@each_scenario
def test_each_call_ends_with_its_reason_and_who_ended_it(
    scenario: Callable[[Harness], Expected],
) -> None:
    harness, expected = run(scenario)
    ends = {r.record.id: r.record for r in records(harness.log, "ended")}
    assert {
        call: Ending(r.end_reason, r.ended_by, r.answered is not None) for call, r in ends.items()
    } == expected


@each_scenario
def test_a_call_is_answered_iff_it_was_accepted(scenario: Callable[[Harness], Expected]) -> None:
    harness, expected = run(scenario)
    accepted = {m.call for _, m in of_type(harness.log, CallAccepted)}
    answered = [r.record.id for r in records(harness.log, "answered")]
    assert sorted(answered) == sorted(accepted), "answered is recorded once per accepted call"
    assert accepted == {call for call, end in expected.items() if end.answered}


@each_scenario
def test_the_steps_of_a_call_come_in_order_and_agree(
    scenario: Callable[[Harness], Expected],
) -> None:
    harness, expected = run(scenario)
    for call in expected:
        steps = [r for r in records(harness.log) if r.record.id == call]
        assert [s.step for s in steps] in (
            ["created", "ended"],
            ["created", "answered", "ended"],
        )
        first, last = steps[0].record, steps[-1].record
        assert (first.caller, first.callee, first.created) == (
            last.caller,
            last.callee,
            last.created,
        )
        assert first.answered is None and first.ended is None and first.end_reason is None
        assert last.ended is not None
        assert last.created <= (last.answered or last.created) <= last.ended


@each_scenario
def test_no_record_holds_sdp(scenario: Callable[[Harness], Expected]) -> None:
    harness, _ = run(scenario)
    for step in records(harness.log):
        text = repr(step)
        assert "SECRET-FINGERPRINT" not in text
        assert "v=0" not in text


def test_the_sdp_scenarios_did_relay_sdp() -> None:
    # The check above means something only if SDP actually went through the core.
    harness, _ = run(hangup_by_caller)
    assert any("SECRET-FINGERPRINT" in repr(e) for e in harness.log)


def test_a_call_record_has_no_field_for_sdp_or_addresses() -> None:
    assert {f.name for f in dataclasses.fields(CallRecord)} == {
        "id",
        "caller",
        "caller_name",
        "callee",
        "callee_name",
        "media",
        "created",
        "answered",
        "ended",
        "end_reason",
        "ended_by",
    }
