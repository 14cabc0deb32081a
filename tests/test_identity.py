"""GuestIdentities: a guest's user id is signed with the server's secret, so only its holder
keeps it; anything else (no token, a forged or foreign one, garbage) makes a brand-new guest."""

import base64
import re

import pytest

from parley.identity import Admission, GuestIdentities, Identity

SECRET = b"s" * 32
OTHER_SECRET = b"o" * 32
RANDOM_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
NOW = 1000.0


@pytest.fixture
def guests() -> GuestIdentities:
    return GuestIdentities(SECRET)


def issue(guests: GuestIdentities, name: str = "Ann") -> Admission:
    admission = guests.admit(None, name, NOW)
    assert admission is not None
    assert admission.token is not None
    return admission


def test_a_hello_without_token_makes_a_new_guest_with_a_token(guests: GuestIdentities) -> None:
    admission = issue(guests, "Ann")
    assert admission.identity.name == "Ann"
    assert RANDOM_ID.fullmatch(admission.identity.user)
    assert admission.token is not None
    assert admission.token.startswith("g1.")


def test_each_new_guest_gets_its_own_user_and_token(guests: GuestIdentities) -> None:
    first, second = issue(guests), issue(guests)
    assert first.identity.user != second.identity.user
    assert first.token != second.token


def test_an_issued_token_gives_back_the_same_user_and_no_new_token(
    guests: GuestIdentities,
) -> None:
    issued = issue(guests, "Ann")
    assert issued.token is not None
    again = guests.admit(issued.token, "Ann on the phone", NOW + 3600)
    assert again == Admission(Identity(issued.identity.user, "Ann on the phone"), None)


def test_a_token_survives_a_restart_with_the_same_secret() -> None:
    issued = issue(GuestIdentities(SECRET))
    assert issued.token is not None
    restarted = GuestIdentities(bytes(SECRET))
    again = restarted.admit(issued.token, "", NOW)
    assert again is not None
    assert again.identity.user == issued.identity.user


def test_user_for_token_names_the_tokens_user(guests: GuestIdentities) -> None:
    issued = issue(guests)
    assert issued.token is not None
    assert guests.user_for_token(issued.token, NOW) == issued.identity.user


def forge_mac(token: str) -> str:
    """The same token with the last character of its MAC changed."""
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


def made_up_token(victim: str) -> str:
    """A token for `victim` made by someone without the secret: a MAC of their own."""
    mac = base64.urlsafe_b64encode(b"\0" * 32).rstrip(b"=").decode()
    return f"g1.{victim}.{mac}"


def test_a_forged_mac_is_refused_and_makes_a_new_guest(guests: GuestIdentities) -> None:
    victim = issue(guests)
    assert victim.token is not None
    forged = forge_mac(victim.token)
    assert guests.user_for_token(forged, NOW) is None
    admission = guests.admit(forged, "Mallory", NOW)
    assert admission is not None
    assert admission.identity.user != victim.identity.user
    assert admission.token is not None and admission.token != victim.token


def test_a_made_up_token_for_someone_elses_id_is_refused(guests: GuestIdentities) -> None:
    victim = issue(guests)
    forged = made_up_token(victim.identity.user)
    assert guests.user_for_token(forged, NOW) is None
    admission = guests.admit(forged, "Mallory", NOW)
    assert admission is not None
    assert admission.identity.user != victim.identity.user


def test_a_mac_from_another_users_token_does_not_fit(guests: GuestIdentities) -> None:
    ann, bob = issue(guests), issue(guests)
    assert ann.token is not None and bob.token is not None
    spliced = f"g1.{ann.identity.user}.{bob.token.rsplit('.', 1)[1]}"
    assert guests.user_for_token(spliced, NOW) is None


@pytest.mark.parametrize("prefix", ["g2", "G1", "", "jwt"])
def test_a_token_with_another_prefix_is_refused(guests: GuestIdentities, prefix: str) -> None:
    issued = issue(guests)
    assert issued.token is not None
    _, user, mac = issued.token.split(".")
    assert guests.user_for_token(f"g1.{user}.{mac}", NOW) == user, "the control is accepted"
    retagged = f"{prefix}.{user}.{mac}"
    assert guests.user_for_token(retagged, NOW) is None
    admission = guests.admit(retagged, "", NOW)
    assert admission is not None
    assert admission.identity.user != user


def test_a_token_from_another_secret_is_refused(guests: GuestIdentities) -> None:
    foreign = issue(GuestIdentities(OTHER_SECRET))
    assert foreign.token is not None
    assert guests.user_for_token(foreign.token, NOW) is None
    admission = guests.admit(foreign.token, "", NOW)
    assert admission is not None
    assert admission.identity.user != foreign.identity.user
    assert admission.token is not None and admission.token != foreign.token


@pytest.mark.parametrize(
    "token",
    [
        "",
        "g1",
        "g1.",
        "g1..",
        "g1.user",
        "g1.user.",
        "g1..mac",
        "not a token at all",
        "g1.user.mac.extra",
        "." * 10,
        "x" * 4096,
    ],
)
def test_garbage_tokens_are_refused_and_make_a_new_guest(
    guests: GuestIdentities, token: str
) -> None:
    assert guests.user_for_token(token, NOW) is None
    admission = guests.admit(token, "", NOW)
    assert admission is not None
    assert admission.token is not None and admission.token != token


@pytest.mark.parametrize("token", ["g1.user.mäc", "g1.üser.mac", "g1.user.\u200b", "g1.u.€€€"])
def test_non_ascii_garbage_tokens_are_refused_not_raised(
    guests: GuestIdentities, token: str
) -> None:
    # Tokens come straight from `hello` (any string up to 4096 characters): non-ASCII ones are
    # just more garbage and must make a new guest, not an exception.
    assert guests.user_for_token(token, NOW) is None
    admission = guests.admit(token, "", NOW)
    assert admission is not None
    assert admission.token is not None


def test_a_valid_token_with_extra_text_appended_is_refused(guests: GuestIdentities) -> None:
    issued = issue(guests)
    assert issued.token is not None
    assert guests.user_for_token(issued.token + "x", NOW) is None
    assert guests.user_for_token(issued.token + ".x", NOW) is None


@pytest.mark.parametrize("length", [0, 1, 15])
def test_a_secret_shorter_than_16_bytes_is_rejected(length: int) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        GuestIdentities(b"k" * length)


def test_a_16_byte_secret_is_enough() -> None:
    guests = GuestIdentities(b"k" * 16)
    issued = issue(guests)
    assert issued.token is not None
    assert guests.user_for_token(issued.token, NOW) == issued.identity.user
