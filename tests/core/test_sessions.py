"""hello → welcome, the hello deadline, and what happens to sessions the core does not know."""

import base64
import re
import string

import pytest

from parley.core.effects import CancelTimer, CloseSession, Send, StartTimer
from parley.core.ids import random_id
from parley.core.signaling import HELLO_TIMER, CoreSettings, SignalingCore
from parley.protocol.close_codes import CloseCode
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    PROTOCOL_VERSION,
    Answer,
    Candidate,
    ClientMessageUnion,
    Hello,
    IceServer,
    Join,
    Leave,
    Offer,
    Ready,
    Welcome,
)
from tests.core.helpers import Harness, guests, messages_to, only_error_to, only_message_to

URL_SAFE_BASE64 = string.ascii_letters + string.digits + "-_"
RANDOM_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


# --- session ids ----------------------------------------------------------------------------


def test_random_id_is_22_url_safe_characters_holding_128_bits() -> None:
    session_id = random_id()
    assert RANDOM_ID.fullmatch(session_id), session_id
    assert len(base64.urlsafe_b64decode(session_id + "==")) == 16


def test_random_ids_do_not_repeat() -> None:
    ids = [random_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)


def test_random_ids_use_the_whole_url_safe_alphabet() -> None:
    # 22,000 characters drawn from 64 leave a chance of about 1e-148 that one never shows up.
    seen = set("".join(random_id() for _ in range(1_000)))
    assert seen == set(URL_SAFE_BASE64)


def test_core_assigns_random_ids_by_default() -> None:
    core = SignalingCore(CoreSettings(), identities=guests())
    first, _ = core.connect(0.0)
    second, _ = core.connect(0.0)
    assert RANDOM_ID.fullmatch(first)
    assert RANDOM_ID.fullmatch(second)
    assert first != second


def test_connect_draws_again_when_a_new_id_is_already_taken() -> None:
    drawn = iter(["taken", "taken", "fresh"])
    core = SignalingCore(CoreSettings(), new_id=lambda: next(drawn), identities=guests())
    assert core.connect(0.0)[0] == "taken"
    assert core.connect(0.0)[0] == "fresh"
    assert core.session_count == 2


# --- hello → welcome ------------------------------------------------------------------------


def test_connect_starts_the_hello_timer_at_now_plus_the_hello_timeout() -> None:
    core = SignalingCore(CoreSettings(hello_timeout=7.5), new_id=lambda: "s1", identities=guests())
    session, effects = core.connect(now=100.0)
    assert session == "s1"
    assert effects == [StartTimer((HELLO_TIMER, "s1"), 107.5)]


def test_hello_is_answered_with_welcome_naming_the_server_assigned_session() -> None:
    stun = IceServer(urls=["stun:stun.example.org:3478"])
    turn = IceServer(urls=["turn:turn.example.org"], username="u", credential="p")
    harness = Harness(CoreSettings(max_message_bytes=4096, ice_servers=(stun, turn)))
    session = harness.connect()
    effects = harness.send(session, Hello(v=PROTOCOL_VERSION, id=1))
    welcome = only_message_to(effects, session)
    assert isinstance(welcome, Welcome)
    assert welcome.session == session
    assert welcome.v == PROTOCOL_VERSION
    assert welcome.maxMessageBytes == 4096
    assert welcome.iceServers == [stun, turn]
    assert welcome.token is not None, "a hello without a token is issued one"
    assert welcome.user.id and welcome.user.id != session
    assert harness.core.session(session).welcomed


def test_each_connection_is_welcomed_with_its_own_session(harness: Harness) -> None:
    first, second = harness.connect(), harness.connect()
    welcome_first = only_message_to(harness.send(first, Hello(v=1)), first)
    welcome_second = only_message_to(harness.send(second, Hello(v=1)), second)
    assert isinstance(welcome_first, Welcome)
    assert isinstance(welcome_second, Welcome)
    assert (welcome_first.session, welcome_second.session) == (first, second)


def test_welcome_cancels_the_hello_timer(harness: Harness) -> None:
    session = harness.connect()
    effects = harness.send(session, Hello(v=PROTOCOL_VERSION))
    cancel, welcome = effects
    assert cancel == CancelTimer((HELLO_TIMER, session))
    assert isinstance(welcome, Send)
    assert isinstance(welcome.message, Welcome)


@pytest.mark.parametrize(
    "message",
    [
        Join(room="blue-fox", id=7),
        Ready(id="r-1"),
        Offer(to="s2", sdp="v=0", id=0),
        Answer(to="s2", sdp="v=0", id=2**53 - 1),
        Candidate(to="s2", candidate=None, id="c"),
        Leave(id=9),
        Leave(),
    ],
    ids=lambda m: type(m).__name__,
)
def test_messages_before_hello_get_hello_required_echoing_their_id(
    harness: Harness, message: ClientMessageUnion
) -> None:
    session = harness.connect()
    error = only_error_to(harness.send(session, message), session)
    assert error.code == ErrorCode.HELLO_REQUIRED
    assert error.id == message.id
    assert not harness.core.session(session).welcomed
    assert len(harness.core.rooms) == 0


def test_hello_still_works_after_hello_required(harness: Harness) -> None:
    session = harness.connect()
    harness.send(session, Ready())
    welcome = only_message_to(harness.send(session, Hello(v=1)), session)
    assert isinstance(welcome, Welcome)


def test_second_hello_gets_already_welcomed_echoing_its_id(harness: Harness) -> None:
    session = harness.welcomed()
    error = only_error_to(harness.send(session, Hello(v=PROTOCOL_VERSION, id="again")), session)
    assert error.code == ErrorCode.ALREADY_WELCOMED
    assert error.id == "again"
    assert harness.core.session(session).welcomed


@pytest.mark.parametrize("version", [0, 2, PROTOCOL_VERSION + 1, -1, 10**20])
def test_hello_with_another_version_gets_unsupported_version(
    harness: Harness, version: int
) -> None:
    session = harness.connect()
    error = only_error_to(harness.send(session, Hello(v=version, id=3)), session)
    assert error.code == ErrorCode.UNSUPPORTED_VERSION
    assert error.id == 3
    assert not harness.core.session(session).welcomed


def test_hello_with_the_right_version_after_unsupported_version_is_welcomed(
    harness: Harness,
) -> None:
    session = harness.connect()
    harness.send(session, Hello(v=PROTOCOL_VERSION + 1))
    welcome = only_message_to(harness.send(session, Hello(v=PROTOCOL_VERSION)), session)
    assert isinstance(welcome, Welcome)


# --- the hello deadline ---------------------------------------------------------------------


def test_hello_timer_expiry_closes_an_unwelcomed_session_with_4408(harness: Harness) -> None:
    session = harness.connect()
    effects = harness.core.timer_expired((HELLO_TIMER, session), harness.now + 10)
    assert len(effects) == 1
    close = effects[0]
    assert isinstance(close, CloseSession)
    assert close.session == session
    assert close.code == CloseCode.HELLO_TIMEOUT == 4408


def test_hello_timer_expiry_closes_a_session_whose_hello_was_refused(harness: Harness) -> None:
    session = harness.connect()
    harness.send(session, Hello(v=PROTOCOL_VERSION + 1))
    effects = harness.core.timer_expired((HELLO_TIMER, session), harness.now + 10)
    assert [type(e) for e in effects] == [CloseSession]


def test_hello_timer_expiry_after_welcome_does_nothing(harness: Harness) -> None:
    session = harness.welcomed()
    assert harness.core.timer_expired((HELLO_TIMER, session), harness.now + 10) == []


def test_hello_timer_expiry_after_disconnect_does_nothing(harness: Harness) -> None:
    session = harness.connect()
    harness.disconnect(session)
    assert harness.core.timer_expired((HELLO_TIMER, session), harness.now + 10) == []


def test_hello_timer_expiry_closes_only_its_own_session(harness: Harness) -> None:
    late, prompt = harness.connect(), harness.welcomed()
    effects = harness.core.timer_expired((HELLO_TIMER, late), harness.now + 10)
    assert [e.session for e in effects if isinstance(e, CloseSession)] == [late]
    assert messages_to(effects, prompt) == []


def test_a_timer_with_another_purpose_closes_nothing(harness: Harness) -> None:
    session = harness.connect()
    assert harness.core.timer_expired(("something-else", session), harness.now + 10) == []


# --- disconnects and unknown sessions -------------------------------------------------------


def test_disconnect_cancels_the_hello_timer_and_forgets_the_session(harness: Harness) -> None:
    session = harness.connect()
    assert harness.disconnect(session) == [CancelTimer((HELLO_TIMER, session))]
    assert harness.core.session(session) is None
    assert harness.core.session_count == 0


def test_disconnect_of_an_unknown_session_returns_nothing(harness: Harness) -> None:
    harness.welcomed()
    assert harness.disconnect("nobody") == []
    assert harness.core.session_count == 1


def test_second_disconnect_of_a_session_returns_nothing(harness: Harness) -> None:
    session = harness.in_room()
    harness.disconnect(session)
    assert harness.disconnect(session) == []


@pytest.mark.parametrize(
    "message", [Hello(v=PROTOCOL_VERSION), Join(room="r"), Ready()], ids=lambda m: type(m).__name__
)
def test_receive_for_an_unknown_session_returns_nothing(
    harness: Harness, message: ClientMessageUnion
) -> None:
    assert harness.send("nobody", message) == []
    assert harness.core.session("nobody") is None
    assert len(harness.core.rooms) == 0


def test_receive_after_disconnect_returns_nothing(harness: Harness) -> None:
    session = harness.welcomed()
    harness.disconnect(session)
    assert harness.send(session, Join(room="blue-fox")) == []
    assert len(harness.core.rooms) == 0


def test_refuse_for_an_unknown_session_returns_nothing(harness: Harness) -> None:
    assert harness.core.refuse("nobody", ErrorCode.BINARY_FRAME, "send text") == []
