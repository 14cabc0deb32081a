"""Room links (core/room_links.py): a room name that carries its expiry and the server's MAC.
Joining one is refused after its expiry, and one whose expiry was changed or that was made up
is refused whatever its expiry says; rooms with other names are as before."""

import re
import secrets

import msgspec
import pytest

from parley.core.room_links import RoomLinks
from parley.core.signaling import CoreSettings, SignalingCore
from parley.protocol.errors import ErrorCode
from parley.protocol.fields import RoomName
from parley.protocol.messages import Join, Joined
from tests.core.helpers import TICKET_KEY, Harness, counting_ids, guests, only_message_to

NOW = 1_700_000_000.0


def link(expires: int | None, key: bytes = TICKET_KEY) -> str:
    return RoomLinks(key).issue(secrets.token_bytes(16), expires)


def join(harness: Harness, room: str, request_id: int = 1) -> object:
    session = harness.welcomed()
    return only_message_to(harness.send(session, Join(room=room, id=request_id)), session)


def refused_with(message: object, code: ErrorCode) -> None:
    assert getattr(message, "code", None) == code, message
    assert getattr(message, "id", None) == 1


def shifted(room: str, expiry: str) -> str:
    """`room` with its expiry part replaced (its MAC kept)."""
    nonce, _, mac = room.split("-")
    return f"{nonce}-{expiry}-{mac}"


@pytest.mark.parametrize("expires", [None, int(NOW) + 60, 36**8 - 1])
def test_a_link_is_a_valid_room_name_of_at_most_64_characters(expires: int | None) -> None:
    room = link(expires)
    assert msgspec.convert(room, RoomName) == room
    assert len(room) <= 64
    assert re.fullmatch(r"[a-z2-7]{26}-[0-9a-z]{1,8}-[a-z2-7]{26}", room)


def test_links_are_unguessable_each_from_its_own_nonce() -> None:
    assert len({link(None) for _ in range(50)}) == 50


def test_a_link_before_its_expiry_is_joined() -> None:
    harness = Harness(now=NOW)
    room = link(int(NOW) + 60)

    joined = join(harness, room)

    assert isinstance(joined, Joined) and joined.room == room


def test_a_link_without_expiry_is_joined_any_time() -> None:
    harness = Harness(now=4_000_000_000.0)
    assert isinstance(join(harness, link(None)), Joined)


def test_a_link_at_or_after_its_expiry_is_refused_as_expired() -> None:
    harness = Harness(now=NOW)
    room = link(int(NOW))

    refused_with(join(harness, room), ErrorCode.ROOM_EXPIRED)
    assert harness.room_members(room) == []


def test_members_already_in_a_room_stay_when_its_link_expires() -> None:
    harness = Harness(now=NOW)
    room = link(int(NOW) + 10)
    first = harness.in_room(room)

    harness.now = NOW + 10
    refused_with(join(harness, room), ErrorCode.ROOM_EXPIRED)

    assert harness.room_members(room) == [first]


@pytest.mark.parametrize("expiry", ["0", "zzzzzzzz", "1"])
def test_a_link_with_its_expiry_changed_is_refused_as_a_bad_link(expiry: str) -> None:
    harness = Harness(now=NOW)
    room = link(int(NOW) - 1)  # expired: a later (or no) expiry would let it in again
    forged = shifted(room, expiry)
    assert forged != room

    refused_with(join(harness, forged), ErrorCode.BAD_ROOM_LINK)
    assert harness.room_members(forged) == []


def test_a_made_up_name_of_a_links_shape_is_refused() -> None:
    harness = Harness(now=NOW)
    refused_with(join(harness, f"{'a' * 26}-0-{'b' * 26}"), ErrorCode.BAD_ROOM_LINK)


def test_a_link_of_another_servers_key_is_refused() -> None:
    harness = Harness(now=NOW)
    refused_with(join(harness, link(None, key=b"k" * 32)), ErrorCode.BAD_ROOM_LINK)


def test_a_link_holds_across_cores_that_share_the_key() -> None:
    """Another node of a cluster, or the server after a restart: the key is the secret's."""
    room = link(int(NOW) + 60)
    ids = counting_ids()
    other = SignalingCore(
        CoreSettings(), new_id=lambda: next(ids), identities=guests(), ticket_key=TICKET_KEY
    )
    assert other.room_links.refusal(room, NOW) is None
    assert RoomLinks(b"x" * 32).refusal(room, NOW) is not None


@pytest.mark.parametrize(
    "room",
    ["blue-fox", "a" * 64, f"{'a' * 26}-0-{'b' * 25}", f"{'A' * 26}-0-{'B' * 26}", "x-1-y"],
)
def test_rooms_of_any_other_shape_are_ordinary_rooms(room: str) -> None:
    harness = Harness(now=NOW)
    assert isinstance(join(harness, room), Joined)


@pytest.mark.parametrize("expires", [0, -5, 36**8])
def test_an_expiry_out_of_range_is_not_issued(expires: int) -> None:
    with pytest.raises(ValueError, match="expiry"):
        link(expires)


def test_a_nonce_of_the_wrong_size_is_not_issued() -> None:
    with pytest.raises(ValueError, match="nonce"):
        RoomLinks(TICKET_KEY).issue(b"short", None)
