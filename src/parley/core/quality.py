"""Call quality reports: a summary of a call's connection, sent by each side at hang-up and
stored with the call's history (a direct call) or under the reporting session (a room call)."""

from parley.core.calls import CallService
from parley.core.effects import Outcome, QualityRecord, RecordQuality
from parley.core.limits import PerMinuteLimit
from parley.core.sessions import Session
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import Quality, QualitySaved

# A quality report comes at hang-up, from both sides: the one that did not hang up, a moment later.
QUALITY_GRACE_SECONDS = 300.0
# What a session reported on for its current room call (a direct call is named by its id).
ROOM_REPORT = "room"


def room_visit(session: Session) -> str:
    """Names one room call of a session: its id, then id/2, id/3… as it joins again."""
    return session.id if session.room_visits <= 1 else f"{session.id}/{session.room_visits}"


class QualityReports:
    def __init__(self, calls: CallService, per_minute: int) -> None:
        self._calls = calls
        # A report per call at hang-up: a few a minute at most, each one a database row.
        self.limit = PerMinuteLimit(per_minute)

    def report(
        self, session: Session, user: str, message: Quality, now: float, out: Outcome
    ) -> None:
        if not self.limit.allow(user, now):
            out.error(session.id, ErrorCode.RATE_LIMITED, "too many quality reports", message.id)
            return
        if message.call is not None:
            if not self._calls.is_party(message.call, user, now, QUALITY_GRACE_SECONDS):
                out.error(session.id, ErrorCode.CALL_NOT_FOUND, "no such call", message.id)
                return
        elif session.room is None:
            out.error(session.id, ErrorCode.NOT_IN_ROOM, "no call to report on", message.id)
            return
        subject = message.call if message.call is not None else ROOM_REPORT
        if session.reported is None:
            session.reported = set()
        elif subject in session.reported:
            out.send(session.id, QualitySaved(id=message.id))
            return
        session.reported.add(subject)
        out.effects.append(RecordQuality(_record(session, user, message, now)))
        out.send(session.id, QualitySaved(id=message.id))


def _record(session: Session, user: str, message: Quality, now: float) -> QualityRecord:
    return QualityRecord(
        user=user,
        call=message.call,
        room_session=None if message.call is not None else room_visit(session),
        reported=now,
        duration_seconds=message.durationSeconds,
        rtt_mean_ms=message.rttMeanMs,
        rtt_max_ms=message.rttMaxMs,
        loss_percent=message.lossPercent,
        send_kbps=message.sendKbps,
        receive_kbps=message.receiveKbps,
        candidate_type=message.candidateType,
        protocol=message.protocol,
        trouble=message.trouble,
    )
