"""What a session was sent, numbered, so that a client whose socket dropped gets the rest.

Frames vanish with a dead TCP connection even after the server wrote them (they sat in a send
buffer), so the log keeps the last few messages whether or not the session is connected; a
client says the highest `seq` it saw and is sent everything after it, once, in order.
"""

from collections import deque

from parley.protocol.messages import ServerMessage


class ReplayLog:
    __slots__ = ("_capacity", "_entries", "last_seq")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        # Most sessions get a handful of messages in their life: allocate the deque on demand.
        self._entries: deque[tuple[int, ServerMessage]] | None = None
        self.last_seq = 0

    def append(self, message: ServerMessage) -> int:
        self.last_seq += 1
        if self._capacity > 0:
            if self._entries is None:
                self._entries = deque(maxlen=self._capacity)
            self._entries.append((self.last_seq, message))
        return self.last_seq

    def after(self, seq: int) -> list[tuple[int, ServerMessage]] | None:
        """The messages numbered above `seq`, oldest first; None when some of them were
        already dropped (or `seq` is from the future), so an exact replay is impossible."""
        if seq > self.last_seq or seq < 0:
            return None
        if seq == self.last_seq:
            return []
        entries = self._entries or deque()
        oldest = entries[0][0] if entries else self.last_seq + 1
        if seq + 1 < oldest:
            return None
        return [entry for entry in entries if entry[0] > seq]
