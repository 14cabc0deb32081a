"""Direct calls through the real server, and the exact history rows they leave, on SQLite and
PostgreSQL alike."""

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa

from parley.config import ServerSettings
from parley.core.signaling import CoreSettings
from parley.storage.database import open_engine
from parley.storage.schema import calls

from .helpers import (
    ConnectWs,
    StartServer,
    assert_error,
    assert_silent,
    receive_json,
    send_json,
)

ROW_WAIT_SECONDS = 5.0


@dataclasses.dataclass
class Phone:
    ws: Any
    session: str
    user: str
    token: str


Dial = Callable[..., Awaitable[Phone]]


@dataclasses.dataclass
class Exchange:
    """A server on the database under test: `dial(name)` brings a user online, `rows()` reads
    the calls table once every call has ended."""

    base: str
    dial: Dial
    rows: Callable[[], Awaitable[list[dict[str, Any]]]]


@pytest.fixture
async def phones(
    start_server: StartServer, connect_ws: ConnectWs, database_url: str
) -> AsyncIterator[Exchange]:
    settings = ServerSettings(
        core=CoreSettings(ring_timeout=1.0), database_url=database_url, secret=b"k" * 32
    )
    base = await start_server(settings)
    engine = open_engine(database_url)

    async def dial(name: str, token: str | None = None, presence: bool = True) -> Phone:
        ws = await connect_ws(base)
        await send_json(
            ws, {"type": "hello", "v": 1, "name": name, "token": token, "presence": presence}
        )
        while True:
            welcome = await receive_json(ws)
            if welcome["type"] == "welcome":
                break
        return Phone(
            ws, welcome["session"], welcome["user"]["id"], welcome.get("token") or token or ""
        )

    async def rows() -> list[dict[str, Any]]:
        deadline = time.monotonic() + ROW_WAIT_SECONDS
        while True:
            async with engine.connect() as db:
                found = [dict(r) for r in (await db.execute(sa.select(calls))).mappings()]
            if found and all(r["ended_at"] is not None for r in found):
                return found
            if time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.05)

    yield Exchange(base, dial, rows)
    await engine.dispose()


@pytest.fixture
async def api_calls(
    start_server: StartServer, http: Any
) -> Callable[[str, str], Awaitable[list[dict[str, Any]]]]:
    async def fetch(base: str, token: str) -> list[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(base + "api/calls", headers=headers) as response:
            assert response.status == 200
            return list((await response.json())["calls"])

    return fetch


async def next_of(phone: Phone, kind: str) -> dict[str, Any]:
    """The next message of a type, skipping presence chatter."""
    for _ in range(20):
        message = await receive_json(phone.ws)
        if message["type"] != "presence":
            assert message["type"] == kind, message
            return message
    pytest.fail(f"no {kind} among 20 messages")


async def ring(caller: Phone, callee: Phone, media: str = "video", rid: int = 1) -> str:
    await send_json(
        caller.ws,
        {"type": "invite", "to": callee.user, "media": media, "id": rid, "caller_offers": True},
    )
    ringing = await next_of(caller, "ringing")
    assert ringing["id"] == rid
    incoming = await next_of(callee, "incoming-call")
    assert incoming["call"] == ringing["call"]
    return str(ringing["call"])


def row_of(found: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(found) == 1, found
    return found[0]


async def test_answered_call_relays_negotiation_and_leaves_one_finished_row(
    phones: Exchange,
) -> None:
    dial, rows = phones.dial, phones.rows
    ana, bo = await dial("Ana"), await dial("Bo")
    call = await ring(ana, bo)
    await send_json(
        bo.ws, {"type": "accept", "call": call, "media": "video", "id": 2, "caller_offers": True}
    )
    accepted_bo = await next_of(bo, "call-accepted")
    accepted_ana = await next_of(ana, "call-accepted")
    ticket = accepted_bo.get("ticket")
    assert accepted_bo == {
        "type": "call-accepted",
        "id": 2,
        "call": call,
        "media": "video",
        "peer": ana.session,
        "polite": True,
        "ticket": ticket,
    }
    assert isinstance(ticket, str) and len(ticket) == 32, "a proof for resume-call"
    assert (accepted_ana["peer"], accepted_ana["polite"]) == (bo.session, False)
    assert accepted_ana["ticket"] == ticket

    await send_json(ana.ws, {"type": "offer", "to": bo.session, "sdp": "v=0 x", "from": "forged"})
    assert await next_of(bo, "offer") == {"type": "offer", "from": ana.session, "sdp": "v=0 x"}
    await asyncio.sleep(0.05)  # a measurable duration
    await send_json(bo.ws, {"type": "hangup", "call": call, "id": 3})
    assert await next_of(bo, "call-ended") == {
        "type": "call-ended",
        "id": 3,
        "call": call,
        "reason": "hangup",
        "by": bo.user,
    }
    assert (await next_of(ana, "call-ended"))["reason"] == "hangup"

    row = row_of(await rows())
    assert (row["id"], row["caller"], row["callee"]) == (call, ana.user, bo.user)
    assert (row["caller_name"], row["callee_name"], row["media"]) == ("Ana", "Bo", "video")
    assert row["answered_at"] is not None and row["ended_at"] >= row["answered_at"]
    assert row["duration_seconds"] > 0
    assert (row["end_reason"], row["ended_by"]) == ("hangup", bo.user)


@pytest.mark.parametrize(
    ("scenario", "reason", "ended_by"),
    [
        ("decline", "declined", "callee"),
        ("cancel", "cancelled", "caller"),
        ("wait", "no-answer", None),
    ],
)
async def test_unanswered_endings_reach_both_sides_and_are_recorded(
    phones: Exchange, scenario: str, reason: str, ended_by: str | None
) -> None:
    dial, rows = phones.dial, phones.rows
    ana, bo = await dial("Ana"), await dial("Bo")
    call = await ring(ana, bo, media="audio")
    if scenario == "decline":
        await send_json(bo.ws, {"type": "reject", "call": call})
    elif scenario == "cancel":
        await send_json(ana.ws, {"type": "cancel", "call": call})
    # "wait": the 1 s ring timeout ends it.
    for phone in (ana, bo):
        ended = await next_of(phone, "call-ended")
        assert (ended["call"], ended["reason"]) == (call, reason)
    by = {"callee": bo.user, "caller": ana.user, None: None}[ended_by]
    row = row_of(await rows())
    assert (row["end_reason"], row["ended_by"], row["media"]) == (reason, by, "audio")
    assert row["answered_at"] is None and row["duration_seconds"] is None


async def test_busy_and_offline_end_at_once_and_only_the_call_that_rang_is_recorded(
    phones: Exchange,
) -> None:
    dial, rows = phones.dial, phones.rows
    ana, bo, cy = await dial("Ana"), await dial("Bo"), await dial("Cy")
    first = await ring(ana, bo)
    await send_json(bo.ws, {"type": "accept", "call": first, "media": "audio"})
    await next_of(bo, "call-accepted")
    await next_of(ana, "call-accepted")

    await send_json(cy.ws, {"type": "invite", "to": bo.user, "media": "video", "id": 9})
    busy = await next_of(cy, "call-ended")
    assert (busy["id"], busy["reason"], busy["by"]) == (9, "busy", None)
    await assert_silent(bo.ws)

    gone = await dial("Dee")
    # Presence news come in half-second windows, and a coming and going within one is not
    # news at all: Dee leaves once the directory has heard of her.
    for _ in range(20):
        news = await receive_json(cy.ws)
        if news == {"type": "presence", "user": {"id": gone.user, "name": "Dee"}, "online": True}:
            break
    await gone.ws.close()
    # Dee is offline once the server has announced it; only then is the invite's answer fixed.
    for _ in range(20):
        news = await receive_json(cy.ws)
        if news == {"type": "presence", "user": {"id": gone.user, "name": "Dee"}, "online": False}:
            break
    else:
        pytest.fail("Dee's going offline was never announced")
    await send_json(cy.ws, {"type": "invite", "to": gone.user, "media": "video", "id": 10})
    offline = await next_of(cy, "call-ended")
    assert (offline["id"], offline["reason"]) == (10, "offline")

    await send_json(ana.ws, {"type": "hangup", "call": first})
    found = {r["end_reason"]: r for r in await rows()}
    # Busy and offline never rang anyone: not history (a flood of them once buried real calls).
    assert set(found) == {"hangup"}
    assert found["hangup"]["media"] == "audio", "answered with voice only"


async def test_a_dropped_caller_ends_the_ringing_as_connection_lost(phones: Exchange) -> None:
    dial, rows = phones.dial, phones.rows
    ana, bo = await dial("Ana"), await dial("Bo")
    call = await ring(ana, bo)
    await ana.ws.close()
    ended = await next_of(bo, "call-ended")
    assert (ended["call"], ended["reason"], ended["by"]) == (call, "connection-lost", ana.user)
    row = row_of(await rows())
    assert (row["end_reason"], row["ended_by"]) == ("connection-lost", ana.user)


async def test_glare_becomes_one_call_on_both_sides(phones: Exchange) -> None:
    dial, rows = phones.dial, phones.rows
    ana, bo = await dial("Ana"), await dial("Bo")
    await send_json(ana.ws, {"type": "invite", "to": bo.user, "media": "video", "id": 1})
    await send_json(bo.ws, {"type": "invite", "to": ana.user, "media": "video", "id": 1})
    ringing = await next_of(ana, "ringing")
    assert (await next_of(bo, "incoming-call"))["call"] == ringing["call"]
    bo_reply = await next_of(bo, "call-accepted")
    ana_accept = await next_of(ana, "call-accepted")
    assert bo_reply["call"] == ana_accept["call"] == ringing["call"]
    assert bo_reply["id"] == 1
    await send_json(ana.ws, {"type": "hangup", "call": ringing["call"]})
    row = row_of(await rows())
    assert row["answered_at"] is not None and row["end_reason"] == "hangup"


async def test_second_device_rings_and_stops_when_the_first_answers(phones: Exchange) -> None:
    dial, rows = phones.dial, phones.rows
    ana = await dial("Ana")
    bo_phone = await dial("Bo")
    bo_laptop = await dial("Bo", token=bo_phone.token)
    assert bo_laptop.user == bo_phone.user, "the same token is the same user"
    call = await ring(ana, bo_phone)
    assert (await next_of(bo_laptop, "incoming-call"))["call"] == call
    await send_json(bo_laptop.ws, {"type": "accept", "call": call, "media": "video"})
    await next_of(bo_laptop, "call-accepted")
    elsewhere = await next_of(bo_phone, "call-ended")
    assert (elsewhere["reason"], elsewhere["by"]) == ("answered-elsewhere", bo_phone.user)
    await send_json(bo_phone.ws, {"type": "hangup", "call": call, "id": 5})
    assert_error(await next_of(bo_phone, "error"), "call-not-found", 5)
    await send_json(ana.ws, {"type": "hangup", "call": call})
    row = row_of(await rows())
    assert (row["end_reason"], row["ended_by"]) == ("hangup", ana.user)


async def test_outsiders_cannot_touch_a_call_and_learn_nothing(phones: Exchange) -> None:
    dial, rows = phones.dial, phones.rows
    ana, bo, eve = await dial("Ana"), await dial("Bo"), await dial("Eve")
    call = await ring(ana, bo)
    for kind in ("accept", "reject", "cancel", "hangup"):
        message: dict[str, Any] = {"type": kind, "call": call, "id": kind}
        if kind == "accept":
            message["media"] = "video"
        await send_json(eve.ws, message)
        assert_error(await next_of(eve, "error"), "call-not-found", kind)
    await send_json(eve.ws, {"type": "hangup", "call": "no-such-call", "id": "x"})
    assert_error(await next_of(eve, "error"), "call-not-found", "x")
    await send_json(eve.ws, {"type": "offer", "to": ana.session, "sdp": "v=0", "id": "o"})
    assert_error(await next_of(eve, "error"), "peer-not-found", "o")
    await assert_silent(ana.ws)
    await send_json(ana.ws, {"type": "cancel", "call": call})
    assert row_of(await rows())["end_reason"] == "cancelled"


async def test_presence_lists_and_announces_users(phones: Exchange) -> None:
    dial = phones.dial
    ana = await dial("Ana")
    bo = await dial("Bo")
    came = await receive_json(ana.ws)
    assert came == {"type": "presence", "user": {"id": bo.user, "name": "Bo"}, "online": True}
    await bo.ws.close()
    went = await receive_json(ana.ws)
    assert (went["user"]["id"], went["online"]) == (bo.user, False)


async def test_history_api_shows_the_end_as_soon_as_call_ended_arrives(
    phones: Exchange, api_calls: Any
) -> None:
    dial = phones.dial
    ana, bo = await dial("Ana"), await dial("Bo")
    call = await ring(ana, bo)
    await send_json(bo.ws, {"type": "reject", "call": call})
    await next_of(ana, "call-ended")
    # No waiting: the API itself waits for the queued writes.
    [entry] = await api_calls(phones.base, ana.token)
    assert (entry["id"], entry["end_reason"], entry["direction"]) == (call, "declined", "outgoing")
    [incoming] = await api_calls(phones.base, bo.token)
    assert (incoming["direction"], incoming["missed"]) == ("incoming", False)
