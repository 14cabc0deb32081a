"""Quality summaries in storage, on SQLite and PostgreSQL: one row per user and call, each user's
history showing only their own report, and every field read back as it was written."""

import dataclasses
import logging
from datetime import UTC, datetime
from typing import Any, get_args

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.core.effects import CallRecord, QualityRecord, RecordCall, RecordQuality
from parley.protocol.fields import MediaTrouble
from parley.storage.history import CallHistory, QualitySummary
from parley.storage.schema import call_quality

T0 = 1_700_000_000.25  # binary-exact, as is every offset below
ANN, BOB, CY = "u-ann", "u-bob", "u-cy"
NAMES = {ANN: "Ann", BOB: "Bob", CY: "Cy"}


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def as_utc(value: Any) -> Any:
    # SQLite keeps no zone and hands back naive datetimes: they must hold the UTC wall time.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


async def add_call(
    history: CallHistory, call_id: str, caller: str, callee: str, created: float = T0
) -> None:
    """The steps the core emits for an answered call that was hung up a minute later."""
    record = CallRecord(
        id=call_id,
        caller=caller,
        caller_name=NAMES[caller],
        callee=callee,
        callee_name=NAMES[callee],
        media="video",
        created=created,
    )
    await history.write(RecordCall("created", record))
    record = dataclasses.replace(record, answered=created + 2.0)
    await history.write(RecordCall("answered", record))
    record = dataclasses.replace(record, ended=created + 62.0, end_reason="hangup", ended_by=caller)
    await history.write(RecordCall("ended", record))


def quality(
    user: str,
    call: str | None,
    room_session: str | None = None,
    *,
    reported: float = T0 + 63.0,
    duration: float = 60.0,
    **fields: Any,
) -> RecordQuality:
    values: dict[str, Any] = {
        "rtt_mean_ms": 42.25,
        "rtt_max_ms": 180.5,
        "loss_percent": 0.75,
        "send_kbps": 812.5,
        "receive_kbps": 640.125,
        "candidate_type": "srflx",
        "protocol": "udp",
        **fields,
    }
    return RecordQuality(
        QualityRecord(
            user=user,
            call=call,
            room_session=room_session,
            reported=reported,
            duration_seconds=duration,
            **values,
        )
    )


def summary_of(step: RecordQuality) -> QualitySummary:
    record = step.record
    return QualitySummary(
        rtt_mean_ms=record.rtt_mean_ms,
        rtt_max_ms=record.rtt_max_ms,
        loss_percent=record.loss_percent,
        send_kbps=record.send_kbps,
        receive_kbps=record.receive_kbps,
        candidate_type=record.candidate_type,
        protocol=record.protocol,
        trouble=record.trouble,
    )


async def quality_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as db:
        found = (await db.execute(sa.select(call_quality).order_by(call_quality.c.id))).mappings()
        return [{k: as_utc(v) for k, v in r.items() if k != "id"} for r in found]


def stored(step: RecordQuality) -> dict[str, Any]:
    """The row a report should leave, column by column."""
    record = step.record
    return {
        "user": record.user,
        "call_id": record.call,
        "room_session": record.room_session,
        "reported_at": at(record.reported),
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


# --- what each user's history shows ---------------------------------------------------------


async def test_a_report_shows_in_the_reporters_history_and_not_the_other_partys(
    history: CallHistory,
) -> None:
    await add_call(history, "c1", ANN, BOB)
    mine = quality(ANN, "c1")
    await history.write(mine)

    [ann_entry] = await history.for_user(ANN)
    [bob_entry] = await history.for_user(BOB)
    assert ann_entry.quality == summary_of(mine)
    assert bob_entry.quality is None


async def test_each_party_sees_their_own_report_of_the_same_call(history: CallHistory) -> None:
    await add_call(history, "c1", ANN, BOB)
    anns = quality(ANN, "c1", rtt_mean_ms=20.5, candidate_type="host")
    bobs = quality(BOB, "c1", rtt_mean_ms=95.0, candidate_type="relay", protocol="tcp")
    await history.write(anns)
    await history.write(bobs)

    ann_entries = await history.for_user(ANN)
    bob_entries = await history.for_user(BOB)
    # One entry per call however many reports it has: the join takes the asker's only.
    assert [(e.id, e.quality) for e in ann_entries] == [("c1", summary_of(anns))]
    assert [(e.id, e.quality) for e in bob_entries] == [("c1", summary_of(bobs))]


async def test_a_report_is_attached_only_to_its_own_call(history: CallHistory) -> None:
    await add_call(history, "older", ANN, BOB, created=T0)
    await add_call(history, "newer", CY, ANN, created=T0 + 100)
    on_older = quality(ANN, "older")
    await history.write(on_older)

    entries = await history.for_user(ANN)
    assert [(e.id, e.quality) for e in entries] == [
        ("newer", None),
        ("older", summary_of(on_older)),
    ]
    assert [e.quality for e in await history.for_user(CY)] == [None]


async def test_a_third_users_row_for_the_call_never_shows_in_the_partys_history(
    history: CallHistory,
) -> None:
    """Stored under a call id that is not theirs, a report must not surface for anyone else."""
    await add_call(history, "c1", ANN, BOB)
    await history.write(quality(CY, "c1"))
    assert [e.quality for e in await history.for_user(ANN)] == [None]
    assert [e.quality for e in await history.for_user(BOB)] == [None]
    assert await history.for_user(CY) == []


async def test_a_report_with_only_a_duration_shows_as_a_summary_of_nones(
    history: CallHistory,
) -> None:
    """A report was made, even if the browser measured nothing: not the same as no report."""
    await add_call(history, "c1", ANN, BOB)
    await history.write(
        quality(
            ANN,
            "c1",
            rtt_mean_ms=None,
            rtt_max_ms=None,
            loss_percent=None,
            send_kbps=None,
            receive_kbps=None,
            candidate_type=None,
            protocol=None,
        )
    )
    [entry] = await history.for_user(ANN)
    assert entry.quality == QualitySummary(None, None, None, None, None, None, None, None)


# --- one report per user and call -----------------------------------------------------------


async def test_a_second_report_for_the_same_call_and_user_is_ignored(
    history: CallHistory, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    await add_call(history, "c1", ANN, BOB)
    first = quality(ANN, "c1", loss_percent=1.5)
    retry = quality(ANN, "c1", loss_percent=9.0, reported=T0 + 64.0)
    await history.write(first)
    with caplog.at_level(logging.DEBUG, logger="parley.storage.history"):
        await history.write(retry)  # no exception: the writer loop must not log a failure

    assert await quality_rows(engine) == [stored(first)]
    [entry] = await history.for_user(ANN)
    assert entry.quality == summary_of(first)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_after_an_ignored_duplicate_the_other_party_can_still_report(
    history: CallHistory, engine: AsyncEngine
) -> None:
    await add_call(history, "c1", ANN, BOB)
    await history.write(quality(ANN, "c1"))
    await history.write(quality(ANN, "c1"))
    bobs = quality(BOB, "c1", loss_percent=2.0)
    await history.write(bobs)
    assert [(r["user"], r["loss_percent"]) for r in await quality_rows(engine)] == [
        (ANN, 0.75),
        (BOB, 2.0),
    ]
    assert [e.quality for e in await history.for_user(BOB)] == [summary_of(bobs)]


async def test_a_duplicate_through_the_writer_task_is_dropped_and_the_queue_goes_on(
    history: CallHistory, engine: AsyncEngine
) -> None:
    """The way the server writes: submit, then flush. The duplicate must not stall the queue."""
    history.start()
    try:
        record = CallRecord("c1", ANN, "Ann", BOB, "Bob", "audio", T0)
        history.submit(RecordCall("created", record))
        history.submit(quality(ANN, "c1"))
        history.submit(quality(ANN, "c1", loss_percent=50.0))
        history.submit(quality(BOB, "c1"))
        await history.flush()
    finally:
        await history.stop()
    assert [(r["user"], r["loss_percent"]) for r in await quality_rows(engine)] == [
        (ANN, 0.75),
        (BOB, 0.75),
    ]


# --- room calls -----------------------------------------------------------------------------


async def test_a_room_report_is_stored_with_its_session_and_no_call_id(
    history: CallHistory, engine: AsyncEngine
) -> None:
    room = quality(ANN, None, room_session="s-room-1", duration=300.5)
    await history.write(room)
    assert await quality_rows(engine) == [stored(room)]
    assert await history.for_user(ANN) == []


async def test_room_reports_of_different_sessions_are_all_stored(
    history: CallHistory, engine: AsyncEngine
) -> None:
    first = quality(ANN, None, room_session="s-1")
    second = quality(ANN, None, room_session="s-2", loss_percent=4.5)
    other = quality(BOB, None, room_session="s-3")
    for step in (first, second, other):
        await history.write(step)
    assert await quality_rows(engine) == [stored(first), stored(second), stored(other)]


async def test_a_retried_room_report_from_the_same_session_is_stored_once(
    history: CallHistory, engine: AsyncEngine
) -> None:
    """Like a direct call's, a room call's report is one per user and call (the call being the
    reporting session): a client that resends it after a lost `quality-saved` must not leave
    two rows. The unique (call_id, user) constraint does not cover it: call_id is NULL here,
    and NULLs never collide in a unique constraint, on SQLite or PostgreSQL."""
    first = quality(ANN, None, room_session="s-1")
    await history.write(first)
    await history.write(quality(ANN, None, room_session="s-1", reported=T0 + 64.0))
    assert await quality_rows(engine) == [stored(first)]


async def test_a_room_report_does_not_show_on_a_direct_call(history: CallHistory) -> None:
    await add_call(history, "c1", ANN, BOB)
    await history.write(quality(ANN, None, room_session="c1"))
    assert [e.quality for e in await history.for_user(ANN)] == [None]


# --- fields round-trip ----------------------------------------------------------------------

ROUND_TRIPS = {
    "everything measured": quality(
        ANN,
        "c1",
        reported=T0 + 63.5,
        duration=61.123456789,
        rtt_mean_ms=0.1,
        rtt_max_ms=599_999.999,
        loss_percent=33.333333333333336,
        send_kbps=1_000_000.0,
        receive_kbps=1e-9,
        candidate_type="prflx",
        protocol="tcp",
    ),
    "nothing measured": quality(
        ANN,
        "c1",
        duration=0.0,
        rtt_mean_ms=None,
        rtt_max_ms=None,
        loss_percent=None,
        send_kbps=None,
        receive_kbps=None,
        candidate_type=None,
        protocol=None,
    ),
    "zeros and the upper bounds": quality(
        ANN,
        "c1",
        duration=7 * 24 * 3600.0,
        rtt_mean_ms=0.0,
        rtt_max_ms=600_000.0,
        loss_percent=100.0,
        send_kbps=0.0,
        receive_kbps=0.0,
        candidate_type="relay",
        protocol="udp",
    ),
    **{
        f"media stopped: {trouble}": quality(ANN, "c1", trouble=trouble)
        for trouble in get_args(MediaTrouble)
    },
    "room report": quality(
        BOB, None, room_session="s" * 64, rtt_mean_ms=12.75, candidate_type="host"
    ),
}


@pytest.mark.parametrize("step", list(ROUND_TRIPS.values()), ids=list(ROUND_TRIPS))
async def test_every_field_of_a_report_round_trips(
    history: CallHistory, engine: AsyncEngine, step: RecordQuality
) -> None:
    if step.record.call is not None:
        await add_call(history, step.record.call, ANN, BOB)
    await history.write(step)
    assert await quality_rows(engine) == [stored(step)]
    if step.record.call is not None:
        [entry] = await history.for_user(step.record.user)
        assert entry.quality == summary_of(step)
