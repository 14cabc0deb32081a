"""hello → welcome as users: a guest token keeps a user across sessions and devices, and a
token the server did not sign never yields someone else's identity."""

import pytest

from parley.core.effects import CloseSession
from parley.core.identity import Admission, Identity
from parley.core.signaling import SignalingCore
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import PROTOCOL_VERSION, Hello, UserInfo, Welcome
from tests.core.helpers import Harness, only_error_to, only_message_to


def welcome_for(harness: Harness, hello: Hello) -> Welcome:
    session = harness.connect()
    welcome = only_message_to(harness.send(session, hello), session)
    assert isinstance(welcome, Welcome), welcome
    return welcome


def test_hello_without_token_issues_a_new_user_and_token(harness: Harness) -> None:
    welcome = welcome_for(harness, Hello(v=PROTOCOL_VERSION, name="Ann"))
    assert welcome.user.name == "Ann"
    assert welcome.user.id and welcome.user.id != welcome.session
    assert welcome.token


def test_two_hellos_without_token_are_two_users(harness: Harness) -> None:
    first = welcome_for(harness, Hello(v=PROTOCOL_VERSION))
    second = welcome_for(harness, Hello(v=PROTOCOL_VERSION))
    assert first.user.id != second.user.id
    assert first.token != second.token


def test_hello_with_an_issued_token_is_the_same_user_without_a_new_token(
    harness: Harness,
) -> None:
    first = welcome_for(harness, Hello(v=PROTOCOL_VERSION, name="Ann"))
    again = welcome_for(harness, Hello(v=PROTOCOL_VERSION, name="Ann", token=first.token))
    assert again.user == UserInfo(id=first.user.id, name="Ann")
    assert again.session != first.session
    assert again.token is None


def test_the_same_token_keeps_the_user_after_the_first_session_closed(harness: Harness) -> None:
    ann = harness.user("Ann")
    harness.disconnect(ann.session)
    later = harness.user("Ann", token=ann.token)
    assert later.user == ann.user
    assert later.session != ann.session


def test_a_user_may_take_another_name_on_another_device(harness: Harness) -> None:
    ann = harness.user("Ann")
    welcome = welcome_for(harness, Hello(v=PROTOCOL_VERSION, name="Annie", token=ann.token))
    assert welcome.user == UserInfo(id=ann.user, name="Annie")


def test_hello_name_is_stripped(harness: Harness) -> None:
    welcome = welcome_for(harness, Hello(v=PROTOCOL_VERSION, name="  Ann  "))
    assert welcome.user.name == "Ann"


def test_a_forged_token_gives_a_new_identity_never_the_victims(harness: Harness) -> None:
    victim = harness.user("Victim")
    forged = victim.token[:-1] + ("A" if victim.token[-1] != "A" else "B")
    welcome = welcome_for(harness, Hello(v=PROTOCOL_VERSION, name="Mallory", token=forged))
    assert welcome.user.id != victim.user
    assert welcome.token is not None and welcome.token != victim.token


@pytest.mark.parametrize("token", ["", "garbage", "g1.x.y", "g1..", "a.b.c.d"])
def test_a_garbage_token_gives_a_new_identity(harness: Harness, token: str) -> None:
    known = harness.user("Known")
    welcome = welcome_for(harness, Hello(v=PROTOCOL_VERSION, token=token))
    assert welcome.user.id != known.user
    assert welcome.token is not None and welcome.token != token


def test_a_non_ascii_garbage_token_gives_a_new_identity(harness: Harness) -> None:
    # A token is any string up to 4096 characters, so this reaches the core as it is.
    welcome = welcome_for(harness, Hello(v=PROTOCOL_VERSION, token="g1.user.mäc"))
    assert welcome.user.id != "user"
    assert welcome.token is not None


def test_a_token_from_another_server_gives_a_new_identity() -> None:
    elsewhere = Harness()
    foreign = elsewhere.user("Ann")
    here = Harness()
    welcome = welcome_for(here, Hello(v=PROTOCOL_VERSION, token=foreign.token))
    assert welcome.user.id != foreign.user
    assert welcome.token is not None and welcome.token != foreign.token


def test_two_sessions_with_the_same_token_are_one_user_on_two_devices(harness: Harness) -> None:
    laptop = harness.user("Ann")
    phone = harness.device(laptop, "Ann")
    assert phone.session != laptop.session
    assert harness.core.presence.sessions_of(laptop.user) == [laptop.session, phone.session]
    assert [u.id for u in harness.core.presence.online()] == [laptop.user]


class RefusingIdentities:
    """An identity provider that refuses every token (a host app's expired JWT, say)."""

    def admit(self, token: str | None, name: str, now: float) -> Admission | None:
        return None if token is not None else Admission(Identity("u1", name), None)

    def user_for_token(self, token: str, now: float) -> str | None:
        return None


def test_a_token_the_provider_refuses_is_answered_auth_failed_closed_and_not_welcomed() -> None:
    core = SignalingCore(Harness().settings, new_id=lambda: "s1", identities=RefusingIdentities())
    session, _ = core.connect(0.0)
    effects = core.receive(
        session, Hello(v=PROTOCOL_VERSION, token="expired", presence=True, id=4), 0.0
    )
    assert CloseSession(session, 4401, "auth failed") in effects
    error = only_error_to([e for e in effects if not isinstance(e, CloseSession)], session)
    assert error.code == ErrorCode.AUTH_FAILED
    assert error.id == 4
    found = core.session(session)
    assert found is not None and not found.welcomed
    assert core.presence.online() == []
