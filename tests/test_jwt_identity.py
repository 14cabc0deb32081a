"""Host-app identities: only a valid token names the user."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from parley.identity import Identity, JwtIdentities, mint_token

SECRET = "host-app-shared-secret-of-enough-length"
NOW = time.time()


def claims(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "sub": "u-42", "name": "Ana", "aud": "parley",
        "iat": int(NOW), "nbf": int(NOW), "exp": int(NOW) + 3600,
    }  # fmt: skip
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def hs256(**overrides: object) -> str:
    return jwt.encode(claims(**overrides), SECRET, algorithm="HS256")


HS = JwtIdentities(SECRET, ("HS256",), "parley")


def test_a_valid_token_gives_the_identity_in_it_whatever_name_the_client_says() -> None:
    admission = HS.admit(hs256(), "Mallory", NOW)
    assert admission is not None
    assert admission.identity == Identity("u-42", "Ana")
    assert admission.token is None, "host-app identities are not re-issued"
    assert HS.user_for_token(hs256(), NOW) == "u-42"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(hs256(exp=int(NOW) - 3600), id="expired"),
        pytest.param(hs256(nbf=int(NOW) + 3600), id="not-yet-valid"),
        pytest.param(hs256(iat=int(NOW) + 3600), id="issued-in-the-future"),
        pytest.param(
            jwt.encode(claims(), "another-secret-entirely-xyz-0123456789", algorithm="HS256"),
            id="bad-signature",
        ),
        pytest.param(hs256(aud="another-app"), id="wrong-audience"),
        pytest.param(hs256(sub=None), id="no-subject"),
        pytest.param(hs256(exp=None), id="no-expiry"),
        pytest.param(jwt.encode(claims(), None, algorithm="none"), id="alg-none"),
        pytest.param("not.a.jwt", id="garbage"),
        pytest.param("", id="empty"),
    ],
)
def test_refused_tokens_give_no_identity(token: str) -> None:
    assert HS.admit(token, "Ana", NOW) is None
    assert HS.user_for_token(token, NOW) is None


def test_no_token_at_all_is_refused() -> None:
    assert HS.admit(None, "Ana", NOW) is None


def test_algorithm_none_cannot_be_configured() -> None:
    with pytest.raises(ValueError, match="none"):
        JwtIdentities(SECRET, ("none",), "parley")


@pytest.mark.parametrize("kind", ["RS256", "ES256"])
def test_public_key_algorithms(kind: str) -> None:
    private = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    identities = JwtIdentities(public_pem.decode(), ("RS256", "ES256"), "parley")
    token = jwt.encode(claims(), private, algorithm=kind)
    admission = identities.admit(token, "", NOW)
    assert admission is not None and admission.identity.user == "u-42"
    # The classic confusion: an HS256 token "signed" with the public key must not pass.
    forged = jwt.encode(claims(), "x" * 64, algorithm="HS256")
    assert identities.admit(forged, "", NOW) is None


def test_mint_token_makes_what_the_server_accepts() -> None:
    # PyJWT checks `exp` against the wall clock: mint at the time of the test, not of import.
    now = time.time()
    token = mint_token(SECRET, "u-7", "Bo", "parley", 60, now)
    admission = HS.admit(token, "", now)
    assert admission is not None and admission.identity == Identity("u-7", "Bo")
