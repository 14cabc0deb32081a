"""Credentials Parley issues work on a real coturn run with Parley's config; nothing else does.

Like LiveKit's TurnAuthFailure cases: every malformed, stale or forged credential is refused
with 401 at Allocate, and so is an Allocate without any credentials. Where a case is about the
username's shape or expiry, its password is the right HMAC for that username, so the refusal
can only come from the shape or the expiry. (Usernames with a quote or a space coturn refuses
with 400 before any lookup; those are checked separately.)
"""

import time
from collections.abc import Callable

import pytest

from parley.core.ids import random_id
from parley.turn.credentials import turn_password
from tests.turn.conftest import OpenClient
from tests.turn.topology import TurnServer
from tests.turn.turn_client import TurnError, error_code


def _user() -> str:
    # A fresh user id, made as Parley makes them; fresh per test, as coturn counts allocations
    # per username (user-quota).
    return random_id()


@pytest.mark.parametrize("family", [4, 6])
async def test_issued_credentials_allocate_a_relay_on_coturns_address(
    turn_server: TurnServer, open_client: OpenClient, family: int
) -> None:
    ice_server = turn_server.issuer().issue(_user(), now=time.time())
    assert ice_server.username is not None and ice_server.credential is not None
    client = await open_client(ice_server.username, ice_server.credential)

    allocation = await client.allocate(family)

    assert allocation.relayed[0] == turn_server.address_for(family), turn_server.log_tail()
    assert 49152 <= allocation.relayed[1] <= 65535
    assert allocation.mapped == (turn_server.caller_address, client.local_address[1])
    assert 0 < allocation.lifetime <= 600


MakeCredentials = Callable[[bytes, str, int], tuple[str, str]]


def _expired(secret: bytes, user: str, now: int) -> tuple[str, str]:
    username = f"{now - 60}:{user}"
    return username, turn_password(secret, username)


def _wrong_password(secret: bytes, user: str, now: int) -> tuple[str, str]:
    username = f"{now + 3600}:{user}"
    return username, turn_password(b"not the shared secret", username)


def _expiry_mismatch(secret: bytes, user: str, now: int) -> tuple[str, str]:
    # The password is for one expiry; the username claims a later one.
    password = turn_password(secret, f"{now + 3600}:{user}")
    return f"{now + 7200}:{user}", password


def _no_expiry(secret: bytes, user: str, now: int) -> tuple[str, str]:
    return user, turn_password(secret, user)


def _non_numeric_expiry(secret: bytes, user: str, now: int) -> tuple[str, str]:
    username = f"tomorrow:{user}"
    return username, turn_password(secret, username)


def _garbage_username(secret: bytes, user: str, now: int) -> tuple[str, str]:
    username = "::\u2603%00:garbage"
    return username, turn_password(secret, username)


def _empty_password(secret: bytes, user: str, now: int) -> tuple[str, str]:
    return f"{now + 3600}:{user}", ""


@pytest.mark.parametrize(
    "make",
    [
        _expired,
        _wrong_password,
        _expiry_mismatch,
        _no_expiry,
        _non_numeric_expiry,
        _garbage_username,
        _empty_password,
    ],
    ids=lambda make: make.__name__.lstrip("_"),
)
async def test_bad_credentials_are_refused_with_401(
    turn_server: TurnServer, open_client: OpenClient, make: MakeCredentials
) -> None:
    username, password = make(turn_server.secret.encode(), _user(), int(time.time()))
    client = await open_client(username, password)

    with pytest.raises(TurnError) as refused:
        await client.allocate()

    assert refused.value.code == 401, f"{refused.value}; coturn log:\n{turn_server.log_tail()}"


async def test_allocate_without_credentials_is_refused_with_401_and_a_challenge(
    turn_server: TurnServer, open_client: OpenClient
) -> None:
    client = await open_client()

    with pytest.raises(TurnError) as refused:
        await client.allocate()

    assert refused.value.code == 401
    assert refused.value.attributes.get("REALM") == turn_server.realm
    assert refused.value.attributes.get("NONCE")
    assert client.allocation is None


@pytest.mark.parametrize("username", ["x' OR 1=1; --", "with space:1"])
async def test_usernames_coturn_finds_unsafe_are_refused(
    turn_server: TurnServer, open_client: OpenClient, username: str
) -> None:
    # coturn does not even look such a username up ("wrong username" in its log): it answers
    # 400, whatever the password. Parley's own user ids (URL-safe base64) never look like this.
    client = await open_client(username, turn_password(turn_server.secret.encode(), username))

    code = await error_code(client.allocate())

    assert code in (400, 401), turn_server.log_tail()
    assert client.allocation is None
