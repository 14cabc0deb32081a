"""Who a session belongs to, as the core sees it: a user id and a display name, granted by an
identity provider when a `hello` arrives. How a token is checked (guest tokens, JWTs) is the
provider's business, outside the core (parley.identity)."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Identity:
    user: str
    name: str


@dataclass(frozen=True, slots=True)
class Admission:
    """The identity a hello was granted, and a token to present next time (when one is new)."""

    identity: Identity
    token: str | None


class IdentityProvider(Protocol):
    def admit(self, token: str | None, name: str, now: float) -> Admission | None:
        """The identity for a hello, or None when the token is refused."""

    def user_for_token(self, token: str, now: float) -> str | None:
        """The user id a bearer token stands for (HTTP API calls), or None."""
