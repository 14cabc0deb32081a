"""Quality summaries and in-call messages over a real socket, stored in SQLite and PostgreSQL,
and read back through /api/calls by each user."""

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from parley.config import ServerSettings
from parley.storage.database import open_engine
from parley.storage.schema import call_quality

from .helpers import ConnectWs, StartServer, assert_error, receive_json, send_json


@dataclasses.dataclass
class Phone:
    ws: aiohttp.ClientWebSocketResponse
    session: str
    user: str
    token: str


@dataclasses.dataclass
class Exchange:
    """A server on the database under test: `dial(name)` brings a user online, `calls(token)`
    is GET /api/calls as that user, `rows()` reads the call_quality table."""

    dial: Callable[[str], Awaitable[Phone]]
    calls: Callable[[str], Awaitable[list[dict[str, Any]]]]
    rows: Callable[[], Awaitable[list[dict[str, Any]]]]


@pytest.fixture
async def exchange(
    start_server: StartServer,
    connect_ws: ConnectWs,
    http: aiohttp.ClientSession,
    database_url: str,
) -> AsyncIterator[Exchange]:
    base = await start_server(ServerSettings(database_url=database_url, secret=b"q" * 32))
    engine = open_engine(database_url)

    async def dial(name: str) -> Phone:
        ws = await connect_ws(base)
        await send_json(ws, {"type": "hello", "v": 1, "name": name, "presence": True})
        welcome = await receive_json(ws)
        assert welcome["type"] == "welcome", welcome
        return Phone(ws, welcome["session"], welcome["user"]["id"], welcome["token"])

    async def calls(token: str) -> list[dict[str, Any]]:
        # The API waits for the history writer's queue: what was submitted so far is written.
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(base + "api/calls", headers=headers) as response:
            assert response.status == 200
            return list((await response.json())["calls"])

    async def rows() -> list[dict[str, Any]]:
        async with engine.connect() as db:
            query = sa.select(call_quality).order_by(call_quality.c.id)
            return [dict(r) for r in (await db.execute(query)).mappings()]

    yield Exchange(dial, calls, rows)
    await engine.dispose()


async def next_of(phone: Phone, kind: str) -> dict[str, Any]:
    """The next message of a type, skipping presence chatter."""
    for _ in range(20):
        message = await receive_json(phone.ws)
        if message["type"] != "presence":
            assert message["type"] == kind, message
            return message
    pytest.fail(f"no {kind} among 20 messages")


async def talking(exchange: Exchange) -> tuple[Phone, Phone, str]:
    """Ana calls Bo, who answers: returns both and the call id."""
    ana, bo = await exchange.dial("Ana"), await exchange.dial("Bo")
    await send_json(ana.ws, {"type": "invite", "to": bo.user, "media": "video", "id": 1})
    call = (await next_of(ana, "ringing"))["call"]
    assert (await next_of(bo, "incoming-call"))["call"] == call
    await send_json(bo.ws, {"type": "accept", "call": call, "media": "video", "id": 2})
    assert (await next_of(bo, "call-accepted"))["peer"] == ana.session
    assert (await next_of(ana, "call-accepted"))["peer"] == bo.session
    return ana, bo, str(call)


async def hang_up(ana: Phone, bo: Phone, call: str) -> None:
    await send_json(ana.ws, {"type": "hangup", "call": call, "id": 3})
    assert (await next_of(ana, "call-ended"))["reason"] == "hangup"
    assert (await next_of(bo, "call-ended"))["reason"] == "hangup"


ANA_REPORT = {
    "durationSeconds": 61.5,
    "rttMeanMs": 42.25,
    "rttMaxMs": 180.5,
    "lossPercent": 0.75,
    "sendKbps": 812.5,
    "receiveKbps": 640.125,
    "candidateType": "srflx",
    "protocol": "udp",
}
BO_REPORT = {
    "durationSeconds": 61.0,
    "rttMeanMs": 95.0,
    "candidateType": "relay",
    "protocol": "tcp",
    "trouble": "turn-unreachable",
}


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The `quality` object /api/calls shows for a report."""
    return {
        "rtt_mean_ms": report.get("rttMeanMs"),
        "rtt_max_ms": report.get("rttMaxMs"),
        "loss_percent": report.get("lossPercent"),
        "send_kbps": report.get("sendKbps"),
        "receive_kbps": report.get("receiveKbps"),
        "candidate_type": report.get("candidateType"),
        "protocol": report.get("protocol"),
        "trouble": report.get("trouble"),
    }


async def test_both_sides_report_and_each_sees_their_own_summary_in_the_history(
    exchange: Exchange,
) -> None:
    ana, bo, call = await talking(exchange)
    await hang_up(ana, bo, call)

    await send_json(ana.ws, {"type": "quality", "call": call, "id": "ana-q", **ANA_REPORT})
    await send_json(bo.ws, {"type": "quality", "call": call, "id": 7, **BO_REPORT})
    assert await next_of(ana, "quality-saved") == {"type": "quality-saved", "id": "ana-q"}
    assert await next_of(bo, "quality-saved") == {"type": "quality-saved", "id": 7}

    [ana_entry] = await exchange.calls(ana.token)
    [bo_entry] = await exchange.calls(bo.token)
    assert (ana_entry["id"], ana_entry["direction"]) == (call, "outgoing")
    assert (bo_entry["id"], bo_entry["direction"]) == (call, "incoming")
    assert ana_entry["quality"] == summary(ANA_REPORT)
    assert bo_entry["quality"] == summary(BO_REPORT)
    stored = {r["user"]: r for r in await exchange.rows()}
    assert set(stored) == {ana.user, bo.user}
    assert (stored[ana.user]["call_id"], stored[ana.user]["room_session"]) == (call, None)
    assert stored[bo.user]["duration_seconds"] == 61.0


async def test_a_report_during_the_call_is_saved_and_a_resent_one_is_not_stored_twice(
    exchange: Exchange,
) -> None:
    ana, bo, call = await talking(exchange)
    await send_json(ana.ws, {"type": "quality", "call": call, "id": 1, **ANA_REPORT})
    assert await next_of(ana, "quality-saved") == {"type": "quality-saved", "id": 1}
    resent = {**ANA_REPORT, "lossPercent": 50.0}
    await send_json(ana.ws, {"type": "quality", "call": call, "id": 2, **resent})
    assert await next_of(ana, "quality-saved") == {"type": "quality-saved", "id": 2}
    await hang_up(ana, bo, call)

    [entry] = await exchange.calls(ana.token)
    assert entry["quality"] == summary(ANA_REPORT)
    [bo_entry] = await exchange.calls(bo.token)
    assert bo_entry["quality"] is None
    assert [r["user"] for r in await exchange.rows()] == [ana.user]


async def test_a_malformed_quality_frame_is_refused_stores_nothing_and_the_socket_goes_on(
    exchange: Exchange,
) -> None:
    ana, bo, call = await talking(exchange)
    await hang_up(ana, bo, call)
    bad = {**ANA_REPORT, "lossPercent": 150}
    await send_json(ana.ws, {"type": "quality", "call": call, "id": 8, **bad})
    assert_error(await next_of(ana, "error"), "bad-message", 8)
    await send_json(ana.ws, {"type": "quality", "call": call, "id": 9, "candidateType": "pigeon"})
    assert_error(await next_of(ana, "error"), "bad-message", 9)

    # Still usable: a valid report on the same socket is saved, and it is the only row.
    await send_json(ana.ws, {"type": "quality", "call": call, "id": 10, **ANA_REPORT})
    assert await next_of(ana, "quality-saved") == {"type": "quality-saved", "id": 10}
    [entry] = await exchange.calls(ana.token)
    assert entry["quality"] == summary(ANA_REPORT)
    [row] = await exchange.rows()
    assert (row["user"], row["loss_percent"], row["candidate_type"]) == (ana.user, 0.75, "srflx")


async def test_a_strangers_report_on_the_call_gets_call_not_found_and_stores_nothing(
    exchange: Exchange,
) -> None:
    ana, bo, call = await talking(exchange)
    cy = await exchange.dial("Cy")
    await send_json(cy.ws, {"type": "quality", "call": call, "id": 11, **ANA_REPORT})
    assert_error(await next_of(cy, "error"), "call-not-found", 11)
    await hang_up(ana, bo, call)
    await send_json(cy.ws, {"type": "quality", "call": call, "id": 12, **ANA_REPORT})
    assert_error(await next_of(cy, "error"), "call-not-found", 12)

    assert await exchange.calls(cy.token) == []
    [entry] = await exchange.calls(ana.token)  # flushes whatever was submitted before
    assert entry["quality"] is None
    assert await exchange.rows() == []


async def test_in_call_messages_cross_the_socket_with_from_stamped(exchange: Exchange) -> None:
    ana, bo, _ = await talking(exchange)
    await send_json(
        ana.ws,
        {"type": "media-state", "to": bo.session, "from": "forged", "muted": True, "screen": True},
    )
    state = await next_of(bo, "media-state")
    # A flag left out of the frame is false (the protocol's default).
    flags = {"muted": False, "cameraOff": False, "screen": False}
    assert {**flags, **state} == {
        "type": "media-state",
        "from": ana.session,
        "muted": True,
        "cameraOff": False,
        "screen": True,
    }
    await send_json(bo.ws, {"type": "video-request", "to": ana.session})
    assert await next_of(ana, "video-request") == {"type": "video-request", "from": bo.session}
    await send_json(ana.ws, {"type": "video-reply", "to": bo.session, "accepted": False})
    reply = await next_of(bo, "video-reply")
    assert reply == {"type": "video-reply", "from": ana.session, "accepted": False}

    cy = await exchange.dial("Cy")
    await send_json(cy.ws, {"type": "video-request", "to": ana.session, "id": 13})
    assert_error(await next_of(cy, "error"), "peer-not-found", 13)


async def test_a_room_report_is_stored_for_the_session(exchange: Exchange) -> None:
    ana = await exchange.dial("Ana")
    await send_json(ana.ws, {"type": "quality", "id": 14, **BO_REPORT})
    assert_error(await next_of(ana, "error"), "not-in-room", 14)
    await send_json(ana.ws, {"type": "join", "room": "blue-fox", "id": 15})
    assert (await next_of(ana, "joined"))["id"] == 15
    await send_json(ana.ws, {"type": "quality", "id": 16, **BO_REPORT})
    assert await next_of(ana, "quality-saved") == {"type": "quality-saved", "id": 16}

    assert await exchange.calls(ana.token) == []  # flushes the writer; room calls have no entry
    [row] = await exchange.rows()
    assert (row["user"], row["call_id"], row["room_session"]) == (ana.user, None, ana.session)
