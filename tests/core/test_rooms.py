"""join / ready / leave, room capacity, and what the other members are told."""

import pytest

from parley.core.signaling import CoreSettings
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    ClientMessageUnion,
    Join,
    Joined,
    Leave,
    Left,
    Offer,
    PeerJoined,
    PeerLeft,
    PeerReady,
    Ready,
    RoomPeer,
)
from tests.core.helpers import Harness, messages_to, only_error_to, only_message_to, recipients

ROOM = "blue-fox"


@pytest.fixture
def trio() -> Harness:
    """A core whose rooms hold three members."""
    return Harness(CoreSettings(room_capacity=3))


# --- join -----------------------------------------------------------------------------------


def test_first_join_creates_the_room(harness: Harness) -> None:
    alice = harness.welcomed()
    effects = harness.send(alice, Join(room=ROOM, id=1))
    assert recipients(effects) == {alice}
    assert only_message_to(effects, alice) == Joined(
        id=1, room=ROOM, created=True, capacity=2, peers=[]
    )
    assert harness.room_members(ROOM) == [alice]


def test_second_join_enters_the_room_and_lists_the_member_already_there(
    harness: Harness,
) -> None:
    alice = harness.in_room(ROOM)
    bob = harness.welcomed()
    effects = harness.send(bob, Join(room=ROOM, id="j"))
    assert only_message_to(effects, bob) == Joined(
        id="j", room=ROOM, created=False, capacity=2, peers=[RoomPeer(id=alice, ready=False)]
    )
    assert harness.room_members(ROOM) == [alice, bob]


def test_existing_member_is_told_peer_joined(harness: Harness) -> None:
    alice = harness.in_room(ROOM)
    bob = harness.welcomed()
    effects = harness.send(bob, Join(room=ROOM))
    assert recipients(effects) == {alice, bob}
    assert messages_to(effects, alice) == [PeerJoined(peer=bob)]


def test_joined_peers_carry_their_ready_flags_in_join_order(trio: Harness) -> None:
    alice, bob = trio.pair(ROOM)
    trio.send(alice, Ready())
    carol = trio.welcomed()
    joined = only_message_to(trio.send(carol, Join(room=ROOM)), carol)
    assert isinstance(joined, Joined)
    assert joined.peers == [RoomPeer(id=alice, ready=True), RoomPeer(id=bob, ready=False)]
    assert joined.capacity == 3


def test_every_existing_member_is_told_peer_joined(trio: Harness) -> None:
    alice, bob = trio.pair(ROOM)
    carol = trio.welcomed()
    effects = trio.send(carol, Join(room=ROOM))
    assert messages_to(effects, alice) == [PeerJoined(peer=carol)]
    assert messages_to(effects, bob) == [PeerJoined(peer=carol)]
    assert [type(m) for m in messages_to(effects, carol)] == [Joined]


def test_rooms_with_other_names_are_separate(harness: Harness) -> None:
    alice = harness.in_room("red")
    bob = harness.welcomed()
    effects = harness.send(bob, Join(room="green"))
    joined = only_message_to(effects, bob)
    assert isinstance(joined, Joined)
    assert joined.created
    assert joined.peers == []
    assert messages_to(effects, alice) == []
    assert len(harness.core.rooms) == 2


def test_room_names_are_case_sensitive(harness: Harness) -> None:
    harness.in_room("Room")
    bob = harness.welcomed()
    joined = only_message_to(harness.send(bob, Join(room="room")), bob)
    assert isinstance(joined, Joined)
    assert joined.created


# --- capacity -------------------------------------------------------------------------------


def test_a_room_of_two_refuses_a_third_session_with_room_full(harness: Harness) -> None:
    alice, bob = harness.pair(ROOM)
    carol = harness.welcomed()
    error = only_error_to(harness.send(carol, Join(room=ROOM, id=4)), carol)
    assert error.code == ErrorCode.ROOM_FULL
    assert error.id == 4
    assert harness.room_members(ROOM) == [alice, bob]
    assert harness.core.session(carol).room is None


def test_a_room_of_three_takes_a_third_and_refuses_a_fourth(trio: Harness) -> None:
    alice, bob = trio.pair(ROOM)
    carol = trio.in_room(ROOM)
    dave = trio.welcomed()
    error = only_error_to(trio.send(dave, Join(room=ROOM, id="d")), dave)
    assert error.code == ErrorCode.ROOM_FULL
    assert error.id == "d"
    assert trio.room_members(ROOM) == [alice, bob, carol]


def test_a_session_refused_by_a_full_room_is_not_in_any_room(harness: Harness) -> None:
    harness.pair(ROOM)
    carol = harness.welcomed()
    harness.send(carol, Join(room=ROOM))
    error = only_error_to(harness.send(carol, Ready(id=1)), carol)
    assert error.code == ErrorCode.NOT_IN_ROOM
    joined = only_message_to(harness.send(carol, Join(room="elsewhere")), carol)
    assert isinstance(joined, Joined)


def test_capacity_freed_by_leave_lets_a_third_session_in(harness: Harness) -> None:
    alice, bob = harness.pair(ROOM)
    carol = harness.welcomed()
    assert only_error_to(harness.send(carol, Join(room=ROOM)), carol).code == ErrorCode.ROOM_FULL
    harness.send(bob, Leave())
    effects = harness.send(carol, Join(room=ROOM, id=2))
    assert only_message_to(effects, carol) == Joined(
        id=2, room=ROOM, created=False, capacity=2, peers=[RoomPeer(id=alice, ready=False)]
    )
    assert messages_to(effects, alice) == [PeerJoined(peer=carol)]
    assert messages_to(effects, bob) == []


def test_capacity_freed_by_disconnect_lets_a_third_session_in(harness: Harness) -> None:
    alice, bob = harness.pair(ROOM)
    harness.disconnect(bob)
    carol = harness.welcomed()
    joined = only_message_to(harness.send(carol, Join(room=ROOM)), carol)
    assert isinstance(joined, Joined)
    assert joined.peers == [RoomPeer(id=alice, ready=False)]


# --- already joined -------------------------------------------------------------------------


@pytest.mark.parametrize("second_room", [ROOM, "another-room"])
def test_join_while_in_a_room_gets_already_joined(harness: Harness, second_room: str) -> None:
    alice = harness.in_room(ROOM)
    error = only_error_to(harness.send(alice, Join(room=second_room, id=5)), alice)
    assert error.code == ErrorCode.ALREADY_JOINED
    assert error.id == 5
    assert harness.room_members(ROOM) == [alice]
    assert harness.core.session(alice).room == ROOM
    assert len(harness.core.rooms) == 1


# --- leave and disconnect -------------------------------------------------------------------


def test_leave_is_answered_with_left_echoing_its_id(harness: Harness) -> None:
    alice = harness.in_room(ROOM)
    effects = harness.send(alice, Leave(id=5))
    assert effects and recipients(effects) == {alice}
    assert only_message_to(effects, alice) == Left(id=5, room=ROOM)
    assert harness.core.session(alice).room is None


def test_leave_tells_the_other_member_peer_left_with_reason_left(harness: Harness) -> None:
    alice, bob = harness.pair(ROOM)
    effects = harness.send(alice, Leave(id="bye"))
    assert messages_to(effects, bob) == [PeerLeft(peer=alice, reason="left")]
    assert messages_to(effects, alice) == [Left(id="bye", room=ROOM)]
    assert harness.room_members(ROOM) == [bob]


def test_disconnect_tells_the_other_member_peer_left_with_reason_disconnected(
    harness: Harness,
) -> None:
    alice, bob = harness.pair(ROOM)
    effects = harness.disconnect(alice)
    assert messages_to(effects, bob) == [PeerLeft(peer=alice, reason="disconnected")]
    assert messages_to(effects, alice) == []
    assert harness.room_members(ROOM) == [bob]


def test_every_remaining_member_is_told_peer_left(trio: Harness) -> None:
    alice, bob = trio.pair(ROOM)
    carol = trio.in_room(ROOM)
    effects = trio.send(bob, Leave())
    assert messages_to(effects, alice) == [PeerLeft(peer=bob, reason="left")]
    assert messages_to(effects, carol) == [PeerLeft(peer=bob, reason="left")]


def test_a_session_can_join_another_room_after_leaving(harness: Harness) -> None:
    alice = harness.in_room(ROOM)
    harness.send(alice, Leave())
    joined = only_message_to(harness.send(alice, Join(room="next", id=3)), alice)
    assert joined == Joined(id=3, room="next", created=True, capacity=2, peers=[])


def test_leave_after_leave_gets_not_in_room(harness: Harness) -> None:
    alice = harness.in_room(ROOM)
    harness.send(alice, Leave())
    error = only_error_to(harness.send(alice, Leave(id=6)), alice)
    assert error.code == ErrorCode.NOT_IN_ROOM
    assert error.id == 6


# --- rooms are forgotten when empty ---------------------------------------------------------


def test_room_is_forgotten_when_its_last_member_leaves(harness: Harness) -> None:
    alice = harness.in_room(ROOM)
    harness.send(alice, Leave())
    assert harness.core.rooms.get(ROOM) is None
    assert len(harness.core.rooms) == 0


def test_room_is_forgotten_when_its_last_member_disconnects(harness: Harness) -> None:
    alice, bob = harness.pair(ROOM)
    harness.send(alice, Leave())
    harness.disconnect(bob)
    assert harness.core.rooms.get(ROOM) is None
    assert len(harness.core.rooms) == 0


def test_rejoining_a_forgotten_room_creates_it_again(harness: Harness) -> None:
    alice = harness.in_room(ROOM)
    harness.send(alice, Leave())
    bob = harness.welcomed()
    joined = only_message_to(harness.send(bob, Join(room=ROOM)), bob)
    assert joined == Joined(room=ROOM, created=True, capacity=2, peers=[])


def test_the_last_member_leaving_tells_nobody_else(harness: Harness) -> None:
    alice = harness.in_room(ROOM)
    bystander = harness.in_room("elsewhere")
    effects = harness.send(alice, Leave())
    assert recipients(effects) == {alice}
    assert messages_to(effects, bystander) == []


# --- ready ----------------------------------------------------------------------------------


def test_ready_sends_peer_ready_to_the_others_only(harness: Harness) -> None:
    alice, bob = harness.pair(ROOM)
    effects = harness.send(alice, Ready(id=8))
    assert recipients(effects) == {bob}
    assert messages_to(effects, bob) == [PeerReady(peer=alice)]
    assert harness.core.rooms.get(ROOM).members[alice].ready


def test_ready_reaches_every_other_member(trio: Harness) -> None:
    alice, bob = trio.pair(ROOM)
    carol = trio.in_room(ROOM)
    effects = trio.send(carol, Ready())
    assert recipients(effects) == {alice, bob}
    assert messages_to(effects, alice) == [PeerReady(peer=carol)]
    assert messages_to(effects, bob) == [PeerReady(peer=carol)]


def test_ready_alone_in_a_room_sends_nothing_but_is_remembered(harness: Harness) -> None:
    alice = harness.in_room(ROOM)
    assert harness.send(alice, Ready()) == []
    bob = harness.welcomed()
    joined = only_message_to(harness.send(bob, Join(room=ROOM)), bob)
    assert isinstance(joined, Joined)
    assert joined.peers == [RoomPeer(id=alice, ready=True)]


def test_ready_flag_does_not_follow_a_session_into_its_next_room(harness: Harness) -> None:
    alice = harness.in_room(ROOM)
    harness.send(alice, Ready())
    harness.send(alice, Leave())
    harness.send(alice, Join(room="next"))
    bob = harness.welcomed()
    joined = only_message_to(harness.send(bob, Join(room="next")), bob)
    assert isinstance(joined, Joined)
    assert joined.peers == [RoomPeer(id=alice, ready=False)]


# --- membership required --------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [Ready(id=1), Leave(id="l")],
    ids=lambda m: type(m).__name__,
)
def test_room_messages_before_join_get_not_in_room_echoing_their_id(
    harness: Harness, message: ClientMessageUnion
) -> None:
    alice = harness.welcomed()
    harness.welcomed()
    error = only_error_to(harness.send(alice, message), alice)
    assert error.code == ErrorCode.NOT_IN_ROOM
    assert error.id == message.id


def test_relay_without_room_or_call_gets_peer_not_found(harness: Harness) -> None:
    alice = harness.welcomed()
    bob = harness.welcomed()
    effects = harness.send(alice, Offer(to=bob, sdp="v=0", id=3))
    assert messages_to(effects, bob) == []
    error = only_error_to(effects, alice)
    assert error.code == ErrorCode.PEER_NOT_FOUND
    assert error.id == 3


def test_ready_after_leave_gets_not_in_room(harness: Harness) -> None:
    alice, _bob = harness.pair(ROOM)
    harness.send(alice, Leave())
    error = only_error_to(harness.send(alice, Ready(id=2)), alice)
    assert error.code == ErrorCode.NOT_IN_ROOM
    assert error.id == 2


def test_rooms_per_user_are_capped_and_leaving_frees_a_place() -> None:
    h = Harness(CoreSettings(rooms_per_user=2))
    ann = h.user("Ann", presence=False)
    tabs = [h.device(ann, presence=False) for _ in range(3)]
    h.send(tabs[0].session, Join(room="a"))
    h.send(tabs[1].session, Join(room="b"))
    refused = only_error_to(h.send(tabs[2].session, Join(room="c", id=1)), tabs[2].session)
    assert refused.code == ErrorCode.TOO_MANY_ROOMS
    h.disconnect(tabs[0].session)
    joined = only_message_to(h.send(tabs[2].session, Join(room="c")), tabs[2].session)
    assert isinstance(joined, Joined)
