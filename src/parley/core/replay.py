"""What a session was sent, numbered, so that a client whose socket dropped gets the rest.

Frames vanish with a dead TCP connection even after the server wrote them (they sat in a send
buffer), so the log keeps the last few messages whether or not the session is connected; a
client says the highest `seq` it saw and is sent everything after it, once, in order.
"""

from collections import deque

import msgspec

from parley.protocol.codec import encode
from parley.protocol.messages import SERVER_MESSAGE_TYPES, ServerMessage
from parley.protocol.routing import WIRE_TYPE, ForwardedAnswer, ForwardedCandidate, ForwardedOffer

# What keeping an entry costs beyond its JSON: the message object, its strings' headers, the
# log's tuple (about 200 bytes in CPython 3.11 for a candidate; rounded up).
ENTRY_OVERHEAD_BYTES = 256
# A forwarded relay's JSON around its payload: {"seq":N,"type":"candidate","from":"…","candidate":…}
# with a 22-character session id comes to 70 bytes; 96 leaves room for a longer seq.
_FORWARD_ENVELOPE_BYTES = 96

_FORWARDED = (ForwardedOffer, ForwardedAnswer)

# A logged message is snapshotted as its JSON and its class (a forwarded relay and its typed
# twin share a wire `type`, and a forwarded payload is JSON text that only JSON can carry).
_LOGGED_TYPES: dict[str, type[ServerMessage]] = {
    cls.__name__: cls for cls in (*SERVER_MESSAGE_TYPES, *WIRE_TYPE)
}


class LoggedMessage(msgspec.Struct, frozen=True, array_like=True):
    seq: int
    kind: str
    json: bytes
    size: int


class LogState(msgspec.Struct, frozen=True, kw_only=True):
    """A ReplayLog as plain data (see CoreSnapshot)."""

    capacity: int
    max_bytes: int
    last_seq: int
    # None until the first message was kept (most logs never keep one).
    entries: list[LoggedMessage] | None = None


def weigh(message: ServerMessage) -> int:
    """What `message` costs to keep: at least its JSON as sent, whatever a client put in it.

    A relay goes on as the client's own JSON (unknown fields and whitespace included), so it
    is weighed by that JSON's length, not by what the models would keep: padded candidates
    weighed as small messages once grew a receiver's log to ~19 MiB against a 256 KiB cap."""
    kind = type(message)
    if kind is ForwardedCandidate:
        raw = message.candidate  # type: ignore[attr-defined]
        return len(raw) + _FORWARD_ENVELOPE_BYTES + ENTRY_OVERHEAD_BYTES
    if kind in _FORWARDED:
        return len(message.sdp) + _FORWARD_ENVELOPE_BYTES + ENTRY_OVERHEAD_BYTES  # type: ignore[attr-defined]
    return _encoded_size(message) + ENTRY_OVERHEAD_BYTES


# The last message weighed, and its size: a presence change or a room's news goes to many
# sessions as one object, and is encoded once for all of their logs.
_last_weighed: tuple[ServerMessage | None, int] = (None, 0)


def _encoded_size(message: ServerMessage) -> int:
    global _last_weighed
    last, size = _last_weighed
    if last is not message:
        size = len(encode(message))
        _last_weighed = (message, size)
    return size


class ReplayLog:
    __slots__ = ("_bytes", "_capacity", "_entries", "_max_bytes", "last_seq")

    def __init__(self, capacity: int, max_bytes: int) -> None:
        self._capacity = capacity
        self._max_bytes = max_bytes
        # Most sessions get a handful of messages in their life: allocate the deque on demand.
        self._entries: deque[tuple[int, ServerMessage, int]] | None = None
        self._bytes = 0
        self.last_seq = 0

    def export(self) -> LogState:
        entries = None
        if self._entries is not None:
            entries = [
                LoggedMessage(seq, type(message).__name__, msgspec.json.encode(message), size)
                for seq, message, size in self._entries
            ]
        return LogState(
            capacity=self._capacity,
            max_bytes=self._max_bytes,
            last_seq=self.last_seq,
            entries=entries,
        )

    @classmethod
    def restore(cls, state: LogState) -> "ReplayLog":
        log = cls(state.capacity, state.max_bytes)
        log.last_seq = state.last_seq
        if state.entries is not None:
            log._entries = deque(
                (e.seq, msgspec.json.decode(e.json, type=_LOGGED_TYPES[e.kind]), e.size)
                for e in state.entries
            )
            log._bytes = sum(e.size for e in state.entries)
        return log

    def append(self, message: ServerMessage) -> int:
        seq = self.last_seq = self.last_seq + 1
        if self._capacity <= 0:
            return seq
        entries = self._entries
        if entries is None:
            entries = self._entries = deque()
        size = weigh(message)
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
