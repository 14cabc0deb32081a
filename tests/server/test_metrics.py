"""`/metrics`, `/readyz` and JSON logs: a real call moves the right numbers."""

import asyncio
import json
import logging
import sys
from datetime import datetime
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from parley.config import ServerSettings
from parley.core.signaling import CoreSettings
from parley.logs import JsonFormatter
from parley.turn.credentials import TurnCredentialIssuer

from .helpers import ConnectWs, StartServer, receive_json, send_json


async def scrape(
    http: aiohttp.ClientSession, base: str
) -> dict[tuple[str, tuple[Any, ...]], float]:
    """Every sample as {(name, sorted labels): value}."""
    async with http.get(base + "metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples: dict[tuple[str, tuple[Any, ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[Any, ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def online(connect_ws: ConnectWs, base: str, name: str) -> tuple[Any, dict[str, Any]]:
    ws = await connect_ws(base)
    await send_json(ws, {"type": "hello", "v": 1, "name": name, "presence": True})
    welcome = await receive_json(ws)
    assert welcome["type"] == "welcome"
    return ws, welcome


async def next_of_type(ws: Any, kind: str) -> dict[str, Any]:
    for _ in range(20):
        message = await receive_json(ws)
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} among 20 messages")


async def test_a_direct_call_moves_the_counters(
    start_server: StartServer, connect_ws: ConnectWs, http: aiohttp.ClientSession
) -> None:
    turn = TurnCredentialIssuer(("turn:203.0.113.9:3478",), b"s" * 32)
    base = await start_server(ServerSettings(core=CoreSettings(turn=turn)))
    before = await scrape(http, base)
    assert value(before, "parley_connections") == 0

    ann, _ = await online(connect_ws, base, "Ann")
    bob, bob_welcome = await online(connect_ws, base, "Bob")
    levels = await scrape(http, base)
    assert value(levels, "parley_connections") == 2
    assert value(levels, "parley_sessions", state="connected") == 2
    assert value(levels, "parley_users_online") == 2
    assert value(levels, "parley_turn_credentials_issued_total") == 0, "none for being online"

    await send_json(ann, {"type": "invite", "to": bob_welcome["user"]["id"], "media": "video"})
    ringing = await next_of_type(ann, "ringing")
    await next_of_type(bob, "incoming-call")
    for ws in (ann, bob):  # both sides of a ringing call get TURN credentials
        await send_json(ws, {"type": "ice-servers"})
        await next_of_type(ws, "ice-servers")
    assert value(await scrape(http, base), "parley_turn_credentials_issued_total") == 2
    assert value(await scrape(http, base), "parley_calls", state="ringing") == 1
    await send_json(bob, {"type": "accept", "call": ringing["call"], "media": "video"})
    accepted = await next_of_type(ann, "call-accepted")
    await next_of_type(bob, "call-accepted")
    await send_json(ann, {"type": "offer", "to": accepted["peer"], "sdp": "v=0"})
    await next_of_type(bob, "offer")
    for _ in range(3):
        candidate = {"candidate": "candidate:1 1 udp 1 198.51.100.7 5000 typ host"}
        await send_json(
            bob, {"type": "candidate", "to": bob_welcome["session"], "candidate": candidate}
        )
    # Bob named himself: three peer-not-found errors, nothing relayed.
    for _ in range(3):
        assert (await next_of_type(bob, "error"))["code"] == "peer-not-found"
    during = await scrape(http, base)
    assert value(during, "parley_calls", state="active") == 1
    assert value(during, "parley_call_setup_seconds_count") == 1
    await send_json(ann, {"type": "hangup", "call": ringing["call"]})
    await next_of_type(bob, "call-ended")

    after = await scrape(http, base)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("parley_messages_sent_total", type="offer") == 1
    assert grew("parley_messages_sent_total", type="candidate") == 0
    assert grew("parley_messages_sent_total", type="incoming-call") == 1
    assert grew("parley_errors_total", code="peer-not-found") == 3
    assert grew("parley_calls_started_total") == 1
    assert grew("parley_calls_ended_total", reason="hangup") == 1
    assert grew("parley_calls_ended_total", reason="busy") == 0
    assert value(after, "parley_calls", state="active") == 0
    assert value(after, "parley_messages_received_total") >= 9


async def test_readyz_is_ready_while_serving(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await start_server()
    async with http.get(base + "readyz") as response:
        assert response.status == 200
        assert (await response.json()) == {"status": "ready"}


def test_json_log_lines_are_objects_with_the_message() -> None:
    record = logging.LogRecord(
        "parley.test", logging.WARNING, __file__, 1, "hello %s", ("x",), None
    )
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line, "one record, one line"
    entry = json.loads(line)
    assert entry["level"] == "warning"
    assert entry["logger"] == "parley.test"
    assert entry["message"] == "hello x"
    assert "ValueError: boom" in entry["exception"]
    logged = datetime.fromisoformat(entry["time"])
    assert abs(logged.timestamp() - record.created) < 0.01


async def test_sessions_away_are_counted_until_resumed(
    start_server: StartServer, connect_ws: ConnectWs, http: aiohttp.ClientSession
) -> None:
    base = await start_server()
    ws, welcome = await online(connect_ws, base, "Ann")
    ws._response.connection.transport.abort()  # no close frame: a dropped network
    for _ in range(50):
        samples = await scrape(http, base)
        if value(samples, "parley_sessions", state="away") == 1:
            break
        await asyncio.sleep(0.05)
    assert value(samples, "parley_sessions", state="away") == 1
    again = await connect_ws(base)
    await send_json(
        again,
        {"type": "hello", "v": 1, "token": welcome["token"], "resume": welcome["resume"]},
    )
    assert (await receive_json(again))["resumed"] is True
    samples = await scrape(http, base)
    assert value(samples, "parley_sessions", state="away") == 0
    assert value(samples, "parley_sessions", state="connected") == 1


async def test_metrics_can_require_a_bearer_token(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await start_server(ServerSettings(metrics_token="s3cret"))
    async with http.get(base + "metrics") as response:
        assert response.status == 401
    async with http.get(base + "metrics", headers={"Authorization": "Bearer wrong"}) as response:
        assert response.status == 401
    headers = {"Authorization": "Bearer s3cret"}
    async with http.get(base + "metrics", headers=headers) as response:
        assert response.status == 200
        assert "parley_connections" in await response.text()
