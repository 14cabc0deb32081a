"""Calls across users, for the app API (`GET /api/v1/calls`): read from the same `calls` table
the history writer (parley.storage.history) fills, filtered by user, time and state, newest
first, a page at a time.

Pages are cut by keyset, not offset: a cursor holds the last call's (created, id), and the
next page starts strictly after it in the order (created, id) descending. So a page never
repeats or skips a call because calls were added meanwhile. The cursor is opaque to callers:
16 hex digits of the creation time in microseconds, then the id. Every string of that grammar
(protocol.app_api.CALL_CURSOR) is a position; anything else is refused.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.protocol.app_api import (
    CALL_CURSOR,
    AppCall,
    CallFilterState,
    CallStateName,
    Party,
)
from parley.storage.call_events import MISSED_REASONS
from parley.storage.schema import calls

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# A cursor past the last time a datetime holds is a position after every call.
_LAST = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND
_CURSOR = re.compile(CALL_CURSOR)


class BadCursor(ValueError):
    """The cursor is not one this server gave."""


@dataclass(frozen=True, slots=True)
class CallFilter:
    user: str | None = None
    state: CallFilterState | None = None
    since: float | None = None
    until: float | None = None


@dataclass(frozen=True, slots=True)
class CallsPage:
    calls: list[AppCall]
    next: str | None


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _seconds(value: datetime | None) -> float | None:
    return None if value is None else _utc(value).timestamp()


def encode_cursor(created: datetime, call: str) -> str:
    micros = (_utc(created) - _EPOCH) // _MICROSECOND
    return f"{max(micros, 0):016x}{call}"


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """(created, call id) of the last call of the page before; raises BadCursor."""
    if _CURSOR.fullmatch(cursor) is None:
        raise BadCursor("the cursor is not one this server gave")
    micros = min(int(cursor[:16], 16), _LAST)
    return _EPOCH + micros * _MICROSECOND, cursor[16:]


def _conditions(where: CallFilter) -> list[sa.ColumnElement[bool]]:
    c = calls.c
    found: list[sa.ColumnElement[bool]] = []
    if where.user is not None:
        found.append(sa.or_(c.caller == where.user, c.callee == where.user))
    if where.since is not None:
        found.append(c.created_at >= datetime.fromtimestamp(where.since, UTC))
    if where.until is not None:
        found.append(c.created_at < datetime.fromtimestamp(where.until, UTC))
    match where.state:
        case "ringing":
            found += [c.answered_at.is_(None), c.ended_at.is_(None)]
        case "answered":
            found += [c.answered_at.is_not(None), c.ended_at.is_(None)]
        case "ended":
            found.append(c.ended_at.is_not(None))
        case "missed":
            found += [
                c.ended_at.is_not(None),
                c.answered_at.is_(None),
                c.end_reason.in_(MISSED_REASONS),
            ]
    return found


class CallQueries:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def page(self, where: CallFilter, limit: int, cursor: str | None = None) -> CallsPage:
        """Up to `limit` calls matching `where`, newest first, after `cursor` (raises
        BadCursor)."""
        c = calls.c
        query = sa.select(calls).where(*_conditions(where))
        if cursor is not None:
            created, call = decode_cursor(cursor)
            query = query.where(
                sa.or_(c.created_at < created, sa.and_(c.created_at == created, c.id < call))
            )
        query = query.order_by(c.created_at.desc(), c.id.desc()).limit(limit + 1)
        async with self._engine.connect() as db:
            rows = (await db.execute(query)).mappings().all()
        more = len(rows) > limit
        rows = rows[:limit]
        after = encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more else None
        return CallsPage([_call(row) for row in rows], after)

    async def get(self, call_id: str) -> AppCall | None:
        async with self._engine.connect() as db:
            row = (await db.execute(sa.select(calls).where(calls.c.id == call_id))).mappings()
            found = row.first()
        return None if found is None else _call(found)


def _state(row: sa.RowMapping) -> CallStateName:
    if row["ended_at"] is not None:
        return "ended"
    return "ringing" if row["answered_at"] is None else "answered"


def _call(row: sa.RowMapping) -> AppCall:
    created = _seconds(row["created_at"])
    assert created is not None
    return AppCall(
        call=row["id"],
        caller=Party(row["caller"], row["caller_name"]),
        callee=Party(row["callee"], row["callee_name"]),
        media=row["media"],
        state=_state(row),
        created=created,
        answered=_seconds(row["answered_at"]),
        ended=_seconds(row["ended_at"]),
        reason=row["end_reason"],
        by=row["ended_by"],
        duration=None if row["duration_seconds"] is None else max(0.0, row["duration_seconds"]),
        missed=(
            row["ended_at"] is not None
            and row["answered_at"] is None
            and row["end_reason"] in MISSED_REASONS
        ),
    )
