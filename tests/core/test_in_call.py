"""In-call messages: media-state, video-request and video-reply are relayed under the same rules
as offer/answer/candidate; `quality` summaries are checked against the reporter's calls and rooms
before anything is recorded."""

import json
from typing import TypeAlias

import msgspec
import pytest

from parley.core.effects import Effect, QualityRecord, RecordQuality, Send
from parley.core.signaling import CoreSettings
from parley.protocol.codec import decode_client_frame, encode
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    CallEnded,
    Hangup,
    Invite,
    Join,
    Leave,
    MediaState,
    Quality,
    QualitySaved,
    RelayedMediaState,
    RelayedVideoReply,
    RelayedVideoRequest,
    ResumeCall,
    VideoReply,
    VideoRequest,
)
from tests.core.helpers import (
    Device,
    Harness,
    errors,
    messages_to,
    of_type,
    only_error_to,
    only_message_to,
    recipients,
)

ROOM = "blue-fox"

InCall: TypeAlias = MediaState | VideoRequest | VideoReply
Relayed: TypeAlias = RelayedMediaState | RelayedVideoRequest | RelayedVideoReply

# Each pair: what a client sends (its `to` filled in per test), what the addressee must get
# (its `from` filled in per test). Several variants per type, so that a field copied wrongly
# or hard-coded cannot pass.
IN_CALL: list[tuple[InCall, Relayed]] = [
    (
        MediaState(to="", muted=True, cameraOff=False, screen=True),
        RelayedMediaState(from_="", muted=True, cameraOff=False, screen=True),
    ),
    (
        MediaState(to="", muted=False, cameraOff=True, screen=False),
        RelayedMediaState(from_="", muted=False, cameraOff=True, screen=False),
    ),
    (MediaState(to=""), RelayedMediaState(from_="")),
    (VideoRequest(to=""), RelayedVideoRequest(from_="")),
    (VideoReply(to="", accepted=True), RelayedVideoReply(from_="", accepted=True)),
    (VideoReply(to="", accepted=False), RelayedVideoReply(from_="", accepted=False)),
]
IN_CALL_IDS = [
    "media-state-muted-screen",
    "media-state-camera-off",
    "media-state-all-off",
    "video-request",
    "video-reply-accepted",
    "video-reply-declined",
]
each_in_call = pytest.mark.parametrize(("sent", "relayed"), IN_CALL, ids=IN_CALL_IDS)


def addressed(message: InCall, to: str, request_id: int | None = None) -> InCall:
    return msgspec.structs.replace(message, to=to, id=request_id)


def stamped(message: Relayed, sender: str) -> Relayed:
    return msgspec.structs.replace(message, from_=sender)


def as_received(relayed: Relayed) -> Relayed:
    """The message as a client reads it off the wire (the encoding omits false flags)."""
    decoded = msgspec.json.decode(encode(relayed), type=type(relayed))
    assert isinstance(decoded, type(relayed))
    return decoded


def answered(harness: Harness) -> tuple[Device, Device, Device, str]:
    """Ann calls Bob, who answers on his phone; returns Ann, Bob's laptop, his phone, the call."""
    ann, bob = harness.user("Ann"), harness.user("Bob")
    phone = harness.device(bob, "Bob")
    call = harness.invite(ann.session, bob.user)
    harness.accept(phone.session, call)
    return ann, bob, phone, call


def assert_peer_not_found(effects: list[Effect], sender: str, request_id: int) -> None:
    error = only_error_to(effects, sender)
    assert (error.code, error.id) == (ErrorCode.PEER_NOT_FOUND, request_id)


# --- relayed inside a room ------------------------------------------------------------------


@each_in_call
def test_in_call_messages_reach_a_room_peer_stamped_with_the_sender(
    harness: Harness, sent: InCall, relayed: Relayed
) -> None:
    alice, bob = harness.pair(ROOM)
    effects = harness.send(alice, addressed(sent, bob, request_id=1))
    assert effects == [Send(bob, stamped(relayed, alice))]
    delivered = effects[0]
    assert isinstance(delivered, Send)
    assert as_received(delivered.message) == stamped(relayed, alice)  # type: ignore[arg-type]


@each_in_call
def test_in_call_messages_are_relayed_in_both_directions_of_a_room(
    harness: Harness, sent: InCall, relayed: Relayed
) -> None:
    alice, bob = harness.pair(ROOM)
    effects = harness.send(bob, addressed(sent, alice))
    assert effects == [Send(alice, stamped(relayed, bob))]


@each_in_call
def test_in_call_messages_reach_only_the_addressee_in_a_bigger_room(
    sent: InCall, relayed: Relayed
) -> None:
    harness = Harness(CoreSettings(room_capacity=3))
    alice, bob = harness.pair(ROOM)
    carol = harness.in_room(ROOM)
    effects = harness.send(alice, addressed(sent, carol))
    assert recipients(effects) == {carol}
    assert messages_to(effects, bob) == []


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"media-state","to":"%(to)s","from":"%(forged)s","muted":true,"screen":true}',
        '{"type":"video-request","from":"%(forged)s","to":"%(to)s"}',
        '{"type":"video-reply","to":"%(to)s","accepted":true,"from":"%(forged)s"}',
    ],
    ids=["media-state", "video-request", "video-reply"],
)
def test_a_from_written_by_the_client_on_an_in_call_message_is_ignored(frame: str) -> None:
    harness = Harness(CoreSettings(room_capacity=3))
    alice, bob = harness.pair(ROOM)
    carol = harness.in_room(ROOM)
    decoded = decode_client_frame(frame % {"to": bob, "forged": carol})
    assert isinstance(decoded, MediaState | VideoRequest | VideoReply), decoded
    effects = harness.send(alice, decoded)
    assert recipients(effects) == {bob}
    relayed = only_message_to(effects, bob)
    assert isinstance(relayed, RelayedMediaState | RelayedVideoRequest | RelayedVideoReply)
    assert relayed.from_ == alice
    wire = json.loads(encode(relayed))
    assert wire["from"] == alice
    assert {k: v for k, v in wire.items() if k not in ("type", "from")} == {
        "media-state": {"muted": True, "screen": True},
        "video-request": {},
        "video-reply": {"accepted": True},
    }[wire["type"]]


# --- relayed inside an answered direct call -------------------------------------------------


@each_in_call
def test_in_call_messages_reach_the_answering_device_from_the_caller(
    harness: Harness, sent: InCall, relayed: Relayed
) -> None:
    ann, _, phone, _ = answered(harness)
    effects = harness.send(ann.session, addressed(sent, phone.session, 2))
    assert effects == [Send(phone.session, stamped(relayed, ann.session))]


@each_in_call
def test_in_call_messages_reach_the_caller_from_the_answering_device(
    harness: Harness, sent: InCall, relayed: Relayed
) -> None:
    ann, _, phone, _ = answered(harness)
    effects = harness.send(phone.session, addressed(sent, ann.session, 3))
    assert effects == [Send(ann.session, stamped(relayed, phone.session))]


# --- peer-not-found -------------------------------------------------------------------------


@each_in_call
def test_in_call_messages_to_a_stranger_get_peer_not_found(
    harness: Harness, sent: InCall, relayed: Relayed
) -> None:
    alice = harness.in_room(ROOM)
    stranger = harness.welcomed()
    effects = harness.send(alice, addressed(sent, stranger, 10))
    assert messages_to(effects, stranger) == []
    assert_peer_not_found(effects, alice, 10)


@each_in_call
def test_in_call_messages_to_a_session_in_another_room_get_peer_not_found(
    harness: Harness, sent: InCall, relayed: Relayed
) -> None:
    alice = harness.in_room("red")
    elsewhere = harness.in_room("green")
    effects = harness.send(alice, addressed(sent, elsewhere, 11))
    assert messages_to(effects, elsewhere) == []
    assert_peer_not_found(effects, alice, 11)


@each_in_call
def test_in_call_messages_to_an_unknown_session_get_peer_not_found(
    harness: Harness, sent: InCall, relayed: Relayed
) -> None:
    alice, _ = harness.pair(ROOM)
    assert_peer_not_found(harness.send(alice, addressed(sent, "no-such-session", 12)), alice, 12)


@each_in_call
def test_in_call_messages_to_yourself_get_peer_not_found(
    harness: Harness, sent: InCall, relayed: Relayed
) -> None:
    alice, _ = harness.pair(ROOM)
    assert_peer_not_found(harness.send(alice, addressed(sent, alice, 13)), alice, 13)


@each_in_call
def test_in_call_messages_to_yourself_in_a_direct_call_get_peer_not_found(
    harness: Harness, sent: InCall, relayed: Relayed
) -> None:
    ann, _, phone, _ = answered(harness)
    assert_peer_not_found(
        harness.send(ann.session, addressed(sent, ann.session, 14)), ann.session, 14
    )
    assert_peer_not_found(
        harness.send(phone.session, addressed(sent, phone.session, 15)), phone.session, 15
    )


@each_in_call
def test_in_call_messages_to_a_room_peer_who_left_get_peer_not_found(
    harness: Harness, sent: InCall, relayed: Relayed
) -> None:
    alice, bob = harness.pair(ROOM)
    harness.send(bob, Leave())
    effects = harness.send(alice, addressed(sent, bob, 16))
    assert messages_to(effects, bob) == []
    assert_peer_not_found(effects, alice, 16)


@each_in_call
def test_in_call_messages_to_the_callees_other_device_get_peer_not_found(
    harness: Harness, sent: InCall, relayed: Relayed
) -> None:
    ann, laptop, _, _ = answered(harness)
    effects = harness.send(ann.session, addressed(sent, laptop.session, 17))
    assert messages_to(effects, laptop.session) == []
    assert_peer_not_found(effects, ann.session, 17)


@each_in_call
def test_in_call_messages_from_the_callees_other_device_get_peer_not_found(
    harness: Harness, sent: InCall, relayed: Relayed
) -> None:
    ann, laptop, _, _ = answered(harness)
    effects = harness.send(laptop.session, addressed(sent, ann.session, 18))
    assert messages_to(effects, ann.session) == []
    assert_peer_not_found(effects, laptop.session, 18)


@each_in_call
def test_in_call_messages_while_the_call_rings_get_peer_not_found(
    harness: Harness, sent: InCall, relayed: Relayed
) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    harness.invite(ann.session, bob.user)
    assert_peer_not_found(
        harness.send(ann.session, addressed(sent, bob.session, 19)), ann.session, 19
    )
    assert_peer_not_found(
        harness.send(bob.session, addressed(sent, ann.session, 20)), bob.session, 20
    )


@each_in_call
def test_in_call_messages_after_the_call_ended_get_peer_not_found(
    harness: Harness, sent: InCall, relayed: Relayed
) -> None:
    ann, _, phone, call = answered(harness)
    harness.send(ann.session, Hangup(call=call))
    effects = harness.send(phone.session, addressed(sent, ann.session, 21))
    assert_peer_not_found(effects, phone.session, 21)


@each_in_call
def test_in_call_messages_from_a_call_to_a_third_users_session_get_peer_not_found(
    harness: Harness, sent: InCall, relayed: Relayed
) -> None:
    ann, _, _, _ = answered(harness)
    cy = harness.user("Cy")
    effects = harness.send(ann.session, addressed(sent, cy.session, 22))
    assert messages_to(effects, cy.session) == []
    assert_peer_not_found(effects, ann.session, 22)


# --- quality for a direct call --------------------------------------------------------------

FULL_REPORT = {
    "durationSeconds": 61.5,
    "rttMeanMs": 42.25,
    "rttMaxMs": 180.0,
    "lossPercent": 0.75,
    "sendKbps": 812.5,
    "receiveKbps": 640.125,
    "candidateType": "srflx",
    "protocol": "udp",
    "trouble": "turn-refused",
}


def report(call: str | None, request_id: int | str | None = None, **fields: object) -> Quality:
    """A quality message with FULL_REPORT's values, `fields` overriding them."""
    return msgspec.convert(
        {"type": "quality", "call": call, "id": request_id, **FULL_REPORT, **fields}, Quality
    )


def expected_record(
    harness: Harness, user: str, call: str | None, room_session: str | None = None
) -> QualityRecord:
    return QualityRecord(
        user=user,
        call=call,
        room_session=room_session,
        reported=harness.now,
        duration_seconds=61.5,
        rtt_mean_ms=42.25,
        rtt_max_ms=180.0,
        loss_percent=0.75,
        send_kbps=812.5,
        receive_kbps=640.125,
        candidate_type="srflx",
        protocol="udp",
        trouble="turn-refused",
    )


def quality_records(effects: list[Effect]) -> list[QualityRecord]:
    return [e.record for e in effects if isinstance(e, RecordQuality)]


@pytest.mark.parametrize("side", ["caller", "callee"])
@pytest.mark.parametrize("when", ["during the call", "right after it ended"])
def test_quality_for_a_direct_call_is_recorded_and_answered_with_its_id(
    harness: Harness, side: str, when: str
) -> None:
    ann, _, phone, call = answered(harness)
    harness.now += 61.5
    if when == "right after it ended":
        ended = harness.send(ann.session, Hangup(call=call))
        assert [m.reason for _, m in of_type(ended, CallEnded)] == ["hangup", "hangup"]
        harness.now += 0.5
    reporter, user = (ann.session, ann.user) if side == "caller" else (phone.session, phone.user)
    effects = harness.send(reporter, report(call, request_id="q-1"))
    assert effects == [
        RecordQuality(expected_record(harness, user, call)),
        Send(reporter, QualitySaved(id="q-1")),
    ]


def test_both_sides_of_a_call_may_each_report_its_quality(harness: Harness) -> None:
    ann, _, phone, call = answered(harness)
    harness.send(phone.session, Hangup(call=call))
    first = harness.send(ann.session, report(call, request_id=1))
    second = harness.send(phone.session, report(call, request_id=2, lossPercent=3.0))
    assert [(r.user, r.call, r.loss_percent) for r in quality_records(first + second)] == [
        (ann.user, call, 0.75),
        (phone.user, call, 3.0),
    ]
    assert only_message_to(second, phone.session) == QualitySaved(id=2)


def test_quality_with_only_the_duration_records_the_other_fields_as_none(
    harness: Harness,
) -> None:
    ann, _, _, call = answered(harness)
    effects = harness.send(ann.session, Quality(call=call, durationSeconds=0, id=4))
    assert quality_records(effects) == [
        QualityRecord(
            user=ann.user,
            call=call,
            room_session=None,
            reported=harness.now,
            duration_seconds=0,
            rtt_mean_ms=None,
            rtt_max_ms=None,
            loss_percent=None,
            send_kbps=None,
            receive_kbps=None,
            candidate_type=None,
            protocol=None,
        )
    ]
    assert only_message_to(effects, ann.session) == QualitySaved(id=4)


def test_quality_from_a_third_user_gets_call_not_found_and_records_nothing(
    harness: Harness,
) -> None:
    _, _, _, call = answered(harness)
    cy = harness.user("Cy")
    error = only_error_to(harness.send(cy.session, report(call, request_id=30)), cy.session)
    assert (error.code, error.id) == (ErrorCode.CALL_NOT_FOUND, 30)


def test_quality_from_a_third_user_after_the_call_ended_gets_call_not_found(
    harness: Harness,
) -> None:
    ann, _, _, call = answered(harness)
    harness.send(ann.session, Hangup(call=call))
    cy = harness.user("Cy")
    error = only_error_to(harness.send(cy.session, report(call, request_id=31)), cy.session)
    assert (error.code, error.id) == (ErrorCode.CALL_NOT_FOUND, 31)


def test_quality_from_a_third_user_in_a_room_still_needs_the_call(harness: Harness) -> None:
    """Being in a room does not turn a report on someone else's call into a room report."""
    _, _, _, call = answered(harness)
    cy = harness.user("Cy")
    harness.send(cy.session, Join(room=ROOM))
    error = only_error_to(harness.send(cy.session, report(call, request_id=32)), cy.session)
    assert (error.code, error.id) == (ErrorCode.CALL_NOT_FOUND, 32)


def test_quality_for_an_unknown_call_id_gets_call_not_found(harness: Harness) -> None:
    ann, _, _, _ = answered(harness)
    effects = harness.send(ann.session, report("no-such-call", request_id=33))
    error = only_error_to(effects, ann.session)
    assert (error.code, error.id) == (ErrorCode.CALL_NOT_FOUND, 33)


def test_quality_for_a_call_that_never_rang_gets_call_not_found(harness: Harness) -> None:
    ann = harness.user("Ann")
    [(_, offline)] = of_type(
        harness.send(ann.session, Invite(to="nobody", media="audio")), CallEnded
    )
    assert offline.reason == "offline"
    effects = harness.send(ann.session, report(offline.call, request_id=34))
    error = only_error_to(effects, ann.session)
    assert (error.code, error.id) == (ErrorCode.CALL_NOT_FOUND, 34)


def test_a_third_user_cannot_become_a_party_of_an_ended_call_by_claiming_its_id(
    harness: Harness,
) -> None:
    """resume-call with the id of a call that ended lately, by someone who was not in it, must
    not make that user a party: no report from them, and the real parties can still report."""
    ann, _, phone, call = answered(harness)
    harness.send(ann.session, Hangup(call=call))
    cy, dee = harness.user("Cy"), harness.user("Dee")
    claim = harness.send(
        cy.session,
        ResumeCall(call=call, peer=dee.user, role="caller", media="audio", id=35, ticket="0" * 32),
    )
    assert quality_records(claim) == []
    effects = harness.send(cy.session, report(call, request_id=36))
    assert quality_records(effects) == []
    assert [(e.code, e.id) for e in errors(effects)] == [(ErrorCode.CALL_NOT_FOUND, 36)]
    for side in (ann, phone):
        effects = harness.send(side.session, report(call, request_id=37))
        assert [r.user for r in quality_records(effects)] == [side.user]


# --- quality for a room call ----------------------------------------------------------------


def test_quality_without_a_call_inside_a_room_is_recorded_for_the_session(
    harness: Harness,
) -> None:
    alice, _ = harness.pair(ROOM)
    user = harness.core.session(alice)
    assert user is not None and user.identity is not None
    effects = harness.send(alice, report(None, request_id=40))
    assert effects == [
        RecordQuality(expected_record(harness, user.identity.user, None, room_session=alice)),
        Send(alice, QualitySaved(id=40)),
    ]


def test_quality_without_a_call_from_a_session_alone_in_its_room_is_recorded(
    harness: Harness,
) -> None:
    alice = harness.in_room(ROOM)
    records = quality_records(harness.send(alice, report(None)))
    assert [(r.call, r.room_session) for r in records] == [(None, alice)]


def test_quality_without_a_call_outside_a_room_gets_not_in_room(harness: Harness) -> None:
    loner = harness.welcomed()
    error = only_error_to(harness.send(loner, report(None, request_id=41)), loner)
    assert (error.code, error.id) == (ErrorCode.NOT_IN_ROOM, 41)


def test_quality_without_a_call_after_leaving_the_room_gets_not_in_room(
    harness: Harness,
) -> None:
    alice, _ = harness.pair(ROOM)
    harness.send(alice, Leave())
    error = only_error_to(harness.send(alice, report(None, request_id=42)), alice)
    assert (error.code, error.id) == (ErrorCode.NOT_IN_ROOM, 42)


def test_quality_without_a_call_in_a_direct_call_outside_rooms_gets_not_in_room(
    harness: Harness,
) -> None:
    ann, _, _, _ = answered(harness)
    error = only_error_to(harness.send(ann.session, report(None, request_id=43)), ann.session)
    assert (error.code, error.id) == (ErrorCode.NOT_IN_ROOM, 43)


# --- malformed quality frames ---------------------------------------------------------------

VALID = dict(FULL_REPORT)


def frame(**changes: object) -> str:
    """A room-call quality frame with id 50: VALID with `changes` (None deletes a field)."""
    fields: dict[str, object] = {"type": "quality", "id": 50, **VALID}
    for key, value in changes.items():
        if value is None:
            del fields[key]
        else:
            fields[key] = value
    return json.dumps(fields)


MALFORMED = {
    "negative duration": frame(durationSeconds=-1),
    "duration over a week": frame(durationSeconds=7 * 24 * 3600 + 1),
    "lossPercent 150": frame(lossPercent=150),
    "negative lossPercent": frame(lossPercent=-0.5),
    "candidateType carrier-pigeon": frame(candidateType="carrier-pigeon"),
    "protocol sctp": frame(protocol="sctp"),
    "trouble not one of ours": frame(trouble="gremlins"),
    "trouble as a number": frame(trouble=401),
    "rttMeanMs as a string": frame(rttMeanMs="42"),
    "rttMaxMs over ten minutes": frame(rttMaxMs=600_001),
    "durationSeconds missing": frame(durationSeconds=None),
    "durationSeconds as a boolean": frame(durationSeconds=True),
    "empty call id": frame(call=""),
    "receiveKbps negative": frame(receiveKbps=-1),
}


@pytest.mark.parametrize("text", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_quality_frame_gets_bad_message_and_records_nothing(
    harness: Harness, text: str
) -> None:
    alice, _ = harness.pair(ROOM)
    effects = harness.send_frame(alice, text)
    error = only_error_to(effects, alice)
    assert (error.code, error.id) == (ErrorCode.BAD_MESSAGE, 50)
    assert quality_records(effects) == []


def test_a_well_formed_quality_frame_through_the_same_path_is_recorded(harness: Harness) -> None:
    """The counterpart of the malformed cases: the frame builder itself makes a valid report."""
    alice, _ = harness.pair(ROOM)
    effects = harness.send_frame(alice, frame(lossPercent=100, durationSeconds=0, rttMeanMs=None))
    [record] = quality_records(effects)
    assert (record.loss_percent, record.duration_seconds, record.rtt_mean_ms) == (100, 0, None)
    assert (record.room_session, record.call) == (alice, None)
    assert only_message_to(effects, alice) == QualitySaved(id=50)


def test_quality_before_hello_gets_hello_required(harness: Harness) -> None:
    session = harness.connect()
    effects = harness.send(session, report(None, request_id=51))
    error = only_error_to(effects, session)
    assert (error.code, error.id) == (ErrorCode.HELLO_REQUIRED, 51)


def test_quality_long_after_the_call_ended_gets_call_not_found(harness: Harness) -> None:
    ann, _, _, call = answered(harness)
    harness.send(ann.session, Hangup(call=call))
    harness.now += 301  # the report belongs at hang-up, not whenever
    effects = harness.send(ann.session, report(call, request_id=3))
    assert quality_records(effects) == []
    assert only_error_to(effects, ann.session).code == ErrorCode.CALL_NOT_FOUND


def test_quality_reports_are_rate_limited_per_user(harness: Harness) -> None:
    """Each report is a database row: join/quality/leave cycles must not flood the table."""
    ann = harness.user("Ann")
    stored = 0
    for visit in range(10):
        harness.send(ann.session, Join(room="quality-flood", id=f"j{visit}"))
        stored += len(quality_records(harness.send(ann.session, report(None, request_id=visit))))
        harness.send(ann.session, Leave(id=f"l{visit}"))
    assert stored == 6
    harness.now += 61
    harness.send(ann.session, Join(room="quality-flood", id="again"))
    assert len(quality_records(harness.send(ann.session, report(None, request_id="ok")))) == 1
