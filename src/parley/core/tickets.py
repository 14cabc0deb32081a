"""Proof that a call was answered between two users, for taking it back after a restart.

When a call is answered both sides get a ticket: an HMAC, under the server's own secret, of
the call id and its two users. A server that restarted has forgotten the call, so `resume-call`
must show that ticket: an invented call id, or a real one with another user, is refused, and
nothing is recorded (without it, anyone could write a call into a stranger's history and learn
whether they were busy). The key outlives restarts (it is derived from the server's secret),
so a crash that lost the history row still lets the two take their call back.
"""

import hashlib
import hmac
import secrets

# 128 bits: the same strength as call ids; the ticket travels with the call's own messages.
_TICKET_BYTES = 16


class CallTickets:
    def __init__(self, key: bytes | None = None) -> None:
        # Without a key of the server's, tickets hold only as long as this process lives.
        self._key = key or secrets.token_bytes(32)

    def issue(self, call: str, caller: str, callee: str) -> str:
        message = "\x00".join(("parley-call-ticket-v1", call, caller, callee)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[: 2 * _TICKET_BYTES]

    def valid(self, ticket: str, call: str, caller: str, callee: str) -> bool:
        return hmac.compare_digest(ticket.encode(), self.issue(call, caller, callee).encode())
