"""Every error code has a scenario that produces it, so a new code cannot ship untested.

Frames go through decode_client_frame and then the core, as the hub feeds them; binary frames
and handler failures are refused through core.refuse, as the hub does.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from parley.core.effects import CloseSession, Effect
from parley.core.room_links import RoomLinks
from parley.core.signaling import SignalingCore
from parley.identity import JwtIdentities
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    Accept,
    Hangup,
    Hello,
    IceServersRequest,
    Invite,
    Join,
    Leave,
    Offer,
    Ready,
)
from tests.core.helpers import TICKET_KEY, Harness, error_codes, only_error_to, records

ROOM = "r"


@dataclass(frozen=True)
class Setup:
    """A session brought to the brink of an error; `act` makes the offending event happen."""

    session: str
    request_id: int | str | None
    act: Callable[[], list[Effect]]


def bad_json(h: Harness) -> Setup:
    s = h.welcomed()
    return Setup(s, None, lambda: h.send_frame(s, '{"type": "join", "room": '))


def binary_frame(h: Harness) -> Setup:
    s = h.welcomed()
    return Setup(s, None, lambda: h.core.refuse(s, ErrorCode.BINARY_FRAME, "send text frames"))


def bad_message(h: Harness) -> Setup:
    s = h.welcomed()
    return Setup(s, 21, lambda: h.send_frame(s, '{"type": "join", "id": 21}'))


def unknown_type(h: Harness) -> Setup:
    s = h.welcomed()
    return Setup(s, "d", lambda: h.send_frame(s, '{"type": "dance", "id": "d"}'))


def hello_required(h: Harness) -> Setup:
    s = h.connect()
    return Setup(s, 1, lambda: h.send_frame(s, '{"type": "join", "room": "r", "id": 1}'))


def already_welcomed(h: Harness) -> Setup:
    s = h.welcomed()
    return Setup(s, 2, lambda: h.send(s, Hello(v=1, id=2)))


def unsupported_version(h: Harness) -> Setup:
    s = h.connect()
    return Setup(s, 3, lambda: h.send(s, Hello(v=99, id=3)))


def already_joined(h: Harness) -> Setup:
    s = h.in_room(ROOM)
    return Setup(s, 4, lambda: h.send(s, Join(room="other", id=4)))


def room_full(h: Harness) -> Setup:
    h.pair(ROOM)
    s = h.welcomed()
    return Setup(s, 5, lambda: h.send(s, Join(room=ROOM, id=5)))


def room_expired(h: Harness) -> Setup:
    s = h.welcomed()
    expired = RoomLinks(TICKET_KEY).issue(b"n" * 16, int(h.now) - 1)
    return Setup(s, 5, lambda: h.send(s, Join(room=expired, id=5)))


def bad_room_link(h: Harness) -> Setup:
    s = h.welcomed()
    made_up = f"{'a' * 26}-0-{'b' * 26}"
    return Setup(s, 5, lambda: h.send(s, Join(room=made_up, id=5)))


def not_in_room(h: Harness) -> Setup:
    s = h.welcomed()
    return Setup(s, 6, lambda: h.send(s, Ready(id=6)))


def peer_not_found(h: Harness) -> Setup:
    s = h.in_room(ROOM)
    return Setup(s, 7, lambda: h.send(s, Offer(to="nobody", sdp="v=0", id=7)))


def cannot_call_self(h: Harness) -> Setup:
    ann = h.user("Ann")
    return Setup(
        ann.session, 9, lambda: h.send(ann.session, Invite(to=ann.user, media="video", id=9))
    )


def offer_has_addresses(h: Harness) -> Setup:
    ann, bob = h.user("Ann"), h.user("Bob")
    offer = "v=0\nc=IN IP4 198.51.100.7\na=candidate:1 1 udp 1 198.51.100.7 9 typ host\n"
    invite = Invite(to=bob.user, media="audio", caller_offers=True, offer=offer, id=11)
    return Setup(ann.session, 11, lambda: h.send(ann.session, invite))


def already_in_call(h: Harness) -> Setup:
    ann, bob, cy = h.user("Ann"), h.user("Bob"), h.user("Cy")
    h.invite(ann.session, bob.user)
    return Setup(
        ann.session, 10, lambda: h.send(ann.session, Invite(to=cy.user, media="audio", id=10))
    )


def call_not_found(h: Harness) -> Setup:
    ann, bob, cy = h.user("Ann"), h.user("Bob"), h.user("Cy")
    call = h.invite(ann.session, bob.user)
    return Setup(cy.session, "h", lambda: h.send(cy.session, Hangup(call=call, id="h")))


def wrong_call_state(h: Harness) -> Setup:
    ann, bob = h.user("Ann"), h.user("Bob")
    call = h.invite(ann.session, bob.user)
    h.accept(bob.session, call)
    return Setup(
        bob.session, 12, lambda: h.send(bob.session, Accept(call=call, media="video", id=12))
    )


def too_many_rooms(h: Harness) -> Setup:
    first = h.user("Ann", presence=False)
    for n in range(h.settings.rooms_per_user):
        tab = h.device(first, presence=False)
        h.send(tab.session, Join(room=f"room-{n}"))
    last = h.device(first, presence=False)
    return Setup(last.session, 9, lambda: h.send(last.session, Join(room="one-more", id=9)))


def auth_failed(h: Harness) -> Setup:
    h.core = SignalingCore(h.settings, identities=JwtIdentities("k" * 32, ("HS256",), "parley"))
    s = h.connect()
    return Setup(s, 5, lambda: h.send(s, Hello(v=1, token="not-a-valid-jwt", id=5)))


def rate_limited(h: Harness) -> Setup:
    s = h.welcomed()
    for _ in range(h.settings.ice_requests_per_minute):
        h.send(s, IceServersRequest())
    return Setup(s, "i", lambda: h.send(s, IceServersRequest(id="i")))


def internal_error(h: Harness) -> Setup:
    s = h.in_room(ROOM)
    failed = Leave(id=8)  # as if core.receive had raised while handling this message

    def act() -> list[Effect]:
        return h.core.refuse(s, ErrorCode.INTERNAL_ERROR, "the server failed", failed.id)

    return Setup(s, 8, act)


SCENARIOS: list[tuple[ErrorCode, Callable[[Harness], Setup]]] = [
    (ErrorCode.BAD_JSON, bad_json),
    (ErrorCode.BINARY_FRAME, binary_frame),
    (ErrorCode.BAD_MESSAGE, bad_message),
    (ErrorCode.UNKNOWN_TYPE, unknown_type),
    (ErrorCode.HELLO_REQUIRED, hello_required),
    (ErrorCode.ALREADY_WELCOMED, already_welcomed),
    (ErrorCode.UNSUPPORTED_VERSION, unsupported_version),
    (ErrorCode.ALREADY_JOINED, already_joined),
    (ErrorCode.ROOM_FULL, room_full),
    (ErrorCode.ROOM_EXPIRED, room_expired),
    (ErrorCode.BAD_ROOM_LINK, bad_room_link),
    (ErrorCode.NOT_IN_ROOM, not_in_room),
    (ErrorCode.PEER_NOT_FOUND, peer_not_found),
    (ErrorCode.CANNOT_CALL_SELF, cannot_call_self),
    (ErrorCode.ALREADY_IN_CALL, already_in_call),
    (ErrorCode.OFFER_HAS_ADDRESSES, offer_has_addresses),
    (ErrorCode.CALL_NOT_FOUND, call_not_found),
    (ErrorCode.WRONG_CALL_STATE, wrong_call_state),
    (ErrorCode.RATE_LIMITED, rate_limited),
    (ErrorCode.AUTH_FAILED, auth_failed),
    (ErrorCode.TOO_MANY_ROOMS, too_many_rooms),
    (ErrorCode.INTERNAL_ERROR, internal_error),
]
each_scenario = pytest.mark.parametrize(
    ("expected", "scenario"), SCENARIOS, ids=[str(code) for code, _ in SCENARIOS]
)


def server_state(h: Harness, session: str) -> tuple[object, ...]:
    found = h.core.session(session)
    assert found is not None
    calls = []
    for created in records(h.log, "created"):
        call = h.core.calls.get(created.record.id)
        if call is not None:
            calls.append(
                (
                    call.id,
                    call.state,
                    sorted(call.ringing_sessions),
                    call.callee_session,
                    call.media,
                )
            )
    return (
        found.welcomed,
        found.room,
        h.core.session_count,
        len(h.core.rooms),
        h.room_members(ROOM),
        len(h.core.calls),
        calls,
        h.core.presence.online(),
    )


def test_every_error_code_is_produced_by_some_scenario() -> None:
    produced = set()
    for _, scenario in SCENARIOS:
        produced.update(error_codes(scenario(Harness()).act()))
    # `unavailable` comes from a cluster node that cannot reach Redis, never from the core:
    # tests/cluster/ shows it.
    assert produced == set(ErrorCode) - {ErrorCode.UNAVAILABLE}


@each_scenario
def test_scenario_is_answered_with_one_error_echoing_the_id(
    expected: ErrorCode, scenario: Callable[[Harness], Setup]
) -> None:
    setup = scenario(Harness())
    effects = setup.act()
    if expected == ErrorCode.AUTH_FAILED:
        # The one error that also ends the connection: a refused identity may not linger.
        closes = [e for e in effects if isinstance(e, CloseSession)]
        assert closes == [CloseSession(setup.session, 4401, "auth failed")]
        effects = [e for e in effects if not isinstance(e, CloseSession)]
    error = only_error_to(effects, setup.session)
    assert error.code == expected
    assert error.id == setup.request_id
    assert error.message, "an error always says what went wrong"


@each_scenario
def test_an_error_changes_nothing_on_the_server(
    expected: ErrorCode, scenario: Callable[[Harness], Setup]
) -> None:
    harness = Harness()
    setup = scenario(harness)
    before = server_state(harness, setup.session)
    assert error_codes(setup.act()) == [expected]
    assert server_state(harness, setup.session) == before
