"""Calls a previous run of the server left open: finished unless their clients took them back."""

import dataclasses

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.core.effects import CallRecord, RecordCall
from parley.storage.history import CallHistory
from parley.storage.schema import calls

T0 = 1_700_000_000.25


def answered(call_id: str, created: float) -> CallRecord:
    return CallRecord(
        id=call_id,
        caller="ann",
        caller_name="Ann",
        callee="bob",
        callee_name="Bob",
        media="video",
        created=created,
        answered=created + 2,
    )


async def rows(engine: AsyncEngine) -> dict[str, tuple[object, object]]:
    async with engine.connect() as db:
        result = await db.execute(sa.select(calls.c.id, calls.c.end_reason, calls.c.ended_at))
        return {r.id: (r.end_reason, r.ended_at) for r in result}


async def test_open_calls_of_an_earlier_run_are_finished_unless_taken_back(
    history: CallHistory, engine: AsyncEngine
) -> None:
    for call_id, created in [("forgotten", T0), ("taken-back", T0), ("new", T0 + 100)]:
        record = answered(call_id, created)
        await history.write(RecordCall("created", record))
        await history.write(RecordCall("answered", record))
    done = dataclasses.replace(answered("done", T0), ended=T0 + 9, end_reason="hangup")
    await history.write(RecordCall("created", done))
    await history.write(RecordCall("ended", done))

    finished = await history.finish_forgotten(T0 + 50, keep={"taken-back"}, now=T0 + 80)

    assert finished == 1
    found = await rows(engine)
    assert found["forgotten"][0] == "connection-lost" and found["forgotten"][1] is not None
    assert found["taken-back"] == (None, None), "its clients took it back: still going"
    assert found["new"] == (None, None), "started in this run"
    assert found["done"][0] == "hangup", "an ended call is never touched"
