"""Writes call history in order, off the signaling path, and reads a user's own calls.

The core emits each call's steps (created, answered, ended) in order; one writer task applies
them one after another, so a slow database delays history rows, never a ring or a relay. The
`ended` update only touches a row that is not ended yet: a call is finished exactly once.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from parley.core.effects import (
    CallRecord,
    QualityRecord,
    RecordCall,
    RecordQuality,
    RecordRoom,
)
from parley.protocol.webhooks import AnyEvent
from parley.storage import call_events
from parley.storage.call_events import MISSED_REASONS
from parley.storage.outbox import Outbox
from parley.storage.schema import call_quality, calls

log = logging.getLogger(__name__)

Step = RecordCall | RecordQuality | RecordRoom


@dataclass(frozen=True, slots=True)
class QualitySummary:
    """The asking user's own summary of the call's connection."""

    rtt_mean_ms: float | None
    rtt_max_ms: float | None
    loss_percent: float | None
    send_kbps: float | None
    receive_kbps: float | None
    candidate_type: str | None
    protocol: str | None
    trouble: str | None  # why media stopped reaching this side, if it did


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    id: str
    direction: str  # "outgoing" or "incoming", from the asking user's side
    peer: str
    peer_name: str
    media: str
    created: datetime
    answered: datetime | None
    ended: datetime | None
    duration_seconds: float | None
    end_reason: str | None
    ended_by: str | None
    missed: bool
    quality: QualitySummary | None = None


def _at(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def _as_utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; they were written as UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class CallHistory:
    """`outbox`, when webhooks are configured, gets each step's event in the step's own
    transaction; `queued` is then called (a sender waiting for work wakes up)."""

    def __init__(
        self,
        engine: AsyncEngine,
        backlog_warning: int = 10_000,
        outbox: Outbox | None = None,
        queued: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._queued = queued
        # Unbounded: no step of a call that rang is ever dropped (a dropped `ended` would leave
        # a call open for good, a dropped `created` lose it). What comes in is bounded instead,
        # by the core's invite limits (per user, per address and in all: 1,200 a minute).
        self._queue: asyncio.Queue[Step] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._backlog_warning = backlog_warning
        self._warned_at = 0

    def start(self) -> None:
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    @property
    def backlog(self) -> int:
        """Steps waiting to be written (a slow or unreachable database)."""
        return self._queue.qsize()

    def submit(self, step: Step) -> None:
        self._queue.put_nowait(step)
        waiting = self._queue.qsize()
        if waiting >= self._backlog_warning and waiting >= 2 * self._warned_at:
            self._warned_at = waiting  # 10k, 20k, 40k…: no log flood
            log.error("call history is %d steps behind: is the database reachable?", waiting)

    async def flush(self) -> None:
        """Returns once everything submitted so far is written."""
        await self._queue.join()

    async def stop(self) -> None:
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    async def _write_loop(self) -> None:
        while True:
            step = await self._queue.get()
            try:
                await self.write(step)
            except Exception:
                if isinstance(step, RecordRoom):
                    log.exception("could not queue the %s step of a room", step.step)
                else:
                    what = step.step if isinstance(step, RecordCall) else "quality"
                    log.exception("could not write the %s step of a call", what)
            finally:
                self._queue.task_done()

    async def write(self, step: Step) -> None:
        if isinstance(step, RecordQuality):
            await self._write_quality(step.record)
        elif isinstance(step, RecordRoom):
            # Rooms have no table: their steps are only told to webhooks.
            if self._outbox is not None:
                async with self._engine.begin() as db:
                    told = await self._tell(db, [call_events.room(step, time.time())])
                self._wake(told)
        else:
            await self._write_call(step)

    async def _tell(self, db: AsyncConnection, events: list[AnyEvent]) -> bool:
        """Queues webhook events in the transaction `db`; True when any was new."""
        return self._outbox is not None and bool(await self._outbox.add(db, events, time.time()))

    def _wake(self, told: bool) -> None:
        # Called after the commit: the sender's own query must see the rows.
        if told and self._queued is not None:
            self._queued()

    async def _write_call(self, step: RecordCall) -> None:
        record = step.record
        now = time.time()
        told = False
        async with self._engine.begin() as db:
            # In a cluster the steps of one call may be written by different nodes, in any
            # order: whichever comes first makes the row, and each later one only adds to it.
            await db.execute(self._insert_missing(_created_row(record)))
            if step.step == "created":
                # Told even when another step made the row first: the event's id is the
                # call's, so it is queued once however often it is made.
                told = await self._tell(db, [call_events.ringing(record, now)])
            elif step.step == "answered":
                await db.execute(
                    calls.update()
                    .where(calls.c.id == record.id)
                    .where(calls.c.answered_at.is_(None), calls.c.ended_at.is_(None))
                    .values(answered_at=_at(record.answered), media=record.media)
                )
                # Told even when the end was written first (by another node): it happened.
                told = await self._tell(db, [call_events.answered(record, now)])
            elif step.step == "ended":
                answered = record.answered
                stored = _as_utc(
                    await db.scalar(sa.select(calls.c.answered_at).where(calls.c.id == record.id))
                )
                if answered is None and stored is not None:
                    # A call taken back after a restart: this process never saw it answered.
                    answered = stored.timestamp()
                duration = (
                    record.ended - answered
                    if record.ended is not None and answered is not None
                    else None
                )
                result = await db.execute(
                    calls.update()
                    .where(calls.c.id == record.id, calls.c.ended_at.is_(None))
                    .values(
                        answered_at=_at(answered),
                        media=record.media,
                        ended_at=_at(record.ended),
                        end_reason=record.end_reason,
                        ended_by=record.ended_by,
                        duration_seconds=duration,
                    )
                )
                if result.rowcount:  # not when the call was finished already
                    finished = replace(record, answered=answered)
                    told = await self._tell(db, [call_events.ended(finished, duration, now)])
        self._wake(told)

    def _insert_missing(self, row: dict[str, object]) -> sa.Insert:
        """INSERT … ON CONFLICT DO NOTHING, in the database's own dialect."""
        insert = (
            postgresql.insert(calls)
            if self._engine.dialect.name == "postgresql"
            else sqlite.insert(calls)
        )
        return insert.values(**row).on_conflict_do_nothing(index_elements=[calls.c.id])

    async def prune(self, before: float) -> int:
        """Deletes the calls created before `before` (and their quality reports), and room
        quality reports as old. Returns how many calls went."""
        cutoff = _at(before)
        async with self._engine.begin() as db:
            old = sa.select(calls.c.id).where(calls.c.created_at < cutoff)
            await db.execute(call_quality.delete().where(call_quality.c.call_id.in_(old)))
            await db.execute(
                call_quality.delete().where(
                    call_quality.c.call_id.is_(None), call_quality.c.reported_at < cutoff
                )
            )
            result = await db.execute(calls.delete().where(calls.c.created_at < cutoff))
        return int(result.rowcount or 0)

    async def finish_forgotten(self, started: float, keep: set[str], now: float) -> int:
        """Ends the calls an earlier run of the server left open that nobody took back after
        its restart (`keep`: the ones that were), as `connection-lost`. Returns how many."""
        left_open = sa.and_(calls.c.ended_at.is_(None), calls.c.created_at < _at(started))
        if keep:
            left_open = sa.and_(left_open, calls.c.id.not_in(keep))
        async with self._engine.begin() as db:
            rows = (await db.execute(sa.select(calls).where(left_open))).mappings().all()
            result = await db.execute(
                calls.update()
                .where(left_open)
                .values(ended_at=_at(now), end_reason="connection-lost")
            )
            told = await self._tell(db, [_forgotten_end(row, now) for row in rows])
        self._wake(told)
        return int(result.rowcount or 0)

    async def _write_quality(self, record: QualityRecord) -> None:
        values = {
            "user": record.user,
            "call_id": record.call,
            "room_session": record.room_session,
            "reported_at": _at(record.reported),
            "duration_seconds": record.duration_seconds,
            "rtt_mean_ms": record.rtt_mean_ms,
            "rtt_max_ms": record.rtt_max_ms,
            "loss_percent": record.loss_percent,
            "send_kbps": record.send_kbps,
            "receive_kbps": record.receive_kbps,
            "candidate_type": record.candidate_type,
            "protocol": record.protocol,
            "trouble": record.trouble,
        }
        try:
            async with self._engine.begin() as db:
                await db.execute(call_quality.insert().values(**values))
        except sa.exc.IntegrityError:
            log.debug("a second quality report for one call was not stored")

    async def for_user(
        self, user: str, limit: int = 50, before: datetime | None = None
    ) -> list[HistoryEntry]:
        """The user's own calls, newest first."""
        mine = call_quality.alias("mine")
        query = (
            sa.select(
                calls,
                mine.c.rtt_mean_ms,
                mine.c.rtt_max_ms,
                mine.c.loss_percent,
                mine.c.send_kbps,
                mine.c.receive_kbps,
                mine.c.candidate_type,
                mine.c.protocol,
                mine.c.trouble,
                mine.c.id.label("quality_id"),
            )
            .select_from(
                calls.outerjoin(mine, sa.and_(mine.c.call_id == calls.c.id, mine.c.user == user))
            )
            .where(sa.or_(calls.c.caller == user, calls.c.callee == user))
            .order_by(calls.c.created_at.desc(), calls.c.id)
            .limit(limit)
        )
        if before is not None:
            # SQLite keeps no zone: rows hold UTC clock readings, so compare in UTC.
            query = query.where(calls.c.created_at < before.astimezone(UTC))
        async with self._engine.connect() as db:
            rows = (await db.execute(query)).mappings().all()
        return [_entry(row, user) for row in rows]


def _timestamp(value: datetime) -> float:
    stamped = _as_utc(value)
    assert stamped is not None
    return stamped.timestamp()


def _forgotten_end(row: sa.RowMapping, now: float) -> AnyEvent:
    answered = _as_utc(row["answered_at"])
    record = CallRecord(
        id=row["id"],
        caller=row["caller"],
        caller_name=row["caller_name"],
        callee=row["callee"],
        callee_name=row["callee_name"],
        media=row["media"],
        created=_timestamp(row["created_at"]),
        answered=None if answered is None else answered.timestamp(),
        ended=now,
        end_reason="connection-lost",
    )
    duration = None if record.answered is None else now - record.answered
    return call_events.ended(record, duration, now)


def _created_row(record: CallRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "caller": record.caller,
        "caller_name": record.caller_name,
        "callee": record.callee,
        "callee_name": record.callee_name,
        "media": record.media,
        "created_at": _at(record.created),
    }


def _entry(row: sa.RowMapping, user: str) -> HistoryEntry:
    outgoing = row["caller"] == user
    created = _as_utc(row["created_at"])
    assert created is not None
    return HistoryEntry(
        id=row["id"],
        direction="outgoing" if outgoing else "incoming",
        peer=row["callee"] if outgoing else row["caller"],
        peer_name=row["callee_name"] if outgoing else row["caller_name"],
        media=row["media"],
        created=created,
        answered=_as_utc(row["answered_at"]),
        ended=_as_utc(row["ended_at"]),
        duration_seconds=row["duration_seconds"],
        end_reason=row["end_reason"],
        ended_by=row["ended_by"],
        missed=(
            not outgoing and row["answered_at"] is None and row["end_reason"] in MISSED_REASONS
        ),
        quality=None
        if row["quality_id"] is None
        else QualitySummary(
            rtt_mean_ms=row["rtt_mean_ms"],
            rtt_max_ms=row["rtt_max_ms"],
            loss_percent=row["loss_percent"],
            send_kbps=row["send_kbps"],
            receive_kbps=row["receive_kbps"],
            candidate_type=row["candidate_type"],
            protocol=row["protocol"],
            trouble=row["trouble"],
        ),
    )
