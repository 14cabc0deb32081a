"""Ids every replica derives alike: the core asks for new ids (sessions' resume tokens, call
ids, guest users) while it handles an event, and each node must come up with the same ones.
They are keyed by the cluster's secret, so clients cannot predict them, and by the generation
(a log started afresh), so that they never repeat."""

import base64
import hashlib
import hmac

from parley.core.ids import ID_BYTES


class EventIds:
    def __init__(self, secret: bytes, generation: str) -> None:
        self._secret = secret
        self._generation = generation.encode()
        self._event = 0
        self._drawn = 0

    def start_generation(self, generation: str) -> None:
        self._generation = generation.encode()

    def begin(self, event: int) -> None:
        """Ids from now on belong to log entry number `event`."""
        self._event = event
        self._drawn = 0

    def __call__(self) -> str:
        self._drawn += 1
        message = b"%s.%d.%d" % (self._generation, self._event, self._drawn)
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()[:ID_BYTES]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
