"""offer / answer / candidate: relayed to `to`, stamped with the sender's real session id."""

import json

import pytest

from parley.core.effects import Send
from parley.core.signaling import CoreSettings
from parley.protocol.codec import decode_client_frame, encode
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    Answer,
    Candidate,
    IceCandidate,
    Join,
    Leave,
    Offer,
    RelayedAnswer,
    RelayedCandidate,
    RelayedOffer,
)
from tests.core.helpers import Harness, messages_to, only_error_to, only_message_to, recipients

ROOM = "blue-fox"
SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
ICE = IceCandidate(
    candidate="candidate:1 1 udp 2122260223 192.0.2.10 54400 typ host",
    sdpMid="0",
    sdpMLineIndex=0,
    usernameFragment="abcd",
)


def relay_to(kind: str, to: str, request_id: int | None = None) -> Offer | Answer | Candidate:
    """A client relay message of `kind` addressed to `to`."""
    match kind:
        case "offer":
            return Offer(to=to, sdp=SDP, id=request_id)
        case "answer":
            return Answer(to=to, sdp=SDP, id=request_id)
        case "candidate":
            return Candidate(to=to, candidate=ICE, id=request_id)
    raise ValueError(kind)


def relayed_from(kind: str, sender: str) -> RelayedOffer | RelayedAnswer | RelayedCandidate:
    """What the addressee should receive for relay_to(kind, ...) sent by `sender`."""
    match kind:
        case "offer":
            return RelayedOffer(from_=sender, sdp=SDP)
        case "answer":
            return RelayedAnswer(from_=sender, sdp=SDP)
        case "candidate":
            return RelayedCandidate(from_=sender, candidate=ICE)
    raise ValueError(kind)


KINDS = ["offer", "answer", "candidate"]


# --- relaying -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_relay_goes_to_the_addressee_stamped_with_the_sender(harness: Harness, kind: str) -> None:
    alice, bob = harness.pair(ROOM)
    effects = harness.send(alice, relay_to(kind, bob, request_id=1))
    assert effects == [Send(bob, relayed_from(kind, alice))]


@pytest.mark.parametrize("kind", KINDS)
def test_relay_works_in_both_directions(harness: Harness, kind: str) -> None:
    alice, bob = harness.pair(ROOM)
    effects = harness.send(bob, relay_to(kind, alice))
    assert effects == [Send(alice, relayed_from(kind, bob))]


@pytest.mark.parametrize("kind", KINDS)
def test_relay_reaches_only_the_addressee_in_a_bigger_room(kind: str) -> None:
    harness = Harness(CoreSettings(room_capacity=3))
    alice, bob = harness.pair(ROOM)
    carol = harness.in_room(ROOM)
    effects = harness.send(alice, relay_to(kind, carol))
    assert recipients(effects) == {carol}
    assert messages_to(effects, bob) == []


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"offer","to":"%(to)s","from":"%(forged)s","sdp":"v=0"}',
        '{"type":"answer","from":"%(forged)s","to":"%(to)s","sdp":"v=0"}',
        '{"type":"candidate","to":"%(to)s","from":"%(forged)s","candidate":null}',
    ],
    ids=KINDS,
)
def test_a_from_written_by_the_client_is_ignored(frame: str) -> None:
    harness = Harness(CoreSettings(room_capacity=3))
    alice, bob = harness.pair(ROOM)
    carol = harness.in_room(ROOM)
    decoded = decode_client_frame(frame % {"to": bob, "forged": carol})
    assert isinstance(decoded, Offer | Answer | Candidate)
    relayed = only_message_to(harness.send(alice, decoded), bob)
    assert isinstance(relayed, RelayedOffer | RelayedAnswer | RelayedCandidate)
    assert relayed.from_ == alice
    assert json.loads(encode(relayed))["from"] == alice


def test_candidate_null_is_relayed_as_end_of_gathering(harness: Harness) -> None:
    alice, bob = harness.pair(ROOM)
    effects = harness.send(alice, Candidate(to=bob, candidate=None))
    assert effects == [Send(bob, RelayedCandidate(from_=alice, candidate=None))]
    assert json.loads(encode(effects[0].message)) == {
        "type": "candidate",
        "from": alice,
        "candidate": None,
    }


def test_sdp_is_relayed_untouched(harness: Harness) -> None:
    alice, bob = harness.pair(ROOM)
    sdp = SDP + 'a=fingerprint:sha-256 AB:CD\r\na=tool:\u00e9\u00e8 "quoted" \\ \r\n'
    relayed = only_message_to(harness.send(alice, Offer(to=bob, sdp=sdp)), bob)
    assert isinstance(relayed, RelayedOffer)
    assert relayed.sdp == sdp
    assert json.loads(encode(relayed))["sdp"] == sdp


# --- peer-not-found -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_relay_to_self_gets_peer_not_found(harness: Harness, kind: str) -> None:
    alice, _bob = harness.pair(ROOM)
    error = only_error_to(harness.send(alice, relay_to(kind, alice, request_id=11)), alice)
    assert error.code == ErrorCode.PEER_NOT_FOUND
    assert error.id == 11


@pytest.mark.parametrize("kind", KINDS)
def test_relay_to_an_unknown_id_gets_peer_not_found(harness: Harness, kind: str) -> None:
    alice, _bob = harness.pair(ROOM)
    error = only_error_to(harness.send(alice, relay_to(kind, "no-such-session", 12)), alice)
    assert error.code == ErrorCode.PEER_NOT_FOUND
    assert error.id == 12


@pytest.mark.parametrize("kind", KINDS)
def test_relay_to_a_session_in_another_room_gets_peer_not_found(
    harness: Harness, kind: str
) -> None:
    alice = harness.in_room("red")
    stranger = harness.in_room("green")
    effects = harness.send(alice, relay_to(kind, stranger, request_id=13))
    assert messages_to(effects, stranger) == []
    error = only_error_to(effects, alice)
    assert error.code == ErrorCode.PEER_NOT_FOUND
    assert error.id == 13


@pytest.mark.parametrize("kind", KINDS)
def test_relay_to_a_session_in_no_room_gets_peer_not_found(harness: Harness, kind: str) -> None:
    alice = harness.in_room(ROOM)
    loner = harness.welcomed()
    effects = harness.send(alice, relay_to(kind, loner, request_id=14))
    assert messages_to(effects, loner) == []
    assert only_error_to(effects, alice).code == ErrorCode.PEER_NOT_FOUND


def test_unknown_ids_and_other_rooms_get_the_same_answer(harness: Harness) -> None:
    """Ids cannot be probed: a stranger elsewhere looks exactly like nobody at all."""
    alice = harness.in_room("red")
    stranger = harness.in_room("green")
    to_stranger = only_error_to(harness.send(alice, Offer(to=stranger, sdp=SDP, id=1)), alice)
    to_nobody = only_error_to(harness.send(alice, Offer(to="nobody", sdp=SDP, id=1)), alice)
    assert to_stranger == to_nobody


@pytest.mark.parametrize("kind", KINDS)
def test_relay_after_the_peer_left_gets_peer_not_found(harness: Harness, kind: str) -> None:
    alice, bob = harness.pair(ROOM)
    harness.send(bob, Leave())
    effects = harness.send(alice, relay_to(kind, bob, request_id=15))
    assert messages_to(effects, bob) == []
    error = only_error_to(effects, alice)
    assert error.code == ErrorCode.PEER_NOT_FOUND
    assert error.id == 15


@pytest.mark.parametrize("kind", KINDS)
def test_relay_after_the_peer_disconnected_gets_peer_not_found(harness: Harness, kind: str) -> None:
    alice, bob = harness.pair(ROOM)
    harness.disconnect(bob)
    error = only_error_to(harness.send(alice, relay_to(kind, bob, request_id=16)), alice)
    assert error.code == ErrorCode.PEER_NOT_FOUND
    assert error.id == 16


def test_relay_to_a_peer_that_left_and_joined_another_room_gets_peer_not_found(
    harness: Harness,
) -> None:
    alice, bob = harness.pair(ROOM)
    harness.send(bob, Leave())
    harness.send(bob, Join(room="elsewhere"))
    assert harness.room_members("elsewhere") == [bob]
    effects = harness.send(alice, Offer(to=bob, sdp=SDP))
    assert messages_to(effects, bob) == []
    assert only_error_to(effects, alice).code == ErrorCode.PEER_NOT_FOUND


@pytest.mark.parametrize("kind", KINDS)
def test_relay_from_a_session_that_left_gets_peer_not_found(harness: Harness, kind: str) -> None:
    alice, bob = harness.pair(ROOM)
    harness.send(alice, Leave())
    effects = harness.send(alice, relay_to(kind, bob, request_id=17))
    assert messages_to(effects, bob) == []
    error = only_error_to(effects, alice)
    assert error.code == ErrorCode.PEER_NOT_FOUND
    assert error.id == 17
