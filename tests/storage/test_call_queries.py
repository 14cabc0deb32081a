"""Calls across users for the app API (storage/call_queries.py), on SQLite and PostgreSQL: the
rows the history writer made, filtered by user, time and state, newest first, and a cursor that
walks every matching row exactly once, ties on the creation time included."""

import dataclasses
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.core.effects import CallRecord, RecordCall
from parley.protocol.app_api import AppCall, Party
from parley.protocol.fields import EndReason
from parley.storage.call_queries import (
    BadCursor,
    CallFilter,
    CallQueries,
    decode_cursor,
    encode_cursor,
)
from parley.storage.history import CallHistory

T0 = 1_700_000_000.25
WALK_LIMIT = 100  # pages: a cursor that never ends fails the test instead of hanging it


async def add(
    history: CallHistory,
    call: str,
    created: float,
    caller: str = "ann",
    callee: str = "bob",
    *,
    answered: float | None = None,
    ended: float | None = None,
    reason: EndReason | None = None,
    by: str | None = None,
) -> None:
    record = CallRecord(call, caller, caller.title(), callee, callee.title(), "audio", created)
    await history.write(RecordCall("created", record))
    if answered is not None:
        record = dataclasses.replace(record, answered=answered)
        await history.write(RecordCall("answered", record))
    if ended is not None:
        record = dataclasses.replace(record, ended=ended, end_reason=reason, ended_by=by)
        await history.write(RecordCall("ended", record))


async def walk(queries: CallQueries, where: CallFilter, limit: int) -> list[list[str]]:
    """Every page's call ids, following `next` to the end."""
    pages: list[list[str]] = []
    cursor = None
    for _ in range(WALK_LIMIT):
        page = await queries.page(where, limit, cursor)
        pages.append([c.call for c in page.calls])
        if page.next is None:
            return pages
        cursor = page.next
    pytest.fail(f"the cursor did not end within {WALK_LIMIT} pages")


@pytest.fixture
def queries(history: CallHistory, engine: AsyncEngine) -> CallQueries:
    return CallQueries(engine)


async def test_a_call_reads_back_with_every_field(
    history: CallHistory, queries: CallQueries
) -> None:
    await add(history, "c1", T0, answered=T0 + 2, ended=T0 + 62, reason="hangup", by="bob")

    call = await queries.get("c1")

    assert call == AppCall(
        call="c1",
        caller=Party("ann", "Ann"),
        callee=Party("bob", "Bob"),
        media="audio",
        state="ended",
        created=T0,
        answered=T0 + 2,
        ended=T0 + 62,
        reason="hangup",
        by="bob",
        duration=60.0,
        missed=False,
    )
    assert await queries.get("c2") is None


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 50])
async def test_the_cursor_walks_every_call_exactly_once_newest_first(
    history: CallHistory, queries: CallQueries, limit: int
) -> None:
    # Three calls share each creation time: the order and the cursor must break ties by id.
    ids = [f"c{n:02}" for n in range(21)]
    for n, call in enumerate(ids):
        await add(history, call, T0 + n // 3)

    pages = await walk(queries, CallFilter(), limit)

    flat = [call for page in pages for call in page]
    expected = sorted(ids, key=lambda c: (T0 + int(c[1:]) // 3, c), reverse=True)
    assert flat == expected
    assert all(len(page) == limit for page in pages[:-1])
    assert 0 < len(pages[-1]) <= limit


async def test_rows_added_while_walking_do_not_repeat_or_skip_older_ones(
    history: CallHistory, queries: CallQueries
) -> None:
    for n in range(6):
        await add(history, f"old{n}", T0 + n)
    first = await queries.page(CallFilter(), 3)
    await add(history, "newer", T0 + 100)

    second = await queries.page(CallFilter(), 3, first.next)

    assert [c.call for c in first.calls + second.calls] == [f"old{n}" for n in range(5, -1, -1)]


async def test_filters_by_user_on_either_side(history: CallHistory, queries: CallQueries) -> None:
    await add(history, "out", T0, caller="ann", callee="bob")
    await add(history, "in", T0 + 1, caller="cid", callee="ann")
    await add(history, "other", T0 + 2, caller="bob", callee="cid")

    pages = await walk(queries, CallFilter(user="ann"), 10)

    assert pages == [["in", "out"]]


async def test_filters_by_creation_time_from_since_to_before_until(
    history: CallHistory, queries: CallQueries
) -> None:
    for n in range(5):
        await add(history, f"c{n}", T0 + n)

    pages = await walk(queries, CallFilter(since=T0 + 1, until=T0 + 4), 10)

    assert pages == [["c3", "c2", "c1"]]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("ringing", ["ringing"]),
        ("answered", ["talking"]),
        ("ended", ["declined", "missed", "talked", "by-app"]),
        ("missed", ["missed"]),
    ],
)
async def test_filters_by_state(
    history: CallHistory, queries: CallQueries, state: str, expected: list[str]
) -> None:
    await add(history, "ringing", T0)
    await add(history, "talking", T0 + 1, answered=T0 + 2)
    await add(history, "declined", T0 + 3, ended=T0 + 4, reason="declined", by="bob")
    await add(history, "missed", T0 + 5, ended=T0 + 35, reason="no-answer")
    await add(history, "talked", T0 + 6, answered=T0 + 7, ended=T0 + 9, reason="hangup", by="ann")
    await add(history, "by-app", T0 + 10, ended=T0 + 11, reason="ended-by-app")

    page = await queries.page(CallFilter(state=state), 10)  # type: ignore[arg-type]

    assert sorted(c.call for c in page.calls) == sorted(expected)
    assert all(c.state == ("ended" if state == "missed" else state) for c in page.calls)
    assert [c.call for c in page.calls if c.missed] == (["missed"] if "missed" in expected else [])


@pytest.mark.parametrize(
    "cursor",
    ["", "not a cursor", "0" * 15, "0" * 16 + "'; --", "0" * 16 + "a" * 65, "0" * 15 + "g"],
)
async def test_a_cursor_of_another_shape_is_refused(queries: CallQueries, cursor: str) -> None:
    with pytest.raises(BadCursor):
        await queries.page(CallFilter(), 5, cursor)


async def test_any_cursor_of_the_shape_is_a_position(
    history: CallHistory, queries: CallQueries
) -> None:
    for n in range(3):
        await add(history, f"c{n}", T0 + n)

    before_all = await queries.page(CallFilter(), 5, "0" * 16)
    after_all = await queries.page(CallFilter(), 5, "f" * 16)

    assert before_all.calls == [], "nothing is older than 1970"
    assert [c.call for c in after_all.calls] == ["c2", "c1", "c0"], "all is older than 9999"


def test_a_cursor_round_trips_to_the_microsecond() -> None:
    created = datetime(2023, 11, 14, 22, 13, 20, 250001, tzinfo=UTC)
    assert decode_cursor(encode_cursor(created, "c9")) == (created, "c9")
