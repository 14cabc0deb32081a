"""The webhook event each history step makes: what a host app is told about a call or a room.

Built from the core's records, which hold no SDP and no addresses, so no event can carry any.
"""

from parley.core.effects import CallRecord, RecordRoom
from parley.protocol.webhooks import (
    AnyEvent,
    CallAnswered,
    CallData,
    CallEnded,
    CallRinging,
    Party,
    RoomData,
    RoomEnded,
    RoomStarted,
    event_id,
)

# Not reached: the callee never picked up. Declined calls were seen, so they are not "missed".
MISSED_REASONS = ("no-answer", "cancelled", "offline", "busy", "connection-lost")


def _call_data(record: CallRecord) -> CallData:
    return CallData(
        call=record.id,
        caller=Party(record.caller, record.caller_name),
        callee=Party(record.callee, record.callee_name),
        media=record.media,
        created=record.created,
        answered=record.answered,
    )


def ringing(record: CallRecord, now: float) -> CallRinging:
    return CallRinging(id=event_id("call.ringing", record.id), created=now, data=_call_data(record))


def answered(record: CallRecord, now: float) -> CallAnswered:
    return CallAnswered(
        id=event_id("call.answered", record.id), created=now, data=_call_data(record)
    )


def ended(record: CallRecord, duration: float | None, now: float) -> CallEnded:
    """`record` as finished (its `answered` taken from the stored row when this process never
    saw the answer: a call taken back after a restart)."""
    data = _call_data(record)
    data.ended = record.ended
    data.reason = record.end_reason
    data.by = record.ended_by
    data.duration = None if duration is None else max(0.0, duration)
    data.missed = record.answered is None and record.end_reason in MISSED_REASONS
    return CallEnded(id=event_id("call.ended", record.id), created=now, data=data)


def room(step: RecordRoom, now: float) -> AnyEvent:
    """A room call's start or end; one room name hosts many calls, told apart by `started`."""
    subject = f"{step.room}\n{step.started!r}"
    if step.step == "started":
        return RoomStarted(
            id=event_id("room.started", subject),
            created=now,
            data=RoomData(room=step.room, started=step.started),
        )
    duration = None if step.ended is None else max(0.0, step.ended - step.started)
    return RoomEnded(
        id=event_id("room.ended", subject),
        created=now,
        data=RoomData(room=step.room, started=step.started, ended=step.ended, duration=duration),
    )
