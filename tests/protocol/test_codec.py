"""Frames to client messages (and precise refusals), server messages to their documented JSON."""

import json
from typing import Any

import pytest

from parley.protocol.codec import DecodeFailure, decode_client_frame, encode
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    Answer,
    Candidate,
    Error,
    Hello,
    IceCandidate,
    IceServer,
    Join,
    Joined,
    Leave,
    Left,
    Offer,
    PeerJoined,
    PeerLeft,
    PeerReady,
    Ready,
    RelayedAnswer,
    RelayedCandidate,
    RelayedOffer,
    RoomPeer,
    ServerMessage,
    UserInfo,
    Welcome,
)

MAX_SDP = 60_000


def frame(**fields: Any) -> str:
    return json.dumps(fields)


def failure(result: object) -> DecodeFailure:
    assert isinstance(result, DecodeFailure), f"expected a refusal, decoded {result!r}"
    return result


# --- decoding client messages ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (frame(type="hello", v=1), Hello(v=1)),
        (frame(type="hello", v=1, id="h"), Hello(v=1, id="h")),
        (frame(type="join", room="blue-fox", id=1), Join(room="blue-fox", id=1)),
        (frame(type="ready"), Ready()),
        (frame(type="offer", to="s2", sdp="v=0\r\n"), Offer(to="s2", sdp="v=0\r\n")),
        (frame(type="answer", to="s2", sdp="v=0\r\n", id=0), Answer(to="s2", sdp="v=0\r\n", id=0)),
        (
            frame(
                type="candidate",
                to="s2",
                candidate={
                    "candidate": "candidate:1 1 udp 1 192.0.2.1 9 typ host",
                    "sdpMid": "0",
                    "sdpMLineIndex": 0,
                    "usernameFragment": "uf",
                },
            ),
            Candidate(
                to="s2",
                candidate=IceCandidate(
                    candidate="candidate:1 1 udp 1 192.0.2.1 9 typ host",
                    sdpMid="0",
                    sdpMLineIndex=0,
                    usernameFragment="uf",
                ),
            ),
        ),
        (
            frame(type="candidate", to="s2", candidate={"candidate": ""}),
            Candidate(to="s2", candidate=IceCandidate(candidate="")),
        ),
        (frame(type="candidate", to="s2", candidate=None), Candidate(to="s2", candidate=None)),
        (frame(type="leave", id=2), Leave(id=2)),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_each_client_message_type_decodes(text: str, expected: object) -> None:
    assert decode_client_frame(text) == expected
    assert decode_client_frame(text.encode()) == expected


def test_unknown_fields_are_ignored() -> None:
    decoded = decode_client_frame(frame(type="join", room="r", colour="blue", nested={"a": [1]}))
    assert decoded == Join(room="r")


@pytest.mark.parametrize("request_id", ["", "x" * 64, 0, 2**53 - 1, None])
def test_request_ids_at_the_limits_are_accepted(request_id: object) -> None:
    assert decode_client_frame(frame(type="ready", id=request_id)) == Ready(id=request_id)


@pytest.mark.parametrize("room", ["a", "A-z_09", "x" * 64])
def test_room_names_matching_the_pattern_are_accepted(room: str) -> None:
    assert decode_client_frame(frame(type="join", room=room)) == Join(room=room)


def test_sdp_of_exactly_the_limit_is_accepted() -> None:
    sdp = "a" * MAX_SDP
    assert decode_client_frame(frame(type="offer", to="s2", sdp=sdp)) == Offer(to="s2", sdp=sdp)


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ['{"type": "hello", "v": 1', "", "hello", "{'type': 'ready'}"])
def test_invalid_json_is_bad_json(text: str) -> None:
    refused = failure(decode_client_frame(text))
    assert refused.code == ErrorCode.BAD_JSON
    assert refused.request_id is None


def test_trailing_data_after_the_object_is_bad_json() -> None:
    refused = failure(decode_client_frame('{"type": "ready"} {"type": "ready"}'))
    assert refused.code == ErrorCode.BAD_JSON


@pytest.mark.parametrize("text", ["[1, 2]", '"ready"', "42", "null", "true"])
def test_json_that_is_not_an_object_is_bad_message(text: str) -> None:
    refused = failure(decode_client_frame(text))
    assert refused.code == ErrorCode.BAD_MESSAGE
    assert "object" in refused.detail


def test_missing_type_is_bad_message_echoing_the_id() -> None:
    refused = failure(decode_client_frame(frame(v=1, id=4)))
    assert refused.code == ErrorCode.BAD_MESSAGE
    assert refused.request_id == 4
    assert "type" in refused.detail


@pytest.mark.parametrize("kind", [5, None, ["hello"], {"t": "hello"}, True])
def test_non_string_type_is_bad_message_echoing_the_id(kind: object) -> None:
    refused = failure(decode_client_frame(frame(type=kind, id="x")))
    assert refused.code == ErrorCode.BAD_MESSAGE
    assert refused.request_id == "x"
    assert "type" in refused.detail


@pytest.mark.parametrize("kind", ["dance", "welcome", "peer-joined", "HELLO", ""])
def test_unknown_type_is_unknown_type_echoing_the_id(kind: str) -> None:
    refused = failure(decode_client_frame(frame(type=kind, id=9)))
    assert refused.code == ErrorCode.UNKNOWN_TYPE
    assert refused.request_id == 9
    assert repr(kind) in refused.detail


def test_unknown_type_detail_is_cut_short() -> None:
    refused = failure(decode_client_frame(frame(type="x" * 10_000)))
    assert refused.code == ErrorCode.UNKNOWN_TYPE
    assert len(refused.detail) < 100


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({"type": "hello"}, "v"),
        ({"type": "join"}, "room"),
        ({"type": "offer", "sdp": "v=0"}, "to"),
        ({"type": "offer", "to": "s2"}, "sdp"),
        ({"type": "answer", "to": "s2"}, "sdp"),
        ({"type": "candidate", "to": "s2"}, "candidate"),
        ({"type": "candidate", "to": "s2", "candidate": {"sdpMid": "0"}}, "candidate"),
    ],
)
def test_missing_field_is_bad_message_naming_the_field(
    fields: dict[str, Any], missing: str
) -> None:
    refused = failure(decode_client_frame(json.dumps({**fields, "id": 3})))
    assert refused.code == ErrorCode.BAD_MESSAGE
    assert refused.request_id == 3
    assert f"`{missing}`" in refused.detail


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"type": "hello", "v": "1"}, "v"),
        ({"type": "join", "room": 7}, "room"),
        ({"type": "offer", "to": "", "sdp": "v=0"}, "to"),
        ({"type": "offer", "to": "x" * 65, "sdp": "v=0"}, "to"),
        ({"type": "candidate", "to": "s2", "candidate": "candidate:1"}, "candidate"),
        (
            {"type": "candidate", "to": "s2", "candidate": {"candidate": "c", "sdpMLineIndex": -1}},
            "sdpMLineIndex",
        ),
    ],
)
def test_field_of_the_wrong_type_or_range_is_bad_message_naming_it(
    fields: dict[str, Any], field: str
) -> None:
    refused = failure(decode_client_frame(json.dumps({**fields, "id": "q"})))
    assert refused.code == ErrorCode.BAD_MESSAGE
    assert refused.request_id == "q"
    assert field in refused.detail


@pytest.mark.parametrize(
    "room", ["", "has space", "x" * 65, "caf\u00e9", "a/b", "a.b", "line\nbreak", "r\u0000"]
)
def test_room_name_outside_the_pattern_is_bad_message(room: str) -> None:
    refused = failure(decode_client_frame(frame(type="join", room=room, id=1)))
    assert refused.code == ErrorCode.BAD_MESSAGE
    assert refused.request_id == 1
    assert "room" in refused.detail


@pytest.mark.parametrize("kind", ["offer", "answer"])
def test_sdp_longer_than_60000_characters_is_bad_message(kind: str) -> None:
    refused = failure(decode_client_frame(frame(type=kind, to="s2", sdp="a" * (MAX_SDP + 1))))
    assert refused.code == ErrorCode.BAD_MESSAGE
    assert "sdp" in refused.detail


@pytest.mark.parametrize("request_id", [[1], {"n": 1}, True, 1.5, -1, 2**53, "x" * 65], ids=repr)
def test_an_invalid_id_makes_the_message_bad_and_is_not_echoed(request_id: object) -> None:
    refused = failure(decode_client_frame(frame(type="join", room="r", id=request_id)))
    assert refused.code == ErrorCode.BAD_MESSAGE
    assert refused.request_id is None
    assert "id" in refused.detail


def test_an_invalid_id_is_not_echoed_with_other_errors_either() -> None:
    refused = failure(decode_client_frame(frame(type="dance", id=[1])))
    assert refused.code == ErrorCode.UNKNOWN_TYPE
    assert refused.request_id is None


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfe",
        b'{"type": "ready", "id": 1}\xff',
        b'{"type": "join", "room": "\xff"}',
        b'{"type": "ready", "id": "\xc3\x28"}',
        b'{"type": "offer", "to": "s2", "sdp": "v=0\xff"}',
        b'{"\xff": 1, "type": "ready"}',
        b'{"type": "ready", "note": "\xff"}',
    ],
    ids=[
        "garbage",
        "after-the-object",
        "in-room",
        "in-id",
        "in-sdp",
        "in-a-key",
        "in-an-ignored-field",
    ],
)
def test_bytes_that_are_not_utf8_are_bad_json(data: bytes) -> None:
    refused = failure(decode_client_frame(data))
    assert refused.code == ErrorCode.BAD_JSON
    assert refused.request_id is None


def test_deeply_nested_json_is_answered_not_raised() -> None:
    """20 KiB of brackets is well within the frame limit; it must not escape as an exception."""
    depth = 10_000
    text = '{"type": "ready", "id": 1, "note": ' + "[" * depth + "]" * depth + "}"
    result = decode_client_frame(text)
    assert result == Ready(id=1) or isinstance(result, DecodeFailure)


# --- encoding server messages ---------------------------------------------------------------


def as_json(message: ServerMessage) -> Any:
    data = encode(message)
    assert isinstance(data, bytes)
    return json.loads(data)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            Welcome(
                v=1,
                session="abc",
                user=UserInfo(id="u1", name="Ana"),
                maxMessageBytes=65536,
                iceServers=[],
            ),
            {
                "type": "welcome",
                "v": 1,
                "session": "abc",
                "user": {"id": "u1", "name": "Ana"},
                "maxMessageBytes": 65536,
                "iceServers": [],
            },
        ),
        (
            Welcome(
                v=1,
                session="abc",
                user=UserInfo(id="u1", name="Ana"),
                maxMessageBytes=1024,
                iceServers=[
                    IceServer(urls=["stun:stun.example.org"]),
                    IceServer(urls=["turn:t.example.org"], username="u", credential="p"),
                ],
            ),
            {
                "type": "welcome",
                "v": 1,
                "session": "abc",
                "user": {"id": "u1", "name": "Ana"},
                "maxMessageBytes": 1024,
                "iceServers": [
                    {"urls": ["stun:stun.example.org"]},
                    {"urls": ["turn:t.example.org"], "username": "u", "credential": "p"},
                ],
            },
        ),
        (
            Joined(
                id=1,
                room="blue-fox",
                created=False,
                capacity=2,
                peers=[RoomPeer(id="a", ready=True)],
            ),
            {
                "type": "joined",
                "id": 1,
                "room": "blue-fox",
                "created": False,
                "capacity": 2,
                "peers": [{"id": "a", "ready": True}],
            },
        ),
        (
            Joined(room="blue-fox", created=True, capacity=2, peers=[]),
            {"type": "joined", "room": "blue-fox", "created": True, "capacity": 2, "peers": []},
        ),
        (PeerJoined(peer="b"), {"type": "peer-joined", "peer": "b"}),
        (PeerReady(peer="b"), {"type": "peer-ready", "peer": "b"}),
        (PeerLeft(peer="b", reason="left"), {"type": "peer-left", "peer": "b", "reason": "left"}),
        (
            PeerLeft(peer="b", reason="disconnected"),
            {"type": "peer-left", "peer": "b", "reason": "disconnected"},
        ),
        (RelayedOffer(from_="a", sdp="v=0"), {"type": "offer", "from": "a", "sdp": "v=0"}),
        (RelayedAnswer(from_="a", sdp="v=0"), {"type": "answer", "from": "a", "sdp": "v=0"}),
        (
            RelayedCandidate(from_="a", candidate=IceCandidate(candidate="c", sdpMid="0")),
            {"type": "candidate", "from": "a", "candidate": {"candidate": "c", "sdpMid": "0"}},
        ),
        (
            RelayedCandidate(from_="a", candidate=None),
            {"type": "candidate", "from": "a", "candidate": None},
        ),
        (Left(id="x", room="blue-fox"), {"type": "left", "id": "x", "room": "blue-fox"}),
        (Left(room="blue-fox"), {"type": "left", "room": "blue-fox"}),
        (
            Error(id=0, code=ErrorCode.ROOM_FULL, message="the room is full"),
            {"type": "error", "id": 0, "code": "room-full", "message": "the room is full"},
        ),
        (
            Error(code=ErrorCode.BAD_JSON, message="not JSON"),
            {"type": "error", "code": "bad-json", "message": "not JSON"},
        ),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, ServerMessage) else "",
)
def test_server_messages_encode_to_the_documented_json(
    message: ServerMessage, expected: dict[str, Any]
) -> None:
    assert as_json(message) == expected


def test_relayed_messages_never_leak_the_python_field_name() -> None:
    for message in (
        RelayedOffer(from_="a", sdp="v=0"),
        RelayedAnswer(from_="a", sdp="v=0"),
        RelayedCandidate(from_="a", candidate=None),
    ):
        encoded = as_json(message)
        assert encoded["from"] == "a"
        assert "from_" not in encoded


def test_welcome_always_carries_ice_servers_even_when_empty() -> None:
    encoded = as_json(
        Welcome(
            v=1, session="abc", user=UserInfo(id="u", name=""), maxMessageBytes=1, iceServers=[]
        )
    )
    assert "iceServers" in encoded
    assert encoded["iceServers"] == []


def test_encoded_frames_are_compact_utf8_json() -> None:
    data = encode(PeerJoined(peer="\u00e9"))
    assert data == '{"type":"peer-joined","peer":"\u00e9"}'.encode()
