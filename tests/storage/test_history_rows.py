"""What CallHistory leaves in the calls table, column by column.

The steps are the ones the core emits (see parley.core.calls): `created` at the invite,
`answered` at the accept (carrying the agreed media), `ended` carrying the whole record plus
when, why and by whom. Timestamps are fixed so every stored value can be spelled out.
"""

import dataclasses
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.core.effects import CallRecord, RecordCall
from parley.storage.history import CallHistory
from parley.storage.schema import calls

T0 = 1_700_000_000.25  # 2023-11-14 22:13:20.25 UTC; it and every offset used are binary-exact
ANN, BOB = "u-ann", "u-bob"


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def ringing(call_id: str, media: str = "video", callee_name: str = "Bob") -> CallRecord:
    return CallRecord(
        id=call_id,
        caller=ANN,
        caller_name="Ann",
        callee=BOB,
        callee_name=callee_name,
        media=media,  # type: ignore[arg-type]
        created=T0,
    )


def answer(call: CallRecord, when: float, media: str | None = None) -> CallRecord:
    return dataclasses.replace(call, answered=when, media=media or call.media)


def end(call: CallRecord, when: float, reason: str, by: str | None) -> RecordCall:
    return RecordCall(
        "ended", dataclasses.replace(call, ended=when, end_reason=reason, ended_by=by)
    )


def row(
    call_id: str,
    *,
    media: str = "video",
    callee_name: str = "Bob",
    answered_at: float | None = None,
    ended_at: float | None = None,
    duration: float | None = None,
    reason: str | None = None,
    by: str | None = None,
) -> dict[str, Any]:
    return {
        "id": call_id,
        "caller": ANN,
        "caller_name": "Ann",
        "callee": BOB,
        "callee_name": callee_name,
        "media": media,
        "created_at": at(T0),
        "answered_at": None if answered_at is None else at(answered_at),
        "ended_at": None if ended_at is None else at(ended_at),
        "duration_seconds": duration,
        "end_reason": reason,
        "ended_by": by,
    }


def as_utc(value: Any) -> Any:
    # SQLite keeps no zone and hands back naive datetimes: they must hold the UTC wall time.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


async def stored_rows(engine: AsyncEngine) -> dict[str, dict[str, Any]]:
    async with engine.connect() as db:
        result = (await db.execute(sa.select(calls))).mappings().all()
    return {r["id"]: {k: as_utc(v) for k, v in r.items()} for r in result}


async def write_all(history: CallHistory, steps: list[RecordCall]) -> None:
    for step in steps:
        await history.write(step)


Scenario = tuple[list[RecordCall], dict[str, Any]]


def answered_then_caller_hangs_up() -> Scenario:
    call = ringing("c-hangup")
    talking = answer(call, T0 + 3.5)
    return (
        [
            RecordCall("created", call),
            RecordCall("answered", talking),
            end(talking, T0 + 65.75, "hangup", ANN),
        ],
        row(
            "c-hangup",
            answered_at=T0 + 3.5,
            ended_at=T0 + 65.75,
            duration=62.25,
            reason="hangup",
            by=ANN,
        ),
    )


def answered_with_voice_only_then_callee_hangs_up() -> Scenario:
    call = ringing("c-voice")
    talking = answer(call, T0 + 1.5, media="audio")
    return (
        [
            RecordCall("created", call),
            RecordCall("answered", talking),
            end(talking, T0 + 10.0, "hangup", BOB),
        ],
        row(
            "c-voice",
            media="audio",
            answered_at=T0 + 1.5,
            ended_at=T0 + 10.0,
            duration=8.5,
            reason="hangup",
            by=BOB,
        ),
    )


def declined() -> Scenario:
    call = ringing("c-declined")
    return (
        [RecordCall("created", call), end(call, T0 + 4.0, "declined", BOB)],
        row("c-declined", ended_at=T0 + 4.0, reason="declined", by=BOB),
    )


def no_answer() -> Scenario:
    call = ringing("c-no-answer")
    return (
        [RecordCall("created", call), end(call, T0 + 30.0, "no-answer", None)],
        row("c-no-answer", ended_at=T0 + 30.0, reason="no-answer"),
    )


def cancelled() -> Scenario:
    call = ringing("c-cancelled")
    return (
        [RecordCall("created", call), end(call, T0 + 2.0, "cancelled", ANN)],
        row("c-cancelled", ended_at=T0 + 2.0, reason="cancelled", by=ANN),
    )


def busy() -> Scenario:
    call = ringing("c-busy")
    return (
        [RecordCall("created", call), end(call, T0, "busy", None)],
        row("c-busy", ended_at=T0, reason="busy"),
    )


def offline() -> Scenario:
    # Nobody online under that id, so the core knows no display name for the callee.
    call = ringing("c-offline", media="audio", callee_name="")
    return (
        [RecordCall("created", call), end(call, T0, "offline", None)],
        row("c-offline", media="audio", callee_name="", ended_at=T0, reason="offline"),
    )


def connection_lost_while_ringing() -> Scenario:
    call = ringing("c-lost-ringing")
    return (
        [RecordCall("created", call), end(call, T0 + 7.5, "connection-lost", ANN)],
        row("c-lost-ringing", ended_at=T0 + 7.5, reason="connection-lost", by=ANN),
    )


def connection_lost_while_talking() -> Scenario:
    call = ringing("c-lost-talking")
    talking = answer(call, T0 + 1.0)
    return (
        [
            RecordCall("created", call),
            RecordCall("answered", talking),
            end(talking, T0 + 1801.5, "connection-lost", BOB),
        ],
        row(
            "c-lost-talking",
            answered_at=T0 + 1.0,
            ended_at=T0 + 1801.5,
            duration=1800.5,
            reason="connection-lost",
            by=BOB,
        ),
    )


SCENARIOS = [
    answered_then_caller_hangs_up,
    answered_with_voice_only_then_callee_hangs_up,
    declined,
    no_answer,
    cancelled,
    busy,
    offline,
    connection_lost_while_ringing,
    connection_lost_while_talking,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_each_ending_stores_the_exact_row(
    scenario: Any, history: CallHistory, engine: AsyncEngine
) -> None:
    steps, expected = scenario()

    await write_all(history, steps)

    assert await stored_rows(engine) == {expected["id"]: expected}


async def test_a_created_call_is_stored_as_ringing(
    history: CallHistory, engine: AsyncEngine
) -> None:
    await history.write(RecordCall("created", ringing("c-ringing")))

    assert await stored_rows(engine) == {"c-ringing": row("c-ringing")}


async def test_a_second_end_of_an_answered_call_changes_nothing(
    history: CallHistory, engine: AsyncEngine
) -> None:
    steps, expected = answered_then_caller_hangs_up()
    talking = steps[-1].record
    await write_all(history, steps)

    await history.write(end(talking, T0 + 99.0, "connection-lost", BOB))

    assert await stored_rows(engine) == {expected["id"]: expected}


async def test_a_second_end_of_an_unanswered_call_changes_nothing(
    history: CallHistory, engine: AsyncEngine
) -> None:
    steps, expected = declined()
    await write_all(history, steps)

    # e.g. the ring timer firing after the decline was already written
    await history.write(end(ringing("c-declined"), T0 + 30.0, "no-answer", None))

    assert await stored_rows(engine) == {expected["id"]: expected}


async def test_an_answer_after_the_end_changes_nothing(
    history: CallHistory, engine: AsyncEngine
) -> None:
    steps, expected = cancelled()
    await write_all(history, steps)

    await history.write(
        RecordCall("answered", answer(ringing("c-cancelled"), T0 + 5.0, media="audio"))
    )

    assert await stored_rows(engine) == {expected["id"]: expected}


async def test_steps_written_before_the_created_step_still_make_one_whole_row(
    history: CallHistory, engine: AsyncEngine
) -> None:
    # In a cluster, each step is written by the node whose client caused it: the callee's
    # node may write `answered` (or the end) before the caller's node writes `created`.
    call = ringing("c-late")
    talking = answer(call, T0 + 1.0, media="audio")

    await history.write(RecordCall("answered", talking))
    await history.write(end(talking, T0 + 4.0, "hangup", BOB))
    await history.write(RecordCall("created", call))
    ended_first = ringing("c-ended-first")
    await history.write(end(answer(ended_first, T0 + 2.0), T0 + 5.0, "hangup", ANN))
    await history.write(RecordCall("answered", answer(ended_first, T0 + 2.0)))
    await history.write(RecordCall("created", ended_first))

    assert await stored_rows(engine) == {
        "c-late": row(
            "c-late",
            media="audio",
            answered_at=T0 + 1.0,
            ended_at=T0 + 4.0,
            duration=3.0,
            reason="hangup",
            by=BOB,
        ),
        "c-ended-first": row(
            "c-ended-first",
            answered_at=T0 + 2.0,
            ended_at=T0 + 5.0,
            duration=3.0,
            reason="hangup",
            by=ANN,
        ),
    }


async def test_background_writer_applies_steps_in_submission_order(
    history: CallHistory, engine: AsyncEngine
) -> None:
    # Interleaved so that any reordering shows: the first of two ends is the one kept, and an
    # answer after the end must be ignored.
    a = ringing("c-a")
    a_talking = answer(a, T0 + 1.0)
    b = ringing("c-b")
    c = ringing("c-c")
    steps = [
        RecordCall("created", a),
        RecordCall("created", b),
        RecordCall("answered", a_talking),
        RecordCall("created", c),
        end(b, T0 + 2.0, "cancelled", ANN),
        end(a_talking, T0 + 10.0, "hangup", ANN),
        RecordCall("answered", answer(b, T0 + 3.0, media="audio")),
        end(c, T0 + 30.0, "no-answer", None),
        end(a_talking, T0 + 11.0, "connection-lost", BOB),
    ]
    history.start()
    try:
        for step in steps:
            history.submit(step)
        await history.flush()

        assert await stored_rows(engine) == {
            "c-a": row(
                "c-a",
                answered_at=T0 + 1.0,
                ended_at=T0 + 10.0,
                duration=9.0,
                reason="hangup",
                by=ANN,
            ),
            "c-b": row("c-b", ended_at=T0 + 2.0, reason="cancelled", by=ANN),
            "c-c": row("c-c", ended_at=T0 + 30.0, reason="no-answer"),
        }
    finally:
        await history.stop()


async def test_stop_writes_out_everything_submitted_before_it(
    history: CallHistory, engine: AsyncEngine
) -> None:
    steps, expected = no_answer()
    history.start()
    for step in steps:
        history.submit(step)

    await history.stop()

    assert await stored_rows(engine) == {expected["id"]: expected}


async def test_background_writer_keeps_going_after_a_failed_step(
    history: CallHistory, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    steps, expected = cancelled()
    # No caller: the database refuses the row (NOT NULL).
    broken = RecordCall("created", dataclasses.replace(ringing("c-broken"), caller=None))  # type: ignore[arg-type]
    history.start()
    try:
        history.submit(steps[0])
        history.submit(broken)
        history.submit(steps[1])
        with caplog.at_level(logging.ERROR, logger="parley.storage.history"):
            await history.flush()
    finally:
        await history.stop()

    assert await stored_rows(engine) == {expected["id"]: expected}
    assert [r.getMessage() for r in caplog.records if r.name == "parley.storage.history"] == [
        "could not write the created step of a call"
    ]


async def test_a_backlog_never_drops_a_step_and_says_so_once_in_a_while(
    engine: AsyncEngine, history: CallHistory, caplog: pytest.LogCaptureFixture
) -> None:
    """Submitting never blocks the caller and never drops: a flood of steps (the database slow
    or away meanwhile) is all written once the writer gets to it, each call whole."""
    # `history` is only here to migrate the database; this test needs a low warning mark.
    slow = CallHistory(engine, backlog_warning=50)
    names = [f"c-{n}" for n in range(200)]
    with caplog.at_level(logging.ERROR, logger="parley.storage.history"):
        for name in names:  # the writer has not started: everything waits
            slow.submit(RecordCall("created", ringing(name)))
            slow.submit(end(ringing(name), T0 + 5, "no-answer", None))
    assert slow.backlog == 400
    slow.start()
    try:
        await slow.flush()
    finally:
        await slow.stop()

    rows = await stored_rows(engine)
    assert sorted(rows) == sorted(names), "a step was dropped"
    assert all(row["end_reason"] == "no-answer" for row in rows.values()), "a call was cut short"
    warnings = [r.getMessage() for r in caplog.records if r.name == "parley.storage.history"]
    assert warnings == [
        f"call history is {n} steps behind: is the database reachable?" for n in (50, 100, 200, 400)
    ]
