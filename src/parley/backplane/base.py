"""The one interface every route to a session goes through."""

from typing import Protocol


class SessionSink(Protocol):
    """Where a session's frames end up: in practice a socket's outbox."""

    def push(self, frame: bytes) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


class Backplane(Protocol):
    def attach(self, session: str, sink: SessionSink) -> None:
        """Frames for `session` go to `sink` from now on."""

    def detach(self, session: str, sink: SessionSink) -> None:
        """`sink` no longer serves the session (its socket closed); frames for the session are
        dropped until a sink is attached again. A sink that replaced it stays."""

    def deliver(self, session: str, frame: bytes) -> bool:
        """Queues a frame for the session; False when no such session is attached."""

    def close(self, session: str, code: int, reason: str) -> bool:
        """Closes the session's socket after the frames already queued for it."""
