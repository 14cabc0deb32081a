"""TURN REST API credentials, checked against the scheme's definition (HMAC-SHA1, base64)."""

import base64
import hashlib
import hmac

from parley.turn.credentials import TurnCredentialIssuer, turn_password


def test_password_is_base64_hmac_sha1_of_the_username() -> None:
    expected = base64.b64encode(hmac.new(b"secret", b"1700000000:ana", hashlib.sha1).digest())
    assert turn_password(b"secret", "1700000000:ana") == expected.decode()


def test_known_vector() -> None:
    # From openssl, not Python:
    # printf '1434373460:user' | openssl dgst -sha1 -hmac secret -binary | base64
    assert turn_password(b"secret", "1434373460:user") == "cwmLZbVlZR6711x3ZmNn9GRHbPg="


def test_issued_username_names_the_expiry_and_user_and_the_password_matches() -> None:
    issuer = TurnCredentialIssuer(urls=("turn:t.example:3478", "turns:t.example:443"), secret=b"s")
    server = issuer.issue("user-1", now=1000.9)
    assert server.urls == ["turn:t.example:3478", "turns:t.example:443"]
    assert server.username == "4600:user-1"
    assert server.credential == turn_password(b"s", "4600:user-1")


def test_a_different_secret_gives_a_different_password() -> None:
    assert turn_password(b"a", "1:u") != turn_password(b"b", "1:u")
