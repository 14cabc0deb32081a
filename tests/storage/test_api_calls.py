"""GET /api/calls on a real server: only the bearer's own calls, and nothing of the media path."""

import dataclasses
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from parley.config import ServerSettings
from parley.core.effects import CallRecord, RecordCall
from parley.identity import GuestIdentities
from parley.server.api import HISTORY_KEY, MAX_PAGE
from parley.server.app import create_app
from parley.server.site import signaling_site
from parley.storage.history import CallHistory

SECRET = b"x" * 32
T0 = 1_700_000_000.25
FRAME_LIMIT = 50  # frames read while waiting for one message type, so a chatty server can't hang
RECEIVE_SECONDS = 5.0

SDP_MARKERS = ("v=0", "a=candidate", "candidate:", "IN IP4", "a=fingerprint")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6 = re.compile(r"(?i)(?<![\w:])(?:[0-9a-f:]*::[0-9a-f:]*|(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4})")
# Documentation-range addresses: if any reached the history, they came from our own SDP.
OFFER_SDP = (
    "v=0\r\no=- 4611731400430051336 2 IN IP4 198.51.100.23\r\ns=-\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
    "a=candidate:1 1 udp 2122260223 198.51.100.23 54400 typ host\r\n"
    "a=fingerprint:sha-256 AB:CD:EF\r\n"
)
ANSWER_SDP = OFFER_SDP.replace("198.51.100.23", "203.0.113.9")
TRICKLED = "candidate:2 1 udp 1686052607 2001:db8::7 61000 typ srflx raddr 192.0.2.4 rport 9"


@dataclass
class Server:
    url: str
    app: web.Application

    @property
    def history(self) -> CallHistory:
        return self.app[HISTORY_KEY]


@dataclass
class Guest:
    user: str
    token: str


def guest(name: str) -> Guest:
    admission = GuestIdentities(SECRET).admit(None, name, 0)
    assert admission is not None and admission.token is not None
    return Guest(admission.identity.user, admission.token)


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[Server]:
    # history_days=0: the calls here are dated 2023 (exact binary times), older than 90 days.
    settings = ServerSettings(
        data_dir=tmp_path / "data", database_url=database_url, secret=SECRET, history_days=0
    )
    app = create_app(settings)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    try:
        await signaling_site(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield Server(f"http://{host}:{port}", app)
    finally:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def get_calls(
    http: aiohttp.ClientSession, server: Server, token: str | None, query: str = ""
) -> tuple[int, dict[str, str], str]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with http.get(f"{server.url}/api/calls{query}", headers=headers) as response:
        return response.status, dict(response.headers), await response.text()


async def add_call(
    history: CallHistory,
    call_id: str,
    caller: tuple[str, str],
    callee: tuple[str, str],
    created: float,
    *,
    answered: float | None = None,
    ended: float,
    reason: str,
    by: str | None,
) -> None:
    record = CallRecord(
        id=call_id,
        caller=caller[0],
        caller_name=caller[1],
        callee=callee[0],
        callee_name=callee[1],
        media="video",
        created=created,
    )
    await history.write(RecordCall("created", record))
    if answered is not None:
        record = dataclasses.replace(record, answered=answered)
        await history.write(RecordCall("answered", record))
    record = dataclasses.replace(record, ended=ended, end_reason=reason, ended_by=by)  # type: ignore[arg-type]
    await history.write(RecordCall("ended", record))


def parse_times(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        key: datetime.fromisoformat(value)
        if key in ("created", "answered", "ended") and value
        else value
        for key, value in entry.items()
    }


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def test_no_token_is_unauthorized(http: aiohttp.ClientSession, server: Server) -> None:
    status, headers, body = await get_calls(http, server, None)

    assert status == 401
    assert headers["WWW-Authenticate"] == "Bearer"
    assert "calls" not in json.loads(body)


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not-a-token",
        "Bearer g1.someone.forged-mac",
        "Bearer ",
        "Basic {token}",
        "{token}",
        "Bearer {other_server_token}",
        "Bearer {token}x",
    ],
    ids=["garbage", "forged-mac", "empty", "basic-scheme", "no-scheme", "other-secret", "altered"],
)
async def test_bad_tokens_are_unauthorized(
    http: aiohttp.ClientSession, server: Server, authorization: str
) -> None:
    ana = guest("Ana")
    await add_call(
        server.history,
        "c1",
        (ana.user, "Ana"),
        ("u-bo", "Bo"),
        T0,
        ended=T0 + 1,
        reason="no-answer",
        by=None,
    )
    other = GuestIdentities(b"y" * 32).admit(None, "Ana", 0)
    assert other is not None
    header = authorization.format(token=ana.token, other_server_token=other.token)

    async with http.get(f"{server.url}/api/calls", headers={"Authorization": header}) as response:
        status, body = response.status, await response.text()

    assert status == 401
    assert "c1" not in body


async def test_a_guest_gets_exactly_their_own_calls(
    http: aiohttp.ClientSession, server: Server
) -> None:
    ana, bo, cy = guest("Ana"), guest("Bo"), guest("Cy")
    history = server.history
    await add_call(
        history,
        "ana-to-bo",
        (ana.user, "Ana"),
        (bo.user, "Bo"),
        T0,
        answered=T0 + 2,
        ended=T0 + 62.5,
        reason="hangup",
        by=bo.user,
    )
    await add_call(
        history,
        "bo-to-cy",
        (bo.user, "Bo"),
        (cy.user, "Cy"),
        T0 + 100,
        ended=T0 + 101,
        reason="declined",
        by=cy.user,
    )
    await add_call(
        history,
        "cy-to-ana",
        (cy.user, "Cy"),
        (ana.user, "Ana"),
        T0 + 200,
        ended=T0 + 230,
        reason="no-answer",
        by=None,
    )

    status, headers, body = await get_calls(http, server, ana.token)

    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert headers["Cache-Control"] == "no-store"
    decoded = json.loads(body)
    assert list(decoded) == ["calls"]
    assert [parse_times(e) for e in decoded["calls"]] == [
        {
            "id": "cy-to-ana",
            "direction": "incoming",
            "peer": cy.user,
            "peer_name": "Cy",
            "media": "video",
            "created": at(T0 + 200),
            "answered": None,
            "ended": at(T0 + 230),
            "duration_seconds": None,
            "end_reason": "no-answer",
            "ended_by": None,
            "missed": True,
            "quality": None,
        },
        {
            "id": "ana-to-bo",
            "direction": "outgoing",
            "peer": bo.user,
            "peer_name": "Bo",
            "media": "video",
            "created": at(T0),
            "answered": at(T0 + 2),
            "ended": at(T0 + 62.5),
            "duration_seconds": 60.5,
            "end_reason": "hangup",
            "ended_by": bo.user,
            "missed": False,
            "quality": None,
        },
    ]


async def test_a_guest_with_no_calls_gets_an_empty_list(
    http: aiohttp.ClientSession, server: Server
) -> None:
    ana, bo, cy = guest("Ana"), guest("Bo"), guest("Cy")
    await add_call(
        server.history,
        "bo-to-cy",
        (bo.user, "Bo"),
        (cy.user, "Cy"),
        T0,
        ended=T0 + 1,
        reason="busy",
        by=None,
    )

    status, _, body = await get_calls(http, server, ana.token)

    assert (status, json.loads(body)) == (200, {"calls": []})


async def test_limit_is_clamped_to_one_and_to_the_page_size(
    http: aiohttp.ClientSession, server: Server
) -> None:
    ana = guest("Ana")
    # Through the app's own background writer, as the hub feeds it.
    for n in range(MAX_PAGE + 3):
        record = CallRecord(f"c{n:03}", ana.user, "Ana", "u-bo", "Bo", "audio", T0 + n)
        server.history.submit(RecordCall("created", record))
    await server.history.flush()

    async def listed(query: str) -> list[str]:
        status, _, body = await get_calls(http, server, ana.token, query)
        assert status == 200, body
        return [e["id"] for e in json.loads(body)["calls"]]

    newest_first = [f"c{n:03}" for n in reversed(range(MAX_PAGE + 3))]
    assert await listed("?limit=2") == newest_first[:2]
    assert await listed("?limit=0") == newest_first[:1]
    assert await listed("?limit=-9") == newest_first[:1]
    assert await listed(f"?limit={MAX_PAGE + 1}") == newest_first[:MAX_PAGE]
    assert await listed("?limit=99999999999999999999") == newest_first[:MAX_PAGE]
    assert await listed("") == newest_first[:50]


@pytest.mark.parametrize("limit", ["abc", "1.5", "", "10abc", "0x10"])
async def test_a_limit_that_is_not_a_whole_number_is_a_bad_request(
    http: aiohttp.ClientSession, server: Server, limit: str
) -> None:
    ana = guest("Ana")

    status, _, _ = await get_calls(http, server, ana.token, f"?limit={limit}")

    assert status == 400


@pytest.mark.parametrize("query", ["?limit=5&_=1700000000", "?limit=1&limit=2", "?user=someone"])
async def test_an_unknown_or_repeated_parameter_is_a_bad_request_in_json(
    http: aiohttp.ClientSession, server: Server, query: str
) -> None:
    ana = guest("Ana")

    status, headers, body = await get_calls(http, server, ana.token, query)

    assert status == 400
    assert headers["Content-Type"].startswith("application/json")
    assert set(json.loads(body)) == {"error"}
    assert (await get_calls(http, server, ana.token, "?limit=5"))[0] == 200


async def receive_type(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next frame of this type, skipping others (e.g. presence); bounded in count and time."""
    deadline = time.monotonic() + RECEIVE_SECONDS
    for _ in range(FRAME_LIMIT):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        message = await ws.receive(timeout=remaining)
        if message.type is not aiohttp.WSMsgType.TEXT:
            pytest.fail(f"waiting for {kind!r}, the socket gave {message.type.name}")
        frame = json.loads(message.data)
        if frame.get("type") == kind:
            return frame
        if frame.get("type") == "error":
            pytest.fail(f"waiting for {kind!r}, the server answered {frame}")
    pytest.fail(f"no {kind!r} frame within {RECEIVE_SECONDS} s / {FRAME_LIMIT} frames")


async def test_history_of_a_real_call_holds_no_sdp_or_addresses(
    http: aiohttp.ClientSession, server: Server
) -> None:
    # A whole call through /ws, SDP and candidates full of addresses included, then the API.
    ana = guest("Ana")
    async with (
        http.ws_connect(f"{server.url}/ws") as ana_ws,
        http.ws_connect(f"{server.url}/ws") as bo_ws,
    ):
        await ana_ws.send_json(
            {"type": "hello", "v": 1, "name": "Ana", "token": ana.token, "presence": True}
        )
        ana_welcome = await receive_type(ana_ws, "welcome")
        await bo_ws.send_json({"type": "hello", "v": 1, "name": "Bo", "presence": True})
        bo_welcome = await receive_type(bo_ws, "welcome")
        assert ana_welcome["user"]["id"] == ana.user
        bo_user, bo_token = bo_welcome["user"]["id"], bo_welcome["token"]

        await ana_ws.send_json({"type": "invite", "to": bo_user, "media": "video"})
        call = (await receive_type(ana_ws, "ringing"))["call"]
        await receive_type(bo_ws, "incoming-call")
        await bo_ws.send_json({"type": "accept", "call": call, "media": "video"})
        await receive_type(bo_ws, "call-accepted")
        await receive_type(ana_ws, "call-accepted")
        await ana_ws.send_json({"type": "offer", "to": bo_welcome["session"], "sdp": OFFER_SDP})
        await receive_type(bo_ws, "offer")
        await bo_ws.send_json({"type": "answer", "to": ana_welcome["session"], "sdp": ANSWER_SDP})
        await receive_type(ana_ws, "answer")
        await bo_ws.send_json(
            {
                "type": "candidate",
                "to": ana_welcome["session"],
                "candidate": {"candidate": TRICKLED, "sdpMid": "0"},
            }
        )
        await receive_type(ana_ws, "candidate")
        await ana_ws.send_json({"type": "hangup", "call": call})
        await receive_type(ana_ws, "call-ended")
        await receive_type(bo_ws, "call-ended")
    # The detectors must recognise what was sent, or finding nothing below would prove nothing.
    sent = OFFER_SDP + ANSWER_SDP + TRICKLED
    assert all(marker in sent for marker in SDP_MARKERS)
    assert set(IPV4.findall(sent)) == {"198.51.100.23", "0.0.0.0", "203.0.113.9", "192.0.2.4"}
    assert IPV6.findall(sent) == ["2001:db8::7"]
    # The hub queued every step before it sent call-ended; flush waits for them to be written.
    await server.history.flush()

    for token, peer in [(ana.token, bo_user), (bo_token, ana.user)]:
        status, _, body = await get_calls(http, server, token)
        assert status == 200
        [entry] = json.loads(body)["calls"]
        assert (entry["id"], entry["peer"], entry["end_reason"], entry["ended_by"]) == (
            call,
            peer,
            "hangup",
            ana.user,
        )
        assert entry["answered"] is not None
        assert [m for m in SDP_MARKERS if m in body] == []
        assert IPV4.findall(body) == []
        assert IPV6.findall(body) == []
