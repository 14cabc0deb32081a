"""invite → ringing / incoming-call, the calls that never ring (offline, busy), the invites that
are refused, accept → call-accepted, and relaying between the two ends of an answered call."""

from typing import TypeVar

import msgspec
import pytest

from parley.core.calls import CallState
from parley.core.effects import CallRecord, CancelTimer, Effect, RecordCall, Send, StartTimer
from parley.core.signaling import CoreSettings
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    Accept,
    Answer,
    CallAccepted,
    CallEnded,
    Candidate,
    Hangup,
    IceCandidate,
    IncomingCall,
    Invite,
    Media,
    Offer,
    RelayedAnswer,
    RelayedCandidate,
    RelayedOffer,
    Ringing,
    UserInfo,
)
from tests.core.helpers import (
    Device,
    Harness,
    ended_records,
    messages_to,
    of_type,
    only_error_to,
    only_message_to,
    recipients,
    records,
    ring_key,
    ticket,
)

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
ANSWER_SDP = "v=0\r\no=- 3 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=setup:active\r\n"
ICE = IceCandidate(candidate="candidate:1 1 udp 2122260223 192.0.2.10 54400 typ host", sdpMid="0")


def ann_and_bob(harness: Harness) -> tuple[Device, Device]:
    return harness.user("Ann"), harness.user("Bob")


# --- invite → ringing -----------------------------------------------------------------------


def test_invite_is_answered_with_ringing_echoing_its_id(harness: Harness) -> None:
    ann, bob = ann_and_bob(harness)
    effects = harness.send(ann.session, Invite(to=bob.user, media="video", id="inv-1"))
    ringing = only_message_to(effects, ann.session)
    assert isinstance(ringing, Ringing)
    assert ringing.id == "inv-1"
    assert ringing.callee == UserInfo(id=bob.user, name="Bob")
    assert ringing.media == "video"
    assert ringing.call and ringing.call not in (ann.session, bob.session)


def test_invite_rings_every_presence_device_of_the_callee(harness: Harness) -> None:
    ann, bob = ann_and_bob(harness)
    phone = harness.device(bob, "Bob")
    plain = harness.device(bob, "Bob", presence=False)
    effects = harness.send(ann.session, Invite(to=bob.user, media="audio"))
    [(_, ringing)] = of_type(effects, Ringing)
    ring = IncomingCall(call=ringing.call, caller=UserInfo(id=ann.user, name="Ann"), media="audio")
    assert messages_to(effects, bob.session) == [ring]
    assert messages_to(effects, phone.session) == [ring]
    assert messages_to(effects, plain.session) == []
    assert recipients(effects) == {ann.session, bob.session, phone.session}


def test_invite_does_not_ring_the_callers_other_devices_or_bystanders(harness: Harness) -> None:
    ann, bob = ann_and_bob(harness)
    ann_phone = harness.device(ann, "Ann")
    cy = harness.user("Cy")
    effects = harness.send(ann.session, Invite(to=bob.user, media="video"))
    assert messages_to(effects, ann_phone.session) == []
    assert messages_to(effects, cy.session) == []


def test_invite_starts_the_ring_timer_at_now_plus_ring_timeout() -> None:
    harness = Harness(CoreSettings(ring_timeout=12.5), now=500.0)
    ann, bob = ann_and_bob(harness)
    effects = harness.send(ann.session, Invite(to=bob.user, media="video"))
    call = only_message_to(effects, ann.session)
    assert isinstance(call, Ringing)
    assert [e for e in effects if isinstance(e, StartTimer)] == [
        StartTimer(ring_key(call.call), 512.5)
    ]


def test_the_default_ring_timeout_is_30_seconds(harness: Harness) -> None:
    ann, bob = ann_and_bob(harness)
    effects = harness.send(ann.session, Invite(to=bob.user, media="video"))
    timers = [e for e in effects if isinstance(e, StartTimer)]
    assert len(timers) == 1
    assert timers[0].deadline == harness.now + 30.0


def test_invite_records_the_call_as_created(harness: Harness) -> None:
    ann, bob = ann_and_bob(harness)
    effects = harness.send(ann.session, Invite(to=bob.user, media="audio"))
    call = harness.core.calls.get(of_type(effects, Ringing)[0][1].call)
    assert call is not None
    assert records(effects) == [
        RecordCall(
            "created",
            CallRecord(
                id=call.id,
                caller=ann.user,
                caller_name="Ann",
                callee=bob.user,
                callee_name="Bob",
                media="audio",
                created=harness.now,
            ),
        )
    ]


def test_invite_effects_come_in_order_record_ringing_rings_timer(harness: Harness) -> None:
    ann, bob = ann_and_bob(harness)
    effects = harness.send(ann.session, Invite(to=bob.user, media="video"))
    kinds = [type(e.message).__name__ if isinstance(e, Send) else type(e).__name__ for e in effects]
    assert kinds == ["RecordCall", "Ringing", "IncomingCall", "StartTimer"]


def test_a_ringing_call_is_kept_in_the_ringing_state(harness: Harness) -> None:
    ann, bob = ann_and_bob(harness)
    call_id = harness.invite(ann.session, bob.user)
    call = harness.core.calls.get(call_id)
    assert call is not None
    assert call.state is CallState.RINGING
    assert call.caller_session == ann.session
    assert call.ringing_sessions == {bob.session}
    assert len(harness.core.calls) == 1


def test_a_caller_without_presence_can_still_call(harness: Harness) -> None:
    ann = harness.user("Ann", presence=False)
    bob = harness.user("Bob")
    call = harness.invite(ann.session, bob.user)
    assert harness.core.calls.get(call) is not None


def test_incoming_call_names_the_caller_by_the_calling_devices_name(harness: Harness) -> None:
    ann, bob = ann_and_bob(harness)
    work = harness.device(ann, "Ann at work")
    effects = harness.send(work.session, Invite(to=bob.user, media="video"))
    [(_, ring)] = of_type(effects, IncomingCall)
    assert ring.caller == UserInfo(id=ann.user, name="Ann at work")


# --- calls that never ring ------------------------------------------------------------------


def assert_ended_at_once(
    harness: Harness, effects: list[Effect], caller: Device, reason: str, request_id: object
) -> str:
    """The caller alone heard call-ended `reason` echoing its id, and no history was written
    (the call never rang: a flood of such invites must not bury real calls); returns its id."""
    assert recipients(effects) == {caller.session}
    ended = only_message_to(effects, caller.session)
    assert isinstance(ended, CallEnded)
    assert (ended.id, ended.reason, ended.by) == (request_id, reason, None)
    assert not [e for e in effects if isinstance(e, StartTimer)]
    assert records(effects) == [], "a call that never rang is not history"
    assert harness.core.calls.get(ended.call) is None
    return ended.call


def test_invite_to_a_user_with_no_presence_session_ends_offline(harness: Harness) -> None:
    ann = harness.user("Ann")
    bob = harness.user("Bob", presence=False)
    effects = harness.send(ann.session, Invite(to=bob.user, media="video", id=3))
    assert_ended_at_once(harness, effects, ann, "offline", 3)
    assert messages_to(effects, bob.session) == []
    assert len(harness.core.calls) == 0


def test_invite_to_an_unknown_user_ends_offline(harness: Harness) -> None:
    ann = harness.user("Ann")
    effects = harness.send(ann.session, Invite(to="nobody", media="audio", id="x"))
    assert_ended_at_once(harness, effects, ann, "offline", "x")


def test_invite_to_a_user_who_went_offline_ends_offline(harness: Harness) -> None:
    ann, bob = ann_and_bob(harness)
    harness.disconnect(bob.session)
    effects = harness.send(ann.session, Invite(to=bob.user, media="video", id=1))
    assert_ended_at_once(harness, effects, ann, "offline", 1)


def test_after_offline_the_caller_is_free_to_call_again(harness: Harness) -> None:
    ann = harness.user("Ann")
    effects = harness.send(ann.session, Invite(to="nobody", media="video"))
    assert [m.reason for _, m in of_type(effects, CallEnded)] == ["offline"]
    bob = harness.user("Bob")
    assert harness.core.calls.get(harness.invite(ann.session, bob.user)) is not None


def busy_callee(harness: Harness, how: str) -> tuple[Device, str]:
    """Bob, already in a call with Cy in the way `how` names, and that call's id."""
    bob, cy = harness.user("Bob"), harness.user("Cy")
    match how:
        case "ringing-as-callee":
            return bob, harness.invite(cy.session, bob.user)
        case "ringing-as-caller":
            return bob, harness.invite(bob.session, cy.user)
        case "active":
            call = harness.invite(cy.session, bob.user)
            harness.accept(bob.session, call)
            return bob, call
    raise ValueError(how)


@pytest.mark.parametrize("how", ["ringing-as-callee", "ringing-as-caller", "active"])
def test_invite_to_a_user_already_in_a_call_ends_busy_at_once(harness: Harness, how: str) -> None:
    bob, existing_id = busy_callee(harness, how)
    phone = harness.device(bob, "Bob")
    ann = harness.user("Ann")
    existing = harness.core.calls.get(existing_id)
    assert existing is not None
    state_before = (existing.id, existing.state, set(existing.ringing_sessions))
    effects = harness.send(ann.session, Invite(to=bob.user, media="video", id=9))
    busy_call = assert_ended_at_once(harness, effects, ann, "busy", 9)
    assert messages_to(effects, bob.session) == []
    assert messages_to(effects, phone.session) == []
    assert len(harness.core.calls) == 1
    assert harness.core.calls.get(busy_call) is None
    assert (existing.id, existing.state, set(existing.ringing_sessions)) == state_before


def test_after_busy_the_caller_is_free_to_call_again(harness: Harness) -> None:
    bob, _ = busy_callee(harness, "active")
    ann, dee = harness.user("Ann"), harness.user("Dee")
    effects = harness.send(ann.session, Invite(to=bob.user, media="video"))
    assert [m.reason for _, m in of_type(effects, CallEnded)] == ["busy"]
    assert harness.core.calls.get(harness.invite(ann.session, dee.user)) is not None


# --- refused invites ------------------------------------------------------------------------


def test_invite_to_oneself_gets_cannot_call_self(harness: Harness) -> None:
    ann = harness.user("Ann")
    error = only_error_to(
        harness.send(ann.session, Invite(to=ann.user, media="video", id=1)), ann.session
    )
    assert (error.code, error.id) == (ErrorCode.CANNOT_CALL_SELF, 1)
    assert len(harness.core.calls) == 0


def test_invite_to_oneself_from_another_device_gets_cannot_call_self(harness: Harness) -> None:
    ann = harness.user("Ann")
    phone = harness.device(ann, "Ann")
    effects = harness.send(phone.session, Invite(to=ann.user, media="video", id="me"))
    error = only_error_to(effects, phone.session)
    assert (error.code, error.id) == (ErrorCode.CANNOT_CALL_SELF, "me")
    assert messages_to(effects, ann.session) == []


def in_a_call(harness: Harness, ann: Device, how: str) -> str:
    """Puts Ann's user in a call with Bob in the way `how` names; returns the call id."""
    bob = harness.user("Bob")
    match how:
        case "calling":
            return harness.invite(ann.session, bob.user)
        case "being-called":
            return harness.invite(bob.session, ann.user)
        case "talking-as-caller":
            call = harness.invite(ann.session, bob.user)
            harness.accept(bob.session, call)
            return call
        case "talking-as-callee":
            call = harness.invite(bob.session, ann.user)
            harness.accept(ann.session, call)
            return call
    raise ValueError(how)


IN_A_CALL = ["calling", "being-called", "talking-as-caller", "talking-as-callee"]


@pytest.mark.parametrize("how", IN_A_CALL)
def test_invite_while_in_a_call_gets_already_in_call(harness: Harness, how: str) -> None:
    ann = harness.user("Ann")
    call = in_a_call(harness, ann, how)
    cy = harness.user("Cy")
    effects = harness.send(ann.session, Invite(to=cy.user, media="video", id=7))
    error = only_error_to(effects, ann.session)
    assert (error.code, error.id) == (ErrorCode.ALREADY_IN_CALL, 7)
    assert len(harness.core.calls) == 1
    assert harness.core.calls.get(call) is not None


@pytest.mark.parametrize("how", IN_A_CALL)
def test_invite_from_another_device_of_a_user_in_a_call_gets_already_in_call(
    harness: Harness, how: str
) -> None:
    ann = harness.user("Ann")
    phone = harness.device(ann, "Ann", presence=False)
    in_a_call(harness, ann, how)
    cy = harness.user("Cy")
    error = only_error_to(
        harness.send(phone.session, Invite(to=cy.user, media="audio", id=2)), phone.session
    )
    assert error.code == ErrorCode.ALREADY_IN_CALL


def test_inviting_the_same_callee_twice_gets_already_in_call(harness: Harness) -> None:
    ann, bob = ann_and_bob(harness)
    harness.invite(ann.session, bob.user)
    effects = harness.send(ann.session, Invite(to=bob.user, media="video", id=4))
    assert only_error_to(effects, ann.session).code == ErrorCode.ALREADY_IN_CALL
    assert len(harness.core.calls) == 1


def test_invite_needs_hello_first(harness: Harness) -> None:
    session = harness.connect()
    bob = harness.user("Bob")
    effects = harness.send(session, Invite(to=bob.user, media="video", id=1))
    assert only_error_to(effects, session).code == ErrorCode.HELLO_REQUIRED
    assert len(harness.core.calls) == 0


# --- accept ---------------------------------------------------------------------------------


def test_accept_tells_each_side_the_others_session_and_that_the_caller_offers(
    harness: Harness,
) -> None:
    ann, bob = ann_and_bob(harness)
    call = harness.invite(ann.session, bob.user)
    effects = harness.send(
        bob.session, Accept(call=call, media="video", id="acc", caller_offers=True)
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
            id="acc",
            call=call,
            media="video",
            peer=ann.session,
            polite=True,
        )
    ]
    assert recipients(effects) == {ann.session, bob.session}


@pytest.mark.parametrize(
    ("caller_knows", "callee_knows"), [(False, True), (True, False), (False, False)]
)
def test_a_client_without_the_caller_offers_rule_gets_the_roles_it_works_out_itself(
    harness: Harness, caller_knows: bool, callee_knows: bool
) -> None:
    # An older client ignores `polite` and takes the room rule: the session id sorting first
    # is polite. Both sides must agree, or both offer (or both wait) and the call never starts.
    one, two = harness.user("One"), harness.user("Two")
    orders = set()
    for caller, callee in ((one, two), (two, one)):
        call = harness.invite(caller.session, callee.user, caller_offers=caller_knows)
        effects = harness.accept(callee.session, call, caller_offers=callee_knows)
        [to_caller] = messages_to(effects, caller.session)
        [to_callee] = messages_to(effects, callee.session)
        assert isinstance(to_caller, CallAccepted) and isinstance(to_callee, CallAccepted)
        assert to_caller.polite == (caller.session < callee.session)
        assert to_callee.polite == (callee.session < caller.session)
        orders.add(caller.session < callee.session)
        harness.send(caller.session, Hangup(call=call))
    assert orders == {True, False}


# --- the offer that rides the invite --------------------------------------------------------


def ring_with_offer(
    harness: Harness, ann: Device, bob: Device, media: Media = "video", takes_answer: bool = True
) -> str:
    effects = harness.send(
        ann.session,
        Invite(to=bob.user, media=media, caller_offers=True, offer=SDP, takes_answer=takes_answer),
    )
    [(_, ringing)] = of_type(effects, Ringing)
    return ringing.call


def test_an_offer_in_the_invite_rings_every_device_with_it_and_never_goes_back_to_the_caller(
    harness: Harness,
) -> None:
    ann, bob = ann_and_bob(harness)
    phone = harness.device(bob, "Bob")
    effects = harness.send(
        ann.session, Invite(to=bob.user, media="video", caller_offers=True, offer=SDP)
    )
    [(_, ringing)] = of_type(effects, Ringing)
    ring = IncomingCall(
        call=ringing.call, caller=UserInfo(id=ann.user, name="Ann"), media="video", offer=SDP
    )
    assert messages_to(effects, bob.session) == [ring]
    assert messages_to(effects, phone.session) == [ring]
    assert SDP not in msgspec.json.encode(ringing).decode()


def test_an_offer_without_the_caller_offers_rule_is_not_rung(harness: Harness) -> None:
    # Such a caller may be polite once answered; an offer it did not promise to make first
    # would only mislead the callee.
    ann, bob = ann_and_bob(harness)
    effects = harness.send(ann.session, Invite(to=bob.user, media="video", offer=SDP))
    [(_, ring)] = of_type(effects, IncomingCall)
    assert ring.offer is None


def test_an_answer_to_the_rung_offer_tells_both_sides_it_was_taken(harness: Harness) -> None:
    ann, bob = ann_and_bob(harness)
    call = ring_with_offer(harness, ann, bob)
    effects = harness.send(
        bob.session,
        Accept(call=call, media="video", id="acc", caller_offers=True, offer_taken=True),
    )
    assert messages_to(effects, ann.session) == [
        CallAccepted(
            ticket=ticket(call, ann.user, bob.user),
            call=call,
            media="video",
            peer=bob.session,
            polite=False,
            offer_taken=True,
        )
    ]
    assert messages_to(effects, bob.session) == [
        CallAccepted(
            ticket=ticket(call, ann.user, bob.user),
            id="acc",
            call=call,
            media="video",
            peer=ann.session,
            polite=True,
            offer_taken=True,
        )
    ]
    stored = harness.core.calls.get(call)
    assert stored is not None and stored.offer is None, "the offer is not kept once answered"


@pytest.mark.parametrize(
    ("offered", "answered", "callee_follows_polite", "callee_took", "taken"),
    [
        ("video", "video", True, True, True),
        ("audio", "audio", True, True, True),
        ("video", "audio", True, True, False),  # the video offer no longer fits
        ("video", "video", True, False, False),  # an older callee ignored it
        ("video", "video", False, True, False),  # the room rule decides who offers
    ],
)
def test_the_rung_offer_and_the_answer_made_to_it_count_only_when_the_offer_still_fits(
    harness: Harness,
    offered: Media,
    answered: Media,
    callee_follows_polite: bool,
    callee_took: bool,
    taken: bool,
) -> None:
    # Both orders of session ids: without the rule, the room rule's roles depend on them.
    one, two = harness.user("One"), harness.user("Two")
    for caller, callee in ((one, two), (two, one)):
        call = ring_with_offer(harness, caller, callee, offered)
        effects = harness.send(
            callee.session,
            Accept(
                call=call,
                media=answered,
                caller_offers=callee_follows_polite,
                offer_taken=callee_took,
                answer=ANSWER_SDP,
                id="acc",
            ),
        )
        to_caller = only_message_to(effects, caller.session)
        to_callee = only_message_to(effects, callee.session)
        assert isinstance(to_caller, CallAccepted) and isinstance(to_callee, CallAccepted)
        assert [to_caller.offer_taken, to_callee.offer_taken] == [taken, taken]
        # The answer made while ringing goes with call-accepted exactly when the offer counts.
        assert to_caller.answer == (ANSWER_SDP if taken else None)
        assert to_caller.answer_forwarded is False
        assert to_callee.answer is None, "nobody is sent back their own answer"
        assert to_callee.answer_forwarded is taken
        assert to_callee.id == "acc"
        # Nothing else carries it: not a relay, not a message to a bystander.
        assert recipients(effects) == {caller.session, callee.session}
        assert of_type(effects, RelayedAnswer) == []
        harness.send(caller.session, Hangup(call=call))


@pytest.mark.parametrize(
    ("case", "answer"),
    [
        ("a caller that does not take it", ANSWER_SDP),  # a page from before accept.answer
        ("an invite without an offer", ANSWER_SDP),
        ("an empty answer", ""),
    ],
)
def test_an_answer_the_caller_could_not_use_is_not_forwarded_and_the_callee_is_told(
    harness: Harness, case: str, answer: str
) -> None:
    ann, bob = ann_and_bob(harness)
    if case == "an invite without an offer":
        call = harness.invite(ann.session, bob.user)
    else:
        call = ring_with_offer(
            harness, ann, bob, takes_answer=case != "a caller that does not take it"
        )
    effects = harness.send(
        bob.session,
        Accept(call=call, media="video", caller_offers=True, offer_taken=True, answer=answer),
    )
    to_caller = only_message_to(effects, ann.session)
    to_callee = only_message_to(effects, bob.session)
    assert isinstance(to_caller, CallAccepted) and isinstance(to_callee, CallAccepted)
    assert to_caller.answer is None
    assert to_callee.answer_forwarded is False, "so the callee relays its answer"
    # The offer itself still counts as taken when there was one: only the answer waits.
    assert to_caller.offer_taken is (case != "an invite without an offer")


def test_an_answer_that_rode_the_accept_is_not_kept_with_the_call(harness: Harness) -> None:
    ann, bob = ann_and_bob(harness)
    call = ring_with_offer(harness, ann, bob)
    harness.send(
        bob.session,
        Accept(call=call, media="video", caller_offers=True, offer_taken=True, answer=ANSWER_SDP),
    )
    stored = harness.core.calls.get(call)
    assert stored is not None and stored.state is CallState.ACTIVE
    assert ANSWER_SDP not in repr(stored)
    # The call goes on as any other: the callee's candidates and later answers are relayed.
    effects = harness.send(bob.session, Candidate(to=ann.session, candidate=ICE))
    assert messages_to(effects, ann.session) == [RelayedCandidate(from_=bob.session, candidate=ICE)]


def test_an_accept_whose_answer_is_too_long_is_refused_and_the_call_rings_on(
    harness: Harness,
) -> None:
    ann, bob = ann_and_bob(harness)
    call = ring_with_offer(harness, ann, bob)
    accept = {"type": "accept", "call": call, "media": "video", "caller_offers": True, "id": 9}
    effects = harness.send_frame(
        bob.session, msgspec.json.encode({**accept, "offer_taken": True, "answer": "v" * 60_001})
    )
    error = only_error_to(effects, bob.session)
    assert error.code is ErrorCode.BAD_MESSAGE and error.id == 9
    assert of_type(effects, CallAccepted) == []
    stored = harness.core.calls.get(call)
    assert stored is not None and stored.state is CallState.RINGING
    # The same accept with a fitting answer still answers it.
    effects = harness.send_frame(
        bob.session, msgspec.json.encode({**accept, "offer_taken": True, "answer": ANSWER_SDP})
    )
    assert isinstance(only_message_to(effects, ann.session), CallAccepted)


def test_an_answer_claiming_an_offer_the_invite_never_carried_is_not_taken(
    harness: Harness,
) -> None:
    ann, bob = ann_and_bob(harness)
    call = harness.invite(ann.session, bob.user)
    effects = harness.send(
        bob.session, Accept(call=call, media="video", caller_offers=True, offer_taken=True)
    )
    assert [m.offer_taken for _, m in of_type(effects, CallAccepted)] == [False, False]


def test_an_invite_whose_offer_is_too_long_is_refused_and_rings_nobody(harness: Harness) -> None:
    ann, bob = ann_and_bob(harness)
    invite = {"type": "invite", "to": bob.user, "media": "video", "caller_offers": True, "id": 5}
    effects = harness.send_frame(
        ann.session, msgspec.json.encode({**invite, "offer": "v" * 60_001})
    )
    error = only_error_to(effects, ann.session)
    assert error.code is ErrorCode.BAD_MESSAGE and error.id == 5
    assert of_type(effects, IncomingCall) == []
    assert len(harness.core.calls) == 0


def test_accept_stops_the_callees_other_devices_with_answered_elsewhere(
    harness: Harness,
) -> None:
    ann, bob = ann_and_bob(harness)
    phone, tablet = harness.device(bob, "Bob"), harness.device(bob, "Bob")
    call = harness.invite(ann.session, bob.user)
    effects = harness.accept(phone.session, call)
    stop = CallEnded(call=call, reason="answered-elsewhere", by=bob.user)
    assert messages_to(effects, bob.session) == [stop]
    assert messages_to(effects, tablet.session) == [stop]
    assert messages_to(effects, ann.session) == [
        CallAccepted(
            ticket=ticket(call, ann.user, bob.user),
            call=call,
            media="video",
            peer=phone.session,
            polite=False,
        )
    ]
    assert of_type(effects, CallEnded) == [(bob.session, stop), (tablet.session, stop)]


def test_accept_cancels_the_ring_timer_and_records_the_answer(harness: Harness) -> None:
    ann, bob = ann_and_bob(harness)
    created = harness.now
    call = harness.invite(ann.session, bob.user)
    harness.now += 4
    effects = harness.accept(bob.session, call)
    assert CancelTimer(ring_key(call)) in effects
    assert not [e for e in effects if isinstance(e, StartTimer)]
    [answered] = records(effects)
    assert answered.step == "answered"
    assert answered.record.id == call
    assert answered.record.created == created
    assert answered.record.answered == harness.now
    assert answered.record.ended is None and answered.record.end_reason is None
    assert ended_records(effects) == []


def test_an_accepted_call_is_active_between_the_two_sessions(harness: Harness) -> None:
    ann, bob = ann_and_bob(harness)
    phone = harness.device(bob, "Bob")
    call_id = harness.invite(ann.session, bob.user)
    harness.accept(phone.session, call_id)
    call = harness.core.calls.get(call_id)
    assert call is not None
    assert call.state is CallState.ACTIVE
    assert (call.caller_session, call.callee_session) == (ann.session, phone.session)
    assert call.ringing_sessions == set()


@pytest.mark.parametrize(
    ("offered", "answered", "agreed"),
    [
        ("video", "video", "video"),
        ("video", "audio", "audio"),
        ("audio", "video", "audio"),
        ("audio", "audio", "audio"),
    ],
)
def test_accept_narrows_the_media(
    harness: Harness, offered: Media, answered: Media, agreed: Media
) -> None:
    ann, bob = ann_and_bob(harness)
    call = harness.invite(ann.session, bob.user, media=offered)
    effects = harness.accept(bob.session, call, media=answered)
    assert [m.media for _, m in of_type(effects, CallAccepted)] == [agreed, agreed]
    [answered_record] = records(effects, "answered")
    assert answered_record.record.media == agreed


def test_accept_by_the_caller_gets_wrong_call_state(harness: Harness) -> None:
    ann, bob = ann_and_bob(harness)
    call = harness.invite(ann.session, bob.user)
    effects = harness.send(ann.session, Accept(call=call, media="video", id=5))
    error = only_error_to(effects, ann.session)
    assert (error.code, error.id) == (ErrorCode.WRONG_CALL_STATE, 5)
    found = harness.core.calls.get(call)
    assert found is not None and found.state is CallState.RINGING


def test_accept_twice_by_the_answering_device_gets_wrong_call_state(harness: Harness) -> None:
    ann, bob = ann_and_bob(harness)
    call = harness.invite(ann.session, bob.user)
    harness.accept(bob.session, call)
    effects = harness.send(bob.session, Accept(call=call, media="video", id=6))
    error = only_error_to(effects, bob.session)
    assert (error.code, error.id) == (ErrorCode.WRONG_CALL_STATE, 6)
    assert messages_to(effects, ann.session) == []


# --- relaying inside an answered call -------------------------------------------------------


def answered(harness: Harness) -> tuple[Device, Device, Device, str]:
    """Ann calls Bob, who answers on his phone; returns Ann, Bob's laptop, his phone, the call."""
    ann, bob = ann_and_bob(harness)
    phone = harness.device(bob, "Bob")
    call = harness.invite(ann.session, bob.user)
    harness.accept(phone.session, call)
    return ann, bob, phone, call


RELAYS = [
    (Offer(to="", sdp=SDP), RelayedOffer(from_="", sdp=SDP)),
    (Answer(to="", sdp=SDP), RelayedAnswer(from_="", sdp=SDP)),
    (Candidate(to="", candidate=ICE), RelayedCandidate(from_="", candidate=ICE)),
    (Candidate(to="", candidate=None), RelayedCandidate(from_="", candidate=None)),
]
each_relay = pytest.mark.parametrize(
    ("sent", "relayed"), RELAYS, ids=["offer", "answer", "candidate", "end-of-candidates"]
)


Sent = TypeVar("Sent", Offer, Answer, Candidate)
Relayed = TypeVar("Relayed", RelayedOffer, RelayedAnswer, RelayedCandidate)


def addressed(message: Sent, to: str, request_id: int | None = None) -> Sent:
    return msgspec.structs.replace(message, to=to, id=request_id)


def stamped(message: Relayed, sender: str) -> Relayed:
    return msgspec.structs.replace(message, from_=sender)


@each_relay
def test_caller_to_answering_device_is_relayed_with_from_stamped(
    harness: Harness, sent: Offer, relayed: RelayedOffer
) -> None:
    ann, _, phone, _ = answered(harness)
    effects = harness.send(ann.session, addressed(sent, phone.session))
    assert effects == [Send(phone.session, stamped(relayed, ann.session))]


@each_relay
def test_answering_device_to_caller_is_relayed_with_from_stamped(
    harness: Harness, sent: Offer, relayed: RelayedOffer
) -> None:
    ann, _, phone, _ = answered(harness)
    effects = harness.send(phone.session, addressed(sent, ann.session))
    assert effects == [Send(ann.session, stamped(relayed, phone.session))]


@each_relay
def test_relay_to_the_callees_other_device_gets_peer_not_found(
    harness: Harness, sent: Offer, relayed: RelayedOffer
) -> None:
    ann, bob, _, _ = answered(harness)
    error = only_error_to(harness.send(ann.session, addressed(sent, bob.session, 3)), ann.session)
    assert (error.code, error.id) == (ErrorCode.PEER_NOT_FOUND, 3)


@each_relay
def test_relay_from_the_callees_other_device_gets_peer_not_found(
    harness: Harness, sent: Offer, relayed: RelayedOffer
) -> None:
    ann, bob, _, _ = answered(harness)
    error = only_error_to(harness.send(bob.session, addressed(sent, ann.session, 4)), bob.session)
    assert (error.code, error.id) == (ErrorCode.PEER_NOT_FOUND, 4)


@each_relay
def test_relay_before_the_call_is_answered_gets_peer_not_found(
    harness: Harness, sent: Offer, relayed: RelayedOffer
) -> None:
    ann, bob = ann_and_bob(harness)
    harness.invite(ann.session, bob.user)
    error = only_error_to(harness.send(ann.session, addressed(sent, bob.session, 5)), ann.session)
    assert (error.code, error.id) == (ErrorCode.PEER_NOT_FOUND, 5)
    error = only_error_to(harness.send(bob.session, addressed(sent, ann.session, 6)), bob.session)
    assert (error.code, error.id) == (ErrorCode.PEER_NOT_FOUND, 6)


def test_relay_after_the_call_ended_gets_peer_not_found(harness: Harness) -> None:
    ann, _, phone, call = answered(harness)
    harness.send(ann.session, Hangup(call=call))
    effects = harness.send(phone.session, Offer(to=ann.session, sdp=SDP, id=8))
    assert only_error_to(effects, phone.session).code == ErrorCode.PEER_NOT_FOUND


def test_relay_to_a_third_users_session_gets_peer_not_found(harness: Harness) -> None:
    ann, _, _, _ = answered(harness)
    cy = harness.user("Cy")
    effects = harness.send(ann.session, Offer(to=cy.session, sdp=SDP, id=9))
    assert only_error_to(effects, ann.session).code == ErrorCode.PEER_NOT_FOUND
    assert messages_to(effects, cy.session) == []
