"""CallHistory.for_user: a user's own calls, newest first, as seen from that user's side."""

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from parley.core.effects import CallRecord, RecordCall
from parley.storage.history import CallHistory, HistoryEntry

T0 = 1_700_000_000.25  # binary-exact, as is every offset below
ANN, BOB, CY = "u-ann", "u-bob", "u-cy"
NAMES = {ANN: "Ann", BOB: "Bob", CY: "Cy"}


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def add_call(
    history: CallHistory,
    call_id: str,
    caller: str,
    callee: str,
    *,
    created: float = T0,
    answered: float | None = None,
    reason: str | None = "hangup",
    by: str | None = None,
    ended: float | None = None,
    media: str = "video",
) -> None:
    """Writes the steps the core would emit for one call; reason=None leaves it ringing."""
    record = CallRecord(
        id=call_id,
        caller=caller,
        caller_name=NAMES[caller],
        callee=callee,
        callee_name=NAMES[callee],
        media=media,  # type: ignore[arg-type]
        created=created,
    )
    await history.write(RecordCall("created", record))
    if answered is not None:
        record = dataclasses.replace(record, answered=answered)
        await history.write(RecordCall("answered", record))
    if reason is not None:
        ended_at = ended if ended is not None else (answered or created) + 5.0
        record = dataclasses.replace(record, ended=ended_at, end_reason=reason, ended_by=by)
        await history.write(RecordCall("ended", record))  # type: ignore[arg-type]


async def test_lists_only_calls_the_user_made_or_received(history: CallHistory) -> None:
    await add_call(history, "ann-to-bob", ANN, BOB, created=T0 + 1)
    await add_call(history, "bob-to-cy", BOB, CY, created=T0 + 2)
    await add_call(history, "cy-to-ann", CY, ANN, created=T0 + 3)
    await add_call(history, "cy-to-bob", CY, BOB, created=T0 + 4)

    assert [e.id for e in await history.for_user(ANN)] == ["cy-to-ann", "ann-to-bob"]
    assert [e.id for e in await history.for_user(BOB)] == ["cy-to-bob", "bob-to-cy", "ann-to-bob"]
    assert await history.for_user("u-nobody") == []


async def test_lists_newest_first_whatever_the_write_order(history: CallHistory) -> None:
    for call_id, offset in [("t3", 3.0), ("t1", 1.0), ("t5", 5.0), ("t2", 2.0), ("t4", 4.0)]:
        await add_call(history, call_id, ANN, BOB, created=T0 + offset)

    assert [e.id for e in await history.for_user(ANN)] == ["t5", "t4", "t3", "t2", "t1"]


async def test_limit_keeps_the_newest_calls(history: CallHistory) -> None:
    for n in range(5):
        await add_call(history, f"call-{n}", ANN, BOB, created=T0 + n)

    assert [e.id for e in await history.for_user(ANN, limit=3)] == ["call-4", "call-3", "call-2"]
    assert [e.id for e in await history.for_user(ANN, limit=1)] == ["call-4"]


async def test_before_lists_only_older_calls(history: CallHistory) -> None:
    for n in range(4):
        await add_call(history, f"call-{n}", ANN, BOB, created=T0 + n)

    older = await history.for_user(ANN, before=at(T0 + 2))

    assert [e.id for e in older] == ["call-1", "call-0"]


async def test_before_compares_instants_whatever_zone_it_is_given_in(
    history: CallHistory,
) -> None:
    for n in range(4):
        await add_call(history, f"call-{n}", ANN, BOB, created=T0 + n * 3600)
    cut = at(T0 + 2 * 3600)

    in_utc = await history.for_user(ANN, before=cut)
    in_beijing = await history.for_user(ANN, before=cut.astimezone(timezone(timedelta(hours=8))))

    assert [e.id for e in in_utc] == ["call-1", "call-0"]
    assert [e.id for e in in_beijing] == ["call-1", "call-0"]


async def test_each_side_sees_direction_and_peer_from_its_own_side(history: CallHistory) -> None:
    await add_call(
        history, "c1", ANN, BOB, answered=T0 + 2.5, ended=T0 + 12.75, reason="hangup", by=BOB
    )
    shared = {
        "id": "c1",
        "media": "video",
        "created": at(T0),
        "answered": at(T0 + 2.5),
        "ended": at(T0 + 12.75),
        "duration_seconds": 10.25,
        "end_reason": "hangup",
        "ended_by": BOB,
        "missed": False,
    }

    assert await history.for_user(ANN) == [
        HistoryEntry(direction="outgoing", peer=BOB, peer_name="Bob", **shared)  # type: ignore[arg-type]
    ]
    assert await history.for_user(BOB) == [
        HistoryEntry(direction="incoming", peer=ANN, peer_name="Ann", **shared)  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize(
    ("reason", "by", "answered", "missed_by_callee"),
    [
        ("no-answer", None, None, True),
        ("cancelled", ANN, None, True),
        ("offline", None, None, True),
        ("busy", None, None, True),
        ("connection-lost", ANN, None, True),
        # The callee saw it ring and said no: not missed.
        ("declined", BOB, None, False),
        ("hangup", ANN, T0 + 1, False),
        ("connection-lost", BOB, T0 + 1, False),
        # Still ringing: not (yet) missed.
        (None, None, None, False),
    ],
    ids=[
        "no-answer",
        "cancelled",
        "offline",
        "busy",
        "lost-while-ringing",
        "declined",
        "answered-hangup",
        "lost-while-talking",
        "ringing",
    ],
)
async def test_missed_only_for_the_callee_of_an_unanswered_call(
    history: CallHistory,
    reason: str | None,
    by: str | None,
    answered: float | None,
    missed_by_callee: bool,
) -> None:
    await add_call(history, "c1", ANN, BOB, answered=answered, reason=reason, by=by)

    [as_callee] = await history.for_user(BOB)
    [as_caller] = await history.for_user(ANN)

    assert (as_callee.direction, as_callee.missed) == ("incoming", missed_by_callee)
    assert (as_caller.direction, as_caller.missed) == ("outgoing", False)


async def test_timestamps_come_back_as_aware_utc(history: CallHistory) -> None:
    await add_call(history, "c1", ANN, BOB, answered=T0 + 0.5, ended=T0 + 90.125)

    [entry] = await history.for_user(ANN)

    for value, expected in [
        (entry.created, at(T0)),
        (entry.answered, at(T0 + 0.5)),
        (entry.ended, at(T0 + 90.125)),
    ]:
        assert value is not None
        assert value.utcoffset() == timedelta(0), value
        # Same wall-clock fields, not just the same instant: the API prints these as-is.
        assert value.replace(tzinfo=None) == expected.replace(tzinfo=None)


async def test_a_ringing_call_has_no_answer_or_end_times(history: CallHistory) -> None:
    await add_call(history, "c1", ANN, BOB, reason=None)

    [entry] = await history.for_user(BOB)

    assert (entry.answered, entry.ended, entry.duration_seconds, entry.end_reason) == (
        None,
        None,
        None,
        None,
    )
    assert entry.created == at(T0)
