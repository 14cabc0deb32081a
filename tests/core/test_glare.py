"""Glare: Ann calls Bob while Bob calls Ann. The later invite answers the earlier call, so both
end up in one call, whatever order they pressed in, and no second call ever exists."""

import pytest

from parley.core.calls import CallState
from parley.core.effects import CancelTimer, StartTimer
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    CallAccepted,
    CallEnded,
    Hangup,
    IncomingCall,
    Invite,
    Media,
    Offer,
    RelayedOffer,
    Ringing,
)
from tests.core.helpers import (
    Harness,
    ended_records,
    messages_to,
    of_type,
    only_error_to,
    records,
    ring_key,
    ticket,
)


def test_inviting_your_caller_answers_their_call(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    call = harness.invite(ann.session, bob.user)
    effects = harness.send(
        bob.session, Invite(to=ann.user, media="video", id="bob-inv", caller_offers=True)
    )
    assert messages_to(effects, ann.session) == [
        CallAccepted(
            ticket=ticket(call, ann.user, bob.user),
            call=call,
            media="video",
            peer=bob.session,
            polite=False,
        )
    ]
    assert messages_to(effects, bob.session) == [
        CallAccepted(
            ticket=ticket(call, ann.user, bob.user),
            id="bob-inv",
            call=call,
            media="video",
            peer=ann.session,
            polite=True,
        )
    ]


def test_after_a_glare_the_offer_either_invite_carried_is_sent_again(harness: Harness) -> None:
    # The second caller rang nobody with its offer, and its device never answered the first
    # one's: the first caller (who offers) sends its offer once answered.
    ann, bob = harness.user("Ann"), harness.user("Bob")
    harness.send(ann.session, Invite(to=bob.user, media="video", caller_offers=True, offer="v=0"))
    effects = harness.send(
        bob.session, Invite(to=ann.user, media="video", caller_offers=True, offer="v=0")
    )
    accepted = [message for _, message in of_type(effects, CallAccepted)]
    assert len(accepted) == 2 and not any(message.offer_taken for message in accepted)


def test_glare_leaves_one_active_call(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    call_id = harness.invite(ann.session, bob.user)
    effects = harness.send(bob.session, Invite(to=ann.user, media="video"))
    assert len(harness.core.calls) == 1
    call = harness.core.calls.get(call_id)
    assert call is not None and call.state is CallState.ACTIVE
    assert (call.caller_session, call.callee_session) == (ann.session, bob.session)
    assert of_type(effects, Ringing) == []
    assert of_type(effects, IncomingCall) == []
    assert not [e for e in effects if isinstance(e, StartTimer)]
    assert CancelTimer(ring_key(call_id)) in effects


def test_glare_records_an_answer_and_no_second_call(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    call = harness.invite(ann.session, bob.user)
    effects = harness.send(bob.session, Invite(to=ann.user, media="video"))
    assert [(r.step, r.record.id) for r in records(effects)] == [("answered", call)]
    assert [r.record.id for r in records(harness.log, "created")] == [call]
    assert ended_records(harness.log) == []


@pytest.mark.parametrize(
    ("first", "second", "agreed"),
    [
        ("video", "video", "video"),
        ("video", "audio", "audio"),
        ("audio", "video", "audio"),
        ("audio", "audio", "audio"),
    ],
)
def test_glare_narrows_the_media(
    harness: Harness, first: Media, second: Media, agreed: Media
) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    call = harness.invite(ann.session, bob.user, media=first)
    effects = harness.send(bob.session, Invite(to=ann.user, media=second))
    assert [m.media for _, m in of_type(effects, CallAccepted)] == [agreed, agreed]
    [answered] = records(effects, "answered")
    assert answered.record.media == agreed
    found = harness.core.calls.get(call)
    assert found is not None and found.media == agreed


def test_glare_stops_the_inviters_other_ringing_devices(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    phone = harness.device(bob, "Bob")
    call = harness.invite(ann.session, bob.user)
    effects = harness.send(
        phone.session, Invite(to=ann.user, media="video", id=1, caller_offers=True)
    )
    assert messages_to(effects, bob.session) == [
        CallEnded(call=call, reason="answered-elsewhere", by=bob.user)
    ]
    assert messages_to(effects, ann.session) == [
        CallAccepted(
            ticket=ticket(call, ann.user, bob.user),
            call=call,
            media="video",
            peer=phone.session,
            polite=False,
        )
    ]


def test_glare_from_a_device_that_was_not_ringing_answers_on_that_device(
    harness: Harness,
) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    plain = harness.device(bob, "Bob", presence=False)
    call = harness.invite(ann.session, bob.user)
    effects = harness.send(
        plain.session, Invite(to=ann.user, media="audio", id=2, caller_offers=True)
    )
    assert messages_to(effects, plain.session) == [
        CallAccepted(
            ticket=ticket(call, ann.user, bob.user),
            id=2,
            call=call,
            media="audio",
            peer=ann.session,
            polite=True,
        )
    ]
    assert messages_to(effects, bob.session) == [
        CallEnded(call=call, reason="answered-elsewhere", by=bob.user)
    ]
    assert harness.core.calls.peer_session(ann.session, ann.user) == plain.session


def test_after_glare_the_two_sessions_can_negotiate(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    harness.invite(ann.session, bob.user)
    harness.send(bob.session, Invite(to=ann.user, media="video"))
    effects = harness.send(bob.session, Offer(to=ann.session, sdp="v=0"))
    assert messages_to(effects, ann.session) == [RelayedOffer(from_=bob.session, sdp="v=0")]


def test_after_glare_one_hangup_ends_the_one_call(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    call = harness.invite(ann.session, bob.user)
    harness.send(bob.session, Invite(to=ann.user, media="video"))
    effects = harness.send(ann.session, Hangup(call=call))
    assert [(r.id, r.end_reason) for r in ended_records(harness.log)] == [(call, "hangup")]
    assert [s for s, _ in of_type(effects, CallEnded)] == [ann.session, bob.session]
    assert len(harness.core.calls) == 0


def test_inviting_your_caller_again_once_answered_gets_already_in_call(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    call = harness.invite(ann.session, bob.user)
    harness.accept(bob.session, call)
    effects = harness.send(bob.session, Invite(to=ann.user, media="video", id=3))
    assert only_error_to(effects, bob.session).code == ErrorCode.ALREADY_IN_CALL
    assert len(harness.core.calls) == 1


def test_the_caller_inviting_again_is_not_glare(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    call = harness.invite(ann.session, bob.user)
    laptop = harness.device(ann, "Ann")
    effects = harness.send(laptop.session, Invite(to=bob.user, media="video", id=4))
    assert only_error_to(effects, laptop.session).code == ErrorCode.ALREADY_IN_CALL
    found = harness.core.calls.get(call)
    assert found is not None and found.state is CallState.RINGING


def test_a_callee_inviting_someone_else_is_not_glare(harness: Harness) -> None:
    ann, bob, cy = harness.user("Ann"), harness.user("Bob"), harness.user("Cy")
    call = harness.invite(ann.session, bob.user)
    effects = harness.send(bob.session, Invite(to=cy.user, media="video", id=5))
    assert only_error_to(effects, bob.session).code == ErrorCode.ALREADY_IN_CALL
    found = harness.core.calls.get(call)
    assert found is not None and found.state is CallState.RINGING


def test_a_third_user_inviting_the_caller_gets_busy_not_glare(harness: Harness) -> None:
    ann, bob, cy = harness.user("Ann"), harness.user("Bob"), harness.user("Cy")
    call = harness.invite(ann.session, bob.user)
    effects = harness.send(cy.session, Invite(to=ann.user, media="video", id=6))
    assert [(s, m.reason, m.id) for s, m in of_type(effects, CallEnded)] == [
        (cy.session, "busy", 6)
    ]
    assert of_type(effects, CallAccepted) == []
    found = harness.core.calls.get(call)
    assert found is not None and found.state is CallState.RINGING
