"""What the core asks its I/O layer to do. The core itself never touches a socket or a clock."""

from dataclasses import dataclass

from parley.protocol.messages import ServerMessage

TimerKey = tuple[str, str]
"""(purpose, subject): e.g. ("hello", session_id). Setting a key again replaces its deadline."""


@dataclass(frozen=True, slots=True)
class Send:
    session: str
    message: ServerMessage


@dataclass(frozen=True, slots=True)
class CloseSession:
    """Close the session's socket after what was already queued for it has been written."""

    session: str
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class StartTimer:
    key: TimerKey
    deadline: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    key: TimerKey


Effect = Send | CloseSession | StartTimer | CancelTimer
