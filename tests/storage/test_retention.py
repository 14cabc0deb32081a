"""History is bounded: calls older than the retention (90 days by default) are deleted, with
their quality reports, and room reports as old; newer ones stay whole."""

import asyncio
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.config import ServerSettings
from parley.core.effects import CallRecord, QualityRecord, RecordCall, RecordQuality
from parley.storage.database import migrate, open_engine
from parley.storage.history import CallHistory
from parley.storage.schema import call_quality, calls
from tests.server.helpers import StartServer

DAY = 86_400.0


def call(call_id: str, created: float) -> CallRecord:
    return CallRecord(
        id=call_id,
        caller="ann",
        caller_name="Ann",
        callee="bob",
        callee_name="Bob",
        media="audio",
        created=created,
        answered=created + 2,
        ended=created + 60,
        end_reason="hangup",
        ended_by="ann",
    )


def report(call_id: str | None, reported: float, room_session: str | None = None) -> QualityRecord:
    return QualityRecord(
        user="ann",
        call=call_id,
        room_session=room_session,
        reported=reported,
        duration_seconds=58.0,
        rtt_mean_ms=20.0,
        rtt_max_ms=40.0,
        loss_percent=0.0,
        send_kbps=30.0,
        receive_kbps=30.0,
        candidate_type="host",
        protocol="udp",
    )


async def stored(engine: AsyncEngine) -> tuple[list[str], list[str]]:
    async with engine.connect() as db:
        ids = [r.id for r in await db.execute(sa.select(calls.c.id))]
        quality = await db.execute(sa.select(call_quality.c.call_id, call_quality.c.room_session))
        reports = [r.call_id or r.room_session for r in quality]
    return sorted(ids), sorted(reports)


async def fill(history: CallHistory, now: float) -> None:
    for call_id, age in (("old", 91 * DAY), ("recent", 89 * DAY), ("today", 0.0)):
        record = call(call_id, now - age)
        await history.write(RecordCall("created", record))
        await history.write(RecordCall("ended", record))
        await history.write(RecordQuality(report(call_id, now - age + 60)))
    await history.write(RecordQuality(report(None, now - 91 * DAY, room_session="old-room")))
    await history.write(RecordQuality(report(None, now - DAY, room_session="new-room")))


async def test_prune_deletes_what_is_older_than_the_cutoff_and_nothing_else(
    history: CallHistory, engine: AsyncEngine
) -> None:
    now = time.time()
    await fill(history, now)
    assert await history.prune(now - 90 * DAY) == 1
    assert await stored(engine) == (["recent", "today"], ["new-room", "recent", "today"])
    assert await history.prune(now - 90 * DAY) == 0, "a second run finds nothing"


async def test_a_server_deletes_old_history_at_start(
    start_server: StartServer, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'history.db'}"
    engine = open_engine(url)
    try:
        await migrate(engine)
        await fill(CallHistory(engine), time.time())
        await start_server(ServerSettings(database_url=url, history_days=30))
        for _ in range(50):
            ids, _ = await stored(engine)
            if ids == ["today"]:
                break
            await asyncio.sleep(0.1)
        assert await stored(engine) == (["today"], ["new-room", "today"])
    finally:
        await engine.dispose()
