"""The webhook outbox: events waiting to be delivered, kept in the database.

Rows are added in the transaction that writes the history step they tell of, so an event is
never lost to a crash or a restart, and never told of a step that was not stored. A sender
claims due rows for a lease (one UPDATE … RETURNING: two nodes never claim the same row), then
deletes each one delivered, or sets its next attempt, or marks it failed for good.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from parley.protocol.webhooks import AnyEvent
from parley.storage.schema import webhook_outbox

# Longer than the database keeps an error message useful, shorter than the column (200).
ERROR_LENGTH = 180


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one endpoint, claimed by this sender."""

    row: int
    event_id: str
    endpoint: str
    body: bytes
    created: float
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxLevel:
    pending: int
    failed: int
    oldest_pending: float | None  # when the oldest undelivered event was made


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _seconds(value: datetime) -> float:
    # SQLite hands back naive datetimes; they were written as UTC.
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


class Outbox:
    def __init__(self, engine: AsyncEngine, endpoints: tuple[str, ...]) -> None:
        self._engine = engine
        self.endpoints = endpoints

    async def add(self, db: AsyncConnection, events: list[AnyEvent], now: float) -> int:
        """Queues each event for every endpoint, inside the caller's transaction `db`. An event
        queued already (the same id) is not queued twice. Returns the rows added."""
        if not self.endpoints or not events:
            return 0
        insert = (
            postgresql.insert(webhook_outbox)
            if self._engine.dialect.name == "postgresql"
            else sqlite.insert(webhook_outbox)
        )
        rows = [
            {
                "event_id": event.id,
                "endpoint": endpoint,
                "body": msgspec.json.encode(event),
                "created_at": _at(now),
                "next_attempt_at": _at(now),
                "attempts": 0,
            }
            for event in events
            for endpoint in self.endpoints
        ]
        result = await db.execute(
            insert.values(rows).on_conflict_do_nothing(
                index_elements=[webhook_outbox.c.event_id, webhook_outbox.c.endpoint]
            )
        )
        return int(result.rowcount or 0)

    async def claim(self, now: float, lease_seconds: float, limit: int) -> list[Delivery]:
        """Takes up to `limit` due rows for `lease_seconds`, oldest first. A row claimed by
        another sender whose lease has run out (it crashed mid-send) is due again."""
        due = (
            sa.select(webhook_outbox.c.id)
            .where(
                webhook_outbox.c.failed_at.is_(None),
                webhook_outbox.c.next_attempt_at <= _at(now),
                sa.or_(
                    webhook_outbox.c.claimed_until.is_(None),
                    webhook_outbox.c.claimed_until < _at(now),
                ),
            )
            .order_by(webhook_outbox.c.id)
            .limit(limit)
        )
        # The conditions again in the UPDATE: PostgreSQL re-checks them on a row another
        # node claimed meanwhile, so that node keeps it; SQLite runs one writer at a time.
        claim = (
            webhook_outbox.update()
            .where(
                webhook_outbox.c.id.in_(due.scalar_subquery()),
                sa.or_(
                    webhook_outbox.c.claimed_until.is_(None),
                    webhook_outbox.c.claimed_until < _at(now),
                ),
            )
            .values(claimed_until=_at(now + lease_seconds))
            .returning(
                webhook_outbox.c.id,
                webhook_outbox.c.event_id,
                webhook_outbox.c.endpoint,
                webhook_outbox.c.body,
                webhook_outbox.c.created_at,
                webhook_outbox.c.attempts,
            )
        )
        async with self._engine.begin() as db:
            rows = (await db.execute(claim)).all()
        deliveries = [
            Delivery(row.id, row.event_id, row.endpoint, row.body, _seconds(row.created_at),
                     row.attempts)
            for row in rows
        ]  # fmt: skip
        return sorted(deliveries, key=lambda delivery: delivery.row)

    async def delivered(self, row: int) -> None:
        async with self._engine.begin() as db:
            await db.execute(webhook_outbox.delete().where(webhook_outbox.c.id == row))

    async def retry(self, row: int, at: float, error: str) -> None:
        await self._attempted(row, error, next_attempt_at=_at(at))

    async def fail(self, row: int, now: float, error: str) -> None:
        await self._attempted(row, error, failed_at=_at(now))

    async def _attempted(self, row: int, error: str, **outcome: object) -> None:
        """One more attempt on `row` has failed: count it, keep why, let go of the claim."""
        async with self._engine.begin() as db:
            await db.execute(
                webhook_outbox.update()
                .where(webhook_outbox.c.id == row)
                .values(
                    attempts=webhook_outbox.c.attempts + 1,
                    claimed_until=None,
                    last_error=error[:ERROR_LENGTH],
                    **outcome,
                )
            )

    async def defer(self, rows: list[int], at: float) -> None:
        """Puts claimed rows off until `at` without counting an attempt (an earlier row to the
        same endpoint just failed)."""
        if not rows:
            return
        async with self._engine.begin() as db:
            await db.execute(
                webhook_outbox.update()
                .where(webhook_outbox.c.id.in_(rows))
                .values(next_attempt_at=_at(at), claimed_until=None)
            )

    async def release(self, rows: list[int]) -> None:
        """Gives claimed rows back (the sender stops): due again at once, not after the lease."""
        if not rows:
            return
        async with self._engine.begin() as db:
            await db.execute(
                webhook_outbox.update()
                .where(webhook_outbox.c.id.in_(rows))
                .values(claimed_until=None)
            )

    async def level(self) -> OutboxLevel:
        pending = webhook_outbox.c.failed_at.is_(None)
        query = sa.select(
            sa.func.count().filter(pending),
            sa.func.count().filter(sa.not_(pending)),
            sa.func.min(webhook_outbox.c.created_at).filter(pending),
        )
        async with self._engine.connect() as db:
            waiting, failed, oldest = (await db.execute(query)).one()
        return OutboxLevel(int(waiting), int(failed), None if oldest is None else _seconds(oldest))

    async def prune_failed(self, before: float) -> int:
        """Deletes events that failed for good before `before` (with history retention)."""
        async with self._engine.begin() as db:
            result = await db.execute(
                webhook_outbox.delete().where(webhook_outbox.c.failed_at < _at(before))
            )
        return int(result.rowcount or 0)
