"""Time-limited TURN credentials, the "TURN REST API" scheme coturn implements with
`use-auth-secret`: username `<expiry unix time>:<user id>`, password
`base64(HMAC-SHA1(shared secret, username))`. coturn recomputes the password from the username
with the same secret and refuses it once the expiry has passed; the secret itself never leaves
Parley or coturn.
"""

import base64
import hashlib
import hmac
from dataclasses import dataclass

from parley.protocol.messages import IceServer


def turn_password(secret: bytes, username: str) -> str:
    digest = hmac.new(secret, username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class TurnCredentialIssuer:
    """What `CoreSettings.turn` takes (it satisfies parley.core.settings.TurnCredentials)."""

    urls: tuple[str, ...]
    secret: bytes
    lifetime: int = 3600

    def issue(self, user: str, now: float) -> IceServer:
        username = f"{int(now) + self.lifetime}:{user}"
        return IceServer(
            urls=list(self.urls), username=username, credential=turn_password(self.secret, username)
        )
