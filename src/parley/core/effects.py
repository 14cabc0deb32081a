"""What the core asks its I/O layer to do. The core itself never touches a socket or a clock."""

from dataclasses import dataclass, field
from typing import Literal

from parley.protocol.errors import ErrorCode
from parley.protocol.messages import EndReason, Error, Media, RequestId, ServerMessage

TimerKey = tuple[str, str]
"""(purpose, subject): e.g. ("hello", session_id). Setting a key again replaces its deadline."""


@dataclass(slots=True)
class Send:
    """`seq` is filled in by the core as the message enters the session's replay log (0 for
    `welcome`, which is not numbered). It is not part of equality: tests compare what is sent."""

    session: str
    message: ServerMessage
    seq: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Rebind:
    """The socket `connection` serves `session` from now on (a resume): frames for the session
    go to it, and the provisional session the socket had is forgotten."""

    connection: str
    session: str


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Close one socket (not a session): the old socket of a session that was taken over."""

    connection: str
    code: int
    reason: str


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


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A call as the history keeps it: who, what, when, and how it ended. No SDP, no addresses."""

    id: str
    caller: str
    caller_name: str
    callee: str
    callee_name: str
    media: Media
    created: float
    answered: float | None = None
    ended: float | None = None
    end_reason: EndReason | None = None
    ended_by: str | None = None


@dataclass(frozen=True, slots=True)
class RecordCall:
    """Persist a step of a call's life. The core emits `ended` exactly once per call."""

    step: Literal["created", "answered", "ended"]
    record: CallRecord


@dataclass(frozen=True, slots=True)
class QualityRecord:
    """One side's summary of a call's connection (no addresses): for a direct call (`call`) or
    a room call (`room_session`, the reporting session)."""

    user: str
    call: str | None
    room_session: str | None
    reported: float
    duration_seconds: float
    rtt_mean_ms: float | None
    rtt_max_ms: float | None
    loss_percent: float | None
    send_kbps: float | None
    receive_kbps: float | None
    candidate_type: str | None
    protocol: str | None
    trouble: str | None = None


@dataclass(frozen=True, slots=True)
class RecordQuality:
    record: QualityRecord


@dataclass(frozen=True, slots=True)
class RecordRoom:
    """A room call began (its first member joined an empty room) or ended (its last member
    left, or the server stopped). Rooms have no history table: this feeds webhooks only."""

    step: Literal["started", "ended"]
    room: str
    started: float
    ended: float | None = None


Effect = (
    Send
    | Rebind
    | CloseConnection
    | CloseSession
    | StartTimer
    | CancelTimer
    | RecordCall
    | RecordQuality
    | RecordRoom
)


@dataclass(slots=True)
class Outcome:
    """Collects the effects of one event in the order they must happen."""

    effects: list[Effect] = field(default_factory=list)

    def send(self, session: str, message: ServerMessage) -> None:
        self.effects.append(Send(session, message))

    def error(self, session: str, code: ErrorCode, detail: str, request_id: RequestId) -> None:
        self.effects.append(Send(session, Error(id=request_id, code=code, message=detail)))
