"""The webhook outbox, on SQLite and PostgreSQL: which events history steps queue, and how
rows are claimed, retried, deferred and failed."""

import asyncio
import re
import time
from dataclasses import replace

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.core.effects import CallRecord, RecordCall, RecordRoom
from parley.protocol.webhooks import AnyEvent, CallEnded, event_id
from parley.storage.database import migrate
from parley.storage.history import CallHistory
from parley.storage.outbox import Outbox
from parley.storage.schema import webhook_outbox

ENDPOINTS = ("http://127.0.0.1:9/a", "http://127.0.0.1:9/b")
LEASE = 60.0


@pytest.fixture
async def outbox(engine: AsyncEngine) -> Outbox:
    await migrate(engine)
    return Outbox(engine, ENDPOINTS)


def record(call: str = "c1", **changes: object) -> CallRecord:
    base = CallRecord(
        id=call,
        caller="u-ana",
        caller_name="Ana",
        callee="u-bo",
        callee_name="Bo",
        media="video",
        created=time.time() - 30,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def queued(engine: AsyncEngine) -> list[tuple[str, AnyEvent]]:
    """(endpoint, event) for every row, in the order they were queued."""
    async with engine.connect() as db:
        rows = (
            await db.execute(
                sa.select(webhook_outbox.c.endpoint, webhook_outbox.c.body).order_by(
                    webhook_outbox.c.id
                )
            )
        ).all()
    return [(row.endpoint, msgspec.json.decode(row.body, type=AnyEvent)) for row in rows]


async def test_each_call_step_queues_its_event_once_for_every_endpoint(
    engine: AsyncEngine, outbox: Outbox
) -> None:
    woken: list[int] = []
    history = CallHistory(engine, outbox=outbox, queued=lambda: woken.append(1))
    answered_at = time.time() - 20
    ended_at = time.time()
    await history.write(RecordCall("created", record()))
    await history.write(RecordCall("answered", record(answered=answered_at)))
    finished = record(answered=answered_at, ended=ended_at, end_reason="hangup", ended_by="u-bo")
    await history.write(RecordCall("ended", finished))
    # The same steps again (a cluster node writing a step another one wrote): nothing new.
    await history.write(RecordCall("created", record()))
    await history.write(RecordCall("ended", finished))

    events = await queued(engine)
    assert [(endpoint, event.__class__.__name__) for endpoint, event in events] == [
        (ENDPOINTS[0], "CallRinging"),
        (ENDPOINTS[1], "CallRinging"),
        (ENDPOINTS[0], "CallAnswered"),
        (ENDPOINTS[1], "CallAnswered"),
        (ENDPOINTS[0], "CallEnded"),
        (ENDPOINTS[1], "CallEnded"),
    ]
    assert len(woken) == 3
    ended = events[-1][1]
    assert isinstance(ended, CallEnded)
    assert ended.id == event_id("call.ended", "c1")
    data = ended.data
    assert (data.reason, data.by, data.missed, data.media) == ("hangup", "u-bo", False, "video")
    assert data.duration == pytest.approx(ended_at - answered_at, abs=0.01)
    assert (data.caller.id, data.caller.name, data.callee.name) == ("u-ana", "Ana", "Bo")


async def test_a_call_never_answered_is_missed_and_a_declined_one_is_not(
    engine: AsyncEngine, outbox: Outbox
) -> None:
    history = CallHistory(engine, outbox=outbox)
    for call, reason in (("c-missed", "no-answer"), ("c-declined", "declined")):
        await history.write(RecordCall("created", record(call)))
        await history.write(
            RecordCall("ended", record(call, ended=time.time(), end_reason=reason, ended_by=None))
        )
    ended = {e.data.call: e.data for _, e in await queued(engine) if isinstance(e, CallEnded)}
    assert ended["c-missed"].missed is True and ended["c-missed"].duration is None
    assert ended["c-declined"].missed is False


async def test_no_event_carries_sdp_or_an_address(engine: AsyncEngine, outbox: Outbox) -> None:
    history = CallHistory(engine, outbox=outbox)
    await history.write(RecordCall("created", record()))
    await history.write(RecordCall("ended", record(ended=time.time(), end_reason="cancelled")))
    await history.write(RecordRoom("started", "standup", time.time()))
    async with engine.connect() as db:
        bodies = [row[0] for row in await db.execute(sa.select(webhook_outbox.c.body))]
    assert len(bodies) == 6
    for body in bodies:
        text = body.decode()
        assert "v=0" not in text and "candidate" not in text, text
        assert not re.search(r"\b\d{1,3}(\.\d{1,3}){3}\b", text), text


async def test_room_steps_queue_started_and_ended(engine: AsyncEngine, outbox: Outbox) -> None:
    history = CallHistory(engine, outbox=outbox)
    started = time.time() - 90
    await history.write(RecordRoom("started", "standup", started))
    await history.write(RecordRoom("ended", "standup", started, started + 90))
    events = [e for endpoint, e in await queued(engine) if endpoint == ENDPOINTS[0]]
    assert [type(e).__name__ for e in events] == ["RoomStarted", "RoomEnded"]
    assert events[1].data.duration == pytest.approx(90)  # type: ignore[union-attr]
    assert events[0].id != events[1].id


async def test_calls_a_restart_left_open_end_with_an_event(
    engine: AsyncEngine, outbox: Outbox
) -> None:
    history = CallHistory(engine, outbox=outbox)
    await history.write(RecordCall("created", record("kept")))
    await history.write(RecordCall("created", record("forgotten")))
    await history.write(RecordCall("answered", record("forgotten", answered=time.time() - 10)))
    assert await history.finish_forgotten(time.time() + 1, {"kept"}, time.time()) == 1
    ended = [e for _, e in await queued(engine) if isinstance(e, CallEnded)]
    assert {e.data.call for e in ended} == {"forgotten"}
    assert ended[0].data.reason == "connection-lost"
    assert ended[0].data.duration == pytest.approx(10, abs=1)


async def test_a_row_is_claimed_by_one_sender_only(engine: AsyncEngine, outbox: Outbox) -> None:
    history = CallHistory(engine, outbox=outbox)
    for n in range(5):
        await history.write(RecordCall("created", record(f"c{n}")))
    now = time.time()
    first, second = await asyncio.gather(
        outbox.claim(now, LEASE, 100), Outbox(engine, ENDPOINTS).claim(now, LEASE, 100)
    )
    rows = [d.row for d in first] + [d.row for d in second]
    assert len(rows) == 10 and len(set(rows)) == 10
    # Claimed rows are nobody's until the lease runs out; then they are due again.
    assert await outbox.claim(now + 1, LEASE, 100) == []
    assert len(await outbox.claim(now + LEASE + 1, LEASE, 100)) == 10


async def test_retry_defer_fail_release_and_delivered(engine: AsyncEngine, outbox: Outbox) -> None:
    history = CallHistory(engine, outbox=outbox)
    for n in range(2):
        await history.write(RecordCall("created", record(f"c{n}")))
    now = time.time()
    a, b, c, d = await outbox.claim(now, LEASE, 100)
    await outbox.delivered(a.row)
    await outbox.retry(b.row, now + 30, "HTTP 503")
    await outbox.defer([c.row], now + 30)
    await outbox.release([d.row])
    level = await outbox.level()
    assert (level.pending, level.failed) == (3, 0)
    assert level.oldest_pending == pytest.approx(now, abs=2)
    # Only the released row is due now; the retried and deferred ones at their time.
    assert [x.row for x in await outbox.claim(now + 1, LEASE, 100)] == [d.row]
    later = await outbox.claim(now + 31, LEASE, 100)
    assert {x.row: x.attempts for x in later} == {b.row: 1, c.row: 0}
    await outbox.fail(b.row, now + 31, "HTTP 410")
    level = await outbox.level()
    assert (level.pending, level.failed) == (2, 1)
    assert await outbox.prune_failed(now + 32) == 1


async def test_without_endpoints_nothing_is_queued(engine: AsyncEngine) -> None:
    await migrate(engine)
    history = CallHistory(engine, outbox=Outbox(engine, ()))
    await history.write(RecordCall("created", record()))
    assert await queued(engine) == []
