"""A whole 1:1 call through the server: join, ready, relays, leave, disconnect, full rooms."""

from .helpers import (
    Client,
    ConnectWs,
    Peer,
    assert_error,
    join,
    join_pair,
    receive_json,
    send_json,
    wait_closed,
)

SDP_OFFER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
SDP_ANSWER = "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
CANDIDATE = {
    "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
    "usernameFragment": "abcd",
}


async def exchange_offer_answer_candidates(caller: Peer, callee: Peer) -> None:
    """One negotiation; every relayed frame must name its real sender in `from`."""
    await send_json(caller.ws, {"type": "offer", "to": callee.session, "sdp": SDP_OFFER})
    assert await receive_json(callee.ws) == {
        "type": "offer",
        "from": caller.session,
        "sdp": SDP_OFFER,
    }
    await send_json(callee.ws, {"type": "answer", "to": caller.session, "sdp": SDP_ANSWER})
    assert await receive_json(caller.ws) == {
        "type": "answer",
        "from": callee.session,
        "sdp": SDP_ANSWER,
    }
    await send_json(caller.ws, {"type": "candidate", "to": callee.session, "candidate": CANDIDATE})
    assert await receive_json(callee.ws) == {
        "type": "candidate",
        "from": caller.session,
        "candidate": CANDIDATE,
    }
    await send_json(callee.ws, {"type": "candidate", "to": caller.session, "candidate": None})
    assert await receive_json(caller.ws) == {
        "type": "candidate",
        "from": callee.session,
        "candidate": None,
    }


async def test_each_connection_gets_its_own_random_session_id(server: str, client: Client) -> None:
    peers = [await client(server) for _ in range(5)]
    sessions = {peer.session for peer in peers}
    assert len(sessions) == len(peers)
    # 128 random bits in URL-safe base64 take 22 characters.
    for session in sessions:
        assert len(session) >= 22
        assert session.replace("-", "").replace("_", "").isalnum()


async def test_welcome_tells_protocol_version_and_frame_limit(
    server: str, connect_ws: ConnectWs
) -> None:
    ws = await connect_ws(server)
    await send_json(ws, {"type": "hello", "v": 1, "id": "h1"})
    welcome = await receive_json(ws)
    assert welcome["type"] == "welcome"
    assert welcome["v"] == 1
    assert welcome["maxMessageBytes"] == 64 * 1024
    assert welcome["iceServers"] == []


async def test_two_clients_join_and_see_each_other(server: str, client: Client) -> None:
    alice, bob = await client(server), await client(server)

    first = await join(alice, "blue-fox", request_id=1)
    assert first["created"] is True
    assert first["capacity"] == 2
    assert first["peers"] == []

    second = await join(bob, "blue-fox", request_id="b-join")
    assert second["created"] is False
    assert second["peers"] == [{"id": alice.session, "ready": False}]
    assert await receive_json(alice.ws) == {"type": "peer-joined", "peer": bob.session}


async def test_joined_reports_a_peer_that_is_already_ready(server: str, client: Client) -> None:
    alice, bob = await client(server), await client(server)
    await join(alice, "early-bird")
    await send_json(alice.ws, {"type": "ready"})

    joined = await join(bob, "early-bird")
    assert joined["peers"] == [{"id": alice.session, "ready": True}]


async def test_ready_is_announced_to_the_other_member(server: str, client: Client) -> None:
    alice, bob = await client(server), await client(server)
    await join_pair(alice, bob, "ready-room")

    await send_json(bob.ws, {"type": "ready"})
    assert await receive_json(alice.ws) == {"type": "peer-ready", "peer": bob.session}
    await send_json(alice.ws, {"type": "ready"})
    assert await receive_json(bob.ws) == {"type": "peer-ready", "peer": alice.session}


async def test_offer_answer_and_candidates_are_relayed_with_from(
    server: str, client: Client
) -> None:
    alice, bob = await client(server), await client(server)
    await join_pair(alice, bob, "call")
    await exchange_offer_answer_candidates(alice, bob)


async def test_client_written_from_is_replaced_by_the_real_sender(
    server: str, client: Client
) -> None:
    alice, bob = await client(server), await client(server)
    await join_pair(alice, bob, "spoof")

    await send_json(
        alice.ws, {"type": "offer", "to": bob.session, "from": bob.session, "sdp": SDP_OFFER}
    )
    relayed = await receive_json(bob.ws)
    assert relayed["from"] == alice.session

    await send_json(
        bob.ws,
        {"type": "candidate", "to": alice.session, "from": "server", "candidate": CANDIDATE},
    )
    relayed = await receive_json(alice.ws)
    assert relayed["from"] == bob.session


async def test_relays_carry_no_request_id_and_get_no_reply(server: str, client: Client) -> None:
    alice, bob = await client(server), await client(server)
    await join_pair(alice, bob, "quiet")

    await send_json(alice.ws, {"type": "offer", "to": bob.session, "sdp": SDP_OFFER, "id": 77})
    assert await receive_json(bob.ws) == {"type": "offer", "from": alice.session, "sdp": SDP_OFFER}
    # The next thing Alice hears must answer her next request, not acknowledge the offer.
    await send_json(alice.ws, {"type": "leave", "id": 78})
    assert await receive_json(alice.ws) == {"type": "left", "id": 78, "room": "quiet"}


async def test_leave_answers_left_and_tells_the_peer(server: str, client: Client) -> None:
    alice, bob = await client(server), await client(server)
    await join_pair(alice, bob, "hang-up")

    await send_json(alice.ws, {"type": "leave", "id": 2})
    assert await receive_json(alice.ws) == {"type": "left", "id": 2, "room": "hang-up"}
    assert await receive_json(bob.ws) == {
        "type": "peer-left",
        "peer": alice.session,
        "reason": "left",
    }


async def test_closing_a_socket_tells_the_peer_disconnected(server: str, client: Client) -> None:
    alice, bob = await client(server), await client(server)
    await join_pair(alice, bob, "dropped")

    await wait_closed(alice.ws)
    assert await receive_json(bob.ws) == {
        "type": "peer-left",
        "peer": alice.session,
        "reason": "disconnected",
    }
    # The departed session's place is free again.
    carol = await client(server)
    joined = await join(carol, "dropped")
    assert joined["peers"] == [{"id": bob.session, "ready": False}]


async def test_third_client_gets_room_full_and_can_join_elsewhere(
    server: str, client: Client
) -> None:
    alice, bob, carol = await client(server), await client(server), await client(server)
    await join_pair(alice, bob, "pair")

    await send_json(carol.ws, {"type": "join", "room": "pair", "id": "c1"})
    assert_error(await receive_json(carol.ws), "room-full", "c1")

    joined = await join(carol, "solo", request_id="c2")
    assert joined["created"] is True
    assert joined["peers"] == []
    # The full room was untouched: its members can still call each other.
    await exchange_offer_answer_candidates(alice, bob)


async def test_both_can_leave_rejoin_and_call_again(server: str, client: Client) -> None:
    alice, bob = await client(server), await client(server)
    await join_pair(alice, bob, "again")
    await exchange_offer_answer_candidates(alice, bob)

    await send_json(alice.ws, {"type": "leave", "id": "a-leave"})
    assert await receive_json(alice.ws) == {"type": "left", "id": "a-leave", "room": "again"}
    assert await receive_json(bob.ws) == {
        "type": "peer-left",
        "peer": alice.session,
        "reason": "left",
    }
    await send_json(bob.ws, {"type": "leave", "id": "b-leave"})
    assert await receive_json(bob.ws) == {"type": "left", "id": "b-leave", "room": "again"}

    # Rejoin in the opposite order: the room was forgotten, so Bob creates it anew.
    rejoined = await join(bob, "again", request_id=10)
    assert rejoined["created"] is True
    await join(alice, "again", request_id=11)
    assert await receive_json(bob.ws) == {"type": "peer-joined", "peer": alice.session}
    await send_json(alice.ws, {"type": "ready"})
    assert await receive_json(bob.ws) == {"type": "peer-ready", "peer": alice.session}
    await send_json(bob.ws, {"type": "ready"})
    assert await receive_json(alice.ws) == {"type": "peer-ready", "peer": bob.session}
    await exchange_offer_answer_candidates(bob, alice)
