"""Who a connection belongs to. Everything that establishes identity sits behind this seam.

In the embedded default (no accounts) a visitor gets a *guest token*: a random user id signed
with the server's secret. The browser keeps it, so the same person keeps the same id across
tabs and visits, and nobody can take another guest's id without holding that guest's token.
Host-app identities (JWT) plug in as another IdentityProvider.

The model the core works with (Identity, Admission, the IdentityProvider protocol) lives in
parley.core.identity and is re-exported here; this module holds the providers, which the core
never imports.
"""

import base64
import hashlib
import hmac
from collections.abc import Callable

import jwt

from parley.core.identity import Admission, Identity, IdentityProvider
from parley.core.ids import random_id

__all__ = [
    "JWT_LEEWAY_SECONDS",
    "Admission",
    "GuestIdentities",
    "Identity",
    "IdentityProvider",
    "JwtIdentities",
    "mint_token",
]

_GUEST_PREFIX = "g1"


class GuestIdentities:
    def __init__(self, secret: bytes, new_id: Callable[[], str] = random_id) -> None:
        if len(secret) < 16:
            raise ValueError("the guest-token secret needs at least 16 bytes")
        self._secret = secret
        # A cluster's replicas must all name a new guest alike: they share one id source.
        self._new_id = new_id

    def admit(self, token: str | None, name: str, now: float) -> Admission | None:
        user = self._verify(token) if token is not None else None
        if user is not None:
            return Admission(Identity(user, name), None)
        # No token, or one from another server or secret: a guest simply becomes a new guest.
        user = self._new_id()
        return Admission(Identity(user, name), self._sign(user))

    def user_for_token(self, token: str, now: float) -> str | None:
        return self._verify(token)

    def _sign(self, user: str) -> str:
        return f"{_GUEST_PREFIX}.{user}.{self._mac(user)}"

    def _verify(self, token: str) -> str | None:
        prefix, _, rest = token.partition(".")
        user, _, mac = rest.partition(".")
        if prefix != _GUEST_PREFIX or not user or not mac:
            return None
        # Bytes, not str: compare_digest refuses non-ASCII strings, and tokens come from clients.
        return user if hmac.compare_digest(mac.encode(), self._mac(user).encode()) else None

    def _mac(self, user: str) -> str:
        digest = hmac.new(self._secret, f"{_GUEST_PREFIX}.{user}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


JWT_LEEWAY_SECONDS = 30.0


class JwtIdentities:
    """Identities from a host app: it signs a JWT (HS256 with a shared secret, or RS256/ES256
    with its private key) whose `sub` is the user id and `name` the display name. Nothing the
    client says beside the token counts."""

    def __init__(self, key: str | bytes, algorithms: tuple[str, ...], audience: str) -> None:
        if not algorithms or any(a.lower() == "none" for a in algorithms):
            raise ValueError("JWT algorithms must be given, and never 'none'")
        self._key = key
        self._algorithms = list(algorithms)
        self._audience = audience

    def admit(self, token: str | None, name: str, now: float) -> Admission | None:
        claims = self._claims(token, now)
        if claims is None:
            return None
        user = str(claims["sub"])
        return Admission(Identity(user, str(claims.get("name") or user)[:64]), None)

    def user_for_token(self, token: str, now: float) -> str | None:
        claims = self._claims(token, now)
        return str(claims["sub"]) if claims is not None else None

    def _claims(self, token: str | None, now: float) -> dict[str, object] | None:
        if not token:
            return None
        try:
            claims: dict[str, object] = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                audience=self._audience,
                # Times are checked against `now` below, not the wall clock: every replica of a
                # cluster must reach the same verdict on the same hello.
                options={"require": ["exp", "sub"], "verify_exp": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            return None
        expires, not_before = claims.get("exp"), claims.get("nbf")
        if not isinstance(expires, int | float) or expires + JWT_LEEWAY_SECONDS <= now:
            return None
        if not_before is not None and (
            not isinstance(not_before, int | float) or not_before > now + JWT_LEEWAY_SECONDS
        ):
            return None
        issued = claims.get("iat")
        if isinstance(issued, int | float) and issued > now + JWT_LEEWAY_SECONDS:
            return None  # issued in the future: a clock or a forgery problem, refused either way
        return claims


def mint_token(secret: str, user: str, name: str, audience: str, lifetime: int, now: float) -> str:
    """An HS256 token as a host app would issue it (for `parley token` and tests)."""
    claims = {
        "sub": user,
        "name": name,
        "aud": audience,
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now) + lifetime,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
