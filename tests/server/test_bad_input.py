"""Every kind of bad input gets a stable error code, and the connection lives on.

Each test proves the connection survived by making a valid request afterwards and checking its
answer; a server that closed or wedged the socket would fail there.
"""

import json
import logging
import time
from typing import Any

import pytest

from parley.config import ServerSettings
from parley.core.signaling import CoreSettings

from .helpers import (
    HELLO,
    Client,
    ConnectWs,
    OpenRaw,
    Peer,
    StartServer,
    assert_error,
    assert_silent,
    hello,
    join,
    join_pair,
    receive_close,
    receive_json,
    send_json,
)

MAX_MESSAGE_BYTES = 64 * 1024


async def assert_still_serving(peer: Peer, room: str = "proof-of-life") -> None:
    joined = await join(peer, room, request_id="alive")
    assert joined["created"] is True


def padded_frame(size: int) -> str:
    """A JSON text frame of exactly `size` bytes whose type no server knows."""
    skeleton = '{"type":"padding","pad":""}'
    frame = skeleton[:-2] + "x" * (size - len(skeleton)) + '"}'
    assert len(frame.encode()) == size
    return frame


# --- frames that are not messages -------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code", "request_id"),
    [
        pytest.param('{"type": "join", "room": ', "bad-json", None, id="truncated-json"),
        pytest.param("not json at all", "bad-json", None, id="plain-text"),
        pytest.param("", "bad-json", None, id="empty-frame"),
        pytest.param('[{"type": "join", "room": "x"}]', "bad-message", None, id="json-array"),
        pytest.param('"join"', "bad-message", None, id="json-string"),
        pytest.param("42", "bad-message", None, id="json-number"),
        pytest.param("null", "bad-message", None, id="json-null"),
        pytest.param('{"id": 3}', "bad-message", 3, id="missing-type"),
        pytest.param('{"type": 7, "id": 3}', "bad-message", 3, id="type-not-a-string"),
        pytest.param('{"type": "dance", "id": 5}', "unknown-type", 5, id="unknown-type"),
        pytest.param('{"type": "JOIN", "room": "x", "id": "u"}', "unknown-type", "u", id="case"),
        pytest.param('{"type": "dance", "id": -1}', "unknown-type", None, id="negative-id"),
        pytest.param(
            json.dumps({"type": "dance", "id": "i" * 65}), "unknown-type", None, id="long-id"
        ),
        pytest.param('{"type": "dance", "id": 1.5}', "unknown-type", None, id="float-id"),
        # A couple of KB of brackets, well inside the frame limit.
        pytest.param("[" * 2000 + "]" * 2000, "bad-message", None, id="deeply-nested-array"),
        pytest.param(
            # Too deep to decode at all, so even the id cannot be read back.
            '{"type": "join", "id": 6, "room": ' + "[" * 2000 + "]" * 2000 + "}",
            "bad-message",
            None,
            id="deeply-nested-field",
        ),
    ],
)
async def test_unreadable_frame_gets_error_and_connection_lives(
    server: str, client: Client, frame: str, code: str, request_id: Any
) -> None:
    peer = await client(server)
    await peer.ws.send_str(frame)
    assert_error(await receive_json(peer.ws), code, request_id)
    await assert_still_serving(peer)


async def test_binary_frame_gets_binary_frame_error(server: str, client: Client) -> None:
    peer = await client(server)
    # Even a perfectly good message is refused when it arrives as a binary frame.
    await peer.ws.send_bytes(json.dumps({"type": "join", "room": "bin", "id": 1}).encode())
    assert_error(await receive_json(peer.ws), "binary-frame")
    await assert_still_serving(peer, room="bin")


@pytest.mark.parametrize(
    ("message", "field"),
    [
        pytest.param({"type": "join", "id": "j1"}, "room", id="join-without-room"),
        pytest.param({"type": "join", "room": 123, "id": "j1"}, "room", id="room-not-a-string"),
        pytest.param({"type": "join", "room": "a b", "id": "j1"}, "room", id="room-with-space"),
        pytest.param({"type": "join", "room": "", "id": "j1"}, "room", id="empty-room"),
        pytest.param({"type": "join", "room": "r" * 65, "id": "j1"}, "room", id="room-too-long"),
        pytest.param({"type": "offer", "sdp": "v=0", "id": "j1"}, "to", id="offer-without-to"),
        pytest.param({"type": "offer", "to": "x", "id": "j1"}, "sdp", id="offer-without-sdp"),
        pytest.param({"type": "offer", "to": 5, "sdp": "v=0", "id": "j1"}, "to", id="to-number"),
        pytest.param({"type": "offer", "to": "", "sdp": "v=0", "id": "j1"}, "to", id="empty-to"),
        pytest.param(
            {"type": "answer", "to": "x", "sdp": ["v=0"], "id": "j1"}, "sdp", id="sdp-not-a-string"
        ),
        pytest.param(
            {"type": "answer", "to": "x", "sdp": "s" * 60_001, "id": "j1"}, "sdp", id="sdp-too-long"
        ),
        pytest.param({"type": "candidate", "to": "x", "id": "j1"}, "candidate", id="no-candidate"),
        pytest.param(
            {"type": "candidate", "to": "x", "candidate": "c", "id": "j1"},
            "candidate",
            id="candidate-not-an-object",
        ),
        pytest.param(
            {"type": "candidate", "to": "x", "candidate": {"sdpMid": "0"}, "id": "j1"},
            "candidate",
            id="candidate-without-candidate-line",
        ),
        pytest.param({"type": "hello", "v": "1", "id": "j1"}, "v", id="version-not-an-integer"),
    ],
)
async def test_invalid_message_gets_bad_message_naming_the_field(
    server: str, client: Client, message: dict[str, Any], field: str
) -> None:
    peer = await client(server)
    await send_json(peer.ws, message)
    error = await receive_json(peer.ws)
    assert_error(error, "bad-message", "j1")
    assert field in error["message"]
    await assert_still_serving(peer)


async def test_unknown_fields_are_ignored(server: str, client: Client) -> None:
    peer = await client(server)
    await send_json(peer.ws, {"type": "join", "room": "extra", "id": 1, "colour": "blue"})
    joined = await receive_json(peer.ws)
    assert joined["type"] == "joined"
    assert joined["created"] is True


# --- the hello handshake --------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        pytest.param({"type": "join", "room": "early", "id": 7}, id="join"),
        pytest.param({"type": "ready", "id": 7}, id="ready"),
        pytest.param({"type": "offer", "to": "x", "sdp": "v=0", "id": 7}, id="offer"),
        pytest.param({"type": "leave", "id": 7}, id="leave"),
    ],
)
async def test_message_before_hello_gets_hello_required(
    server: str, connect_ws: ConnectWs, message: dict[str, Any]
) -> None:
    ws = await connect_ws(server)
    await send_json(ws, message)
    assert_error(await receive_json(ws), "hello-required", 7)

    peer = Peer(ws, await hello(ws))
    # The refused join must not have put this session in a room.
    await assert_still_serving(peer, room="early")


async def test_second_hello_gets_already_welcomed(server: str, client: Client) -> None:
    peer = await client(server)
    await send_json(peer.ws, {**HELLO, "id": "again"})
    assert_error(await receive_json(peer.ws), "already-welcomed", "again")
    await assert_still_serving(peer)


@pytest.mark.parametrize("version", [0, 2, 99])
async def test_wrong_version_gets_unsupported_version(
    server: str, connect_ws: ConnectWs, version: int
) -> None:
    ws = await connect_ws(server)
    await send_json(ws, {"type": "hello", "v": version, "id": "h"})
    error = await receive_json(ws)
    assert_error(error, "unsupported-version", "h")
    # The refusal leaves the session unwelcomed, so hello v1 still works.
    await send_json(ws, {"type": "join", "room": "x", "id": "j"})
    assert_error(await receive_json(ws), "hello-required", "j")
    await assert_still_serving(Peer(ws, await hello(ws)))


# --- room rules -------------------------------------------------------------------------------


async def test_join_while_joined_gets_already_joined_and_changes_nothing(
    server: str, client: Client
) -> None:
    alice, bob = await client(server), await client(server)
    await join(alice, "first")

    await send_json(alice.ws, {"type": "join", "room": "second", "id": "again"})
    assert_error(await receive_json(alice.ws), "already-joined", "again")

    # The refused join did not create "second", and Alice is still in "first".
    joined = await join(bob, "second")
    assert joined["created"] is True
    await send_json(alice.ws, {"type": "leave", "id": "bye"})
    assert await receive_json(alice.ws) == {"type": "left", "id": "bye", "room": "first"}


async def test_join_same_room_twice_gets_already_joined(server: str, client: Client) -> None:
    alice = await client(server)
    await join(alice, "twice")
    await send_json(alice.ws, {"type": "join", "room": "twice", "id": 2})
    assert_error(await receive_json(alice.ws), "already-joined", 2)
    await send_json(alice.ws, {"type": "leave", "id": 3})
    assert await receive_json(alice.ws) == {"type": "left", "id": 3, "room": "twice"}


@pytest.mark.parametrize(
    "message",
    [
        pytest.param({"type": "ready", "id": 4}, id="ready"),
        pytest.param({"type": "leave", "id": 4}, id="leave"),
    ],
)
async def test_ready_or_leave_outside_a_room_gets_not_in_room(
    server: str, client: Client, message: dict[str, Any]
) -> None:
    peer = await client(server)
    await send_json(peer.ws, message)
    assert_error(await receive_json(peer.ws), "not-in-room", 4)
    await assert_still_serving(peer)


@pytest.mark.parametrize(
    "message",
    [
        pytest.param({"type": "offer", "sdp": "v=0"}, id="offer"),
        pytest.param({"type": "answer", "sdp": "v=0"}, id="answer"),
        pytest.param({"type": "candidate", "candidate": None}, id="candidate"),
    ],
)
async def test_relay_outside_a_room_gets_peer_not_found(
    server: str, client: Client, message: dict[str, Any]
) -> None:
    sender, other = await client(server), await client(server)
    # Outside a room no session is a valid target, not even one that exists.
    await send_json(sender.ws, {**message, "to": other.session, "id": 4})
    assert_error(await receive_json(sender.ws), "peer-not-found", 4)
    await assert_still_serving(sender)
    await assert_still_serving(other, room="other-room")


@pytest.mark.parametrize(
    "relay",
    [
        pytest.param({"type": "offer", "sdp": "v=0"}, id="offer"),
        pytest.param({"type": "answer", "sdp": "v=0"}, id="answer"),
        pytest.param({"type": "candidate", "candidate": None}, id="candidate"),
    ],
)
async def test_relay_to_unknown_session_gets_peer_not_found(
    server: str, client: Client, relay: dict[str, Any]
) -> None:
    alice, bob = await client(server), await client(server)
    await join_pair(alice, bob, "relay-room")

    await send_json(alice.ws, {**relay, "to": "AAAAAAAAAAAAAAAAAAAAAA", "id": "r1"})
    assert_error(await receive_json(alice.ws), "peer-not-found", "r1")

    # A valid relay right after still goes through, and it is the first thing Bob hears.
    await send_json(alice.ws, {**relay, "to": bob.session})
    relayed = await receive_json(bob.ws)
    assert relayed["type"] == relay["type"]
    assert relayed["from"] == alice.session


async def test_relay_to_session_in_another_room_gets_peer_not_found_and_is_not_delivered(
    server: str, client: Client
) -> None:
    alice, bob, stranger = await client(server), await client(server), await client(server)
    await join_pair(alice, bob, "here")
    await join(stranger, "elsewhere")

    for kind, payload in (("offer", {"sdp": "v=0"}), ("candidate", {"candidate": None})):
        await send_json(alice.ws, {"type": kind, "to": stranger.session, "id": kind, **payload})
        # Same answer as for an id that does not exist, so ids in other rooms cannot be probed.
        assert_error(await receive_json(alice.ws), "peer-not-found", kind)

    # Alice's refusals came back first, so any leaked relay would already sit in the target's
    # queue ahead of the reply to this request.
    await send_json(stranger.ws, {"type": "leave", "id": "probe"})
    assert await receive_json(stranger.ws) == {
        "type": "left",
        "id": "probe",
        "room": "elsewhere",
    }


async def test_relay_to_session_not_in_any_room_gets_peer_not_found(
    server: str, client: Client
) -> None:
    alice, bob, loner = await client(server), await client(server), await client(server)
    await join_pair(alice, bob, "pair")

    await send_json(alice.ws, {"type": "offer", "to": loner.session, "sdp": "v=0", "id": 1})
    assert_error(await receive_json(alice.ws), "peer-not-found", 1)
    await assert_still_serving(loner)


async def test_relay_to_yourself_gets_peer_not_found(server: str, client: Client) -> None:
    alice, bob = await client(server), await client(server)
    await join_pair(alice, bob, "mirror")

    await send_json(alice.ws, {"type": "offer", "to": alice.session, "sdp": "v=0", "id": 1})
    assert_error(await receive_json(alice.ws), "peer-not-found", 1)
    await send_json(alice.ws, {"type": "leave", "id": 2})
    assert await receive_json(alice.ws) == {"type": "left", "id": 2, "room": "mirror"}


async def test_relay_to_peer_that_left_gets_peer_not_found(server: str, client: Client) -> None:
    alice, bob = await client(server), await client(server)
    await join_pair(alice, bob, "gone")
    await send_json(bob.ws, {"type": "leave"})
    assert (await receive_json(bob.ws))["type"] == "left"
    assert (await receive_json(alice.ws))["type"] == "peer-left"

    await send_json(alice.ws, {"type": "answer", "to": bob.session, "sdp": "v=0", "id": 9})
    assert_error(await receive_json(alice.ws), "peer-not-found", 9)
    await assert_still_serving(bob)


# --- frame size -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(MAX_MESSAGE_BYTES + 1, id="one-byte-over"),
        pytest.param(4 * MAX_MESSAGE_BYTES, id="four-times-the-limit"),
    ],
)
async def test_oversized_frame_closes_with_1009_and_server_keeps_serving(
    server: str, client: Client, size: int
) -> None:
    peer = await client(server)
    await peer.ws.send_str(padded_frame(size))
    assert await receive_close(peer.ws) == 1009

    await assert_still_serving(await client(server))


async def test_frame_just_under_the_limit_is_read(server: str, client: Client) -> None:
    peer = await client(server)
    await peer.ws.send_str(padded_frame(MAX_MESSAGE_BYTES - 1))
    assert_error(await receive_json(peer.ws), "unknown-type")
    await assert_still_serving(peer)


async def test_frame_of_exactly_max_message_bytes_is_read(server: str, client: Client) -> None:
    peer = await client(server)
    await peer.ws.send_str(padded_frame(MAX_MESSAGE_BYTES))
    # docs/protocol.md: "A frame may be at most `maxMessageBytes`"; only a larger one closes.
    assert_error(await receive_json(peer.ws), "unknown-type")
    await assert_still_serving(peer)


async def test_largest_valid_sdp_is_relayed_whole(server: str, client: Client) -> None:
    alice, bob = await client(server), await client(server)
    await join_pair(alice, bob, "big-sdp")
    sdp = "a=" + "z" * (60_000 - 2)

    await send_json(alice.ws, {"type": "offer", "to": bob.session, "sdp": sdp})
    relayed = await receive_json(bob.ws)
    assert relayed["sdp"] == sdp


# --- deadlines, logging, floods ----------------------------------------------------------------

QUICK_HELLO = ServerSettings(core=CoreSettings(hello_timeout=0.3))


async def test_silent_client_is_closed_with_4408(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    base_url = await start_server(QUICK_HELLO)
    ws = await connect_ws(base_url)
    started = time.monotonic()
    assert await receive_close(ws, timeout=5) == 4408
    assert time.monotonic() - started >= 0.25


async def test_client_sending_only_garbage_is_still_closed_with_4408(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    base_url = await start_server(QUICK_HELLO)
    ws = await connect_ws(base_url)
    await send_json(ws, {"type": "join", "room": "x"})
    assert_error(await receive_json(ws), "hello-required")
    assert await receive_close(ws, timeout=5) == 4408


async def test_welcomed_client_outlives_the_hello_deadline(
    start_server: StartServer, client: Client
) -> None:
    base_url = await start_server(QUICK_HELLO)
    peer = await client(base_url)
    await assert_silent(peer.ws, seconds=0.8)
    await assert_still_serving(peer)


async def test_sdp_is_never_logged(
    server: str, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = "SDP-MARKER-7f3a9c1e"
    sdp = f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns={marker}\r\n"
    alice, bob = await client(server), await client(server)
    await join_pair(alice, bob, "private")

    await send_json(alice.ws, {"type": "offer", "to": bob.session, "sdp": sdp})
    assert (await receive_json(bob.ws))["sdp"] == sdp
    await send_json(bob.ws, {"type": "answer", "to": alice.session, "sdp": sdp})
    assert (await receive_json(alice.ws))["sdp"] == sdp
    # Refused relays and invalid messages take the error paths, which must not log bodies either.
    await send_json(alice.ws, {"type": "offer", "to": "nobody", "sdp": sdp, "id": 1})
    assert_error(await receive_json(alice.ws), "peer-not-found", 1)
    await send_json(alice.ws, {"type": "offer", "to": bob.session, "sdp": [sdp], "id": 2})
    assert_error(await receive_json(alice.ws), "bad-message", 2)
    await alice.ws.send_str(f'{{"type": "offer", "sdp": "{marker}"')
    assert_error(await receive_json(alice.ws), "bad-json")
    await alice.ws.close()
    assert (await receive_json(bob.ws))["type"] == "peer-left"

    leaked = [
        record
        for record in caplog.records
        if marker in record.getMessage() or marker in str(record.exc_info or "")
    ]
    assert leaked == []


# These floods test bad input, not the message-rate limit (tests/server/test_limits.py).
UNLIMITED = ServerSettings(messages_per_second=1e9, message_burst=1e9)


async def test_flood_of_malformed_frames_does_not_hurt_the_server(
    start_server: StartServer, client: Client
) -> None:
    server = await start_server(UNLIMITED)
    flooder = await client(server)
    count = 2000
    for index in range(count):
        await flooder.ws.send_str("{not json" if index % 2 else '{"type": "dance"}')
    deadline = time.monotonic() + 20
    for index in range(count):
        assert time.monotonic() < deadline, f"only {index} of {count} errors came back"
        error = await receive_json(flooder.ws, timeout=5)
        assert error["code"] == ("bad-json" if index % 2 else "unknown-type")

    await assert_still_serving(await client(server))
    await assert_still_serving(flooder, room="flooder-room")


async def test_flood_of_binary_frames_does_not_hurt_the_server(
    start_server: StartServer, client: Client
) -> None:
    server = await start_server(UNLIMITED)
    flooder = await client(server)
    count = 500
    for _ in range(count):
        await flooder.ws.send_bytes(b"\x00\xff" * 32)
    for _ in range(count):
        assert_error(await receive_json(flooder.ws, timeout=5), "binary-frame")
    await assert_still_serving(await client(server))


async def test_client_that_vanishes_mid_frame_leaves_the_server_serving(
    server: str, raw_ws: OpenRaw, client: Client
) -> None:
    raw = await raw_ws(server)
    assert (await raw.read_handshake()).startswith(b"HTTP/1.1 101")
    await raw.send_text(json.dumps(HELLO))
    # A masked text frame header announcing 4096 bytes, a little of the payload, then a reset.
    await raw.send_raw(b"\x81\xfe\x10\x00" + b"\x00\x00\x00\x00" + b"x" * 100)
    raw.abort()

    await assert_still_serving(await client(server))
