"""What a session was sent, numbered, so that a client whose socket dropped gets the rest.

Frames vanish with a dead TCP connection even after the server wrote them (they sat in a send
buffer), so the log keeps the last few messages whether or not the session is connected; a
client says the highest `seq` it saw and is sent everything after it, once, in order.
"""

from collections import deque

from parley.protocol.messages import (
    CallAccepted,
    IncomingCall,
    RelayedAnswer,
    RelayedOffer,
    ServerMessage,
)
from parley.protocol.routing import ForwardedAnswer, ForwardedOffer

# What a message that is not an SDP weighs in the log, roughly (candidates, presence, calls).
SMALL_MESSAGE_BYTES = 256


_DESCRIPTIONS = (RelayedOffer, RelayedAnswer, ForwardedOffer, ForwardedAnswer)


class ReplayLog:
    __slots__ = ("_bytes", "_capacity", "_entries", "_max_bytes", "last_seq")

    def __init__(self, capacity: int, max_bytes: int) -> None:
        self._capacity = capacity
        self._max_bytes = max_bytes
        # Most sessions get a handful of messages in their life: allocate the deque on demand.
        self._entries: deque[tuple[int, ServerMessage, int]] | None = None
        self._bytes = 0
        self.last_seq = 0

    def append(self, message: ServerMessage) -> int:
        seq = self.last_seq = self.last_seq + 1
        if self._capacity <= 0:
            return seq
        entries = self._entries
        if entries is None:
            entries = self._entries = deque()
        # What the message weighs in the log, roughly.
        if type(message) in _DESCRIPTIONS:
            size = len(message.sdp) + SMALL_MESSAGE_BYTES  # type: ignore[attr-defined]
        elif type(message) is IncomingCall and message.offer is not None:
            # A ringing device is sent the caller's offer (up to an SDP's length) with the call.
            size = len(message.offer) + SMALL_MESSAGE_BYTES
        elif type(message) is CallAccepted and message.answer is not None:
            # The callee's answer, made while ringing, comes to the caller with the call's answer.
            size = len(message.answer) + SMALL_MESSAGE_BYTES
        else:
            size = SMALL_MESSAGE_BYTES
        entries.append((seq, message, size))
        self._bytes += size
        # One in, at most one out for the count (the log is full in a busy session, so this
        # runs on nearly every relay); the byte budget may take several.
        if len(entries) > self._capacity:
            self._bytes -= entries.popleft()[2]
        if self._bytes > self._max_bytes:
            self._trim_bytes(entries)
        return seq

    def _trim_bytes(self, entries: deque[tuple[int, ServerMessage, int]]) -> None:
        while self._bytes > self._max_bytes and len(entries) > 1:
            self._bytes -= entries.popleft()[2]

    @property
    def oldest_seq(self) -> int:
        """The first seq still kept (last_seq + 1 when none is)."""
        return self._entries[0][0] if self._entries else self.last_seq + 1

    def after(self, seq: int) -> list[tuple[int, ServerMessage]] | None:
        """The messages numbered above `seq`, oldest first; None when some of them were
        already dropped (or `seq` is from the future), so an exact replay is impossible."""
        if seq > self.last_seq or seq < 0:
            return None
        if seq == self.last_seq:
            return []
        if seq + 1 < self.oldest_seq:
            return None
        return [(number, message) for number, message, _ in self._entries or () if number > seq]
