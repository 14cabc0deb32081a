"""Session resume through the real server: a socket that drops mid-exchange comes back with
`hello.resume` and `lastSeq` and gets everything it missed, once and in order; a second socket
takes a session over; goodbyes, floods and unknown tokens do not resume; and after a restart the
two sides of a call take it back with `resume-call`.
"""

import asyncio
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from aiohttp import web

from parley.config import ServerSettings
from parley.core.signaling import CoreSettings
from parley.server.app import create_app
from parley.server.site import signaling_site
from parley.storage.database import open_engine
from parley.storage.schema import calls
from tests.support.raw_client import (
    Tab,
    candidate,
    cut,
    offer,
    read_frame,
    relayed,
    say_hello,
    sign_in,
)

from .helpers import ConnectWs, StartServer, receive_close, send_json, ws_url

WINDOW = 10.0
SETTINGS = ServerSettings(core=CoreSettings(resume_window=WINDOW))
ADMIT_SECONDS = 5.0
ROW_SECONDS = 5.0


async def come_back(tab: Tab, ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The page says hello on a new socket, asking for its session back."""
    welcome = await say_hello(ws, token=tab.token, resume=tab.resume, lastSeq=tab.last_seq)
    if welcome.get("resumed"):
        tab.ws = ws
    return welcome


async def join(tab: Tab, room: str) -> dict[str, Any]:
    await send_json(tab.ws, {"type": "join", "room": room, "id": "j"})
    joined = await tab.read()
    assert joined["type"] == "joined", joined
    return joined


async def pair(connect_ws: ConnectWs, base: str, room: str = "resume-room") -> tuple[Tab, Tab]:
    ana, bo = await sign_in(connect_ws, base), await sign_in(connect_ws, base)
    await join(ana, room)
    await join(bo, room)
    assert await ana.read() == {"type": "peer-joined", "peer": bo.session}
    return ana, bo


async def round_trip(tab: Tab) -> None:
    """A request answered at once (a second join is refused): every frame the tab sent before
    it has been handled by the server once the answer is here."""
    await send_json(tab.ws, {"type": "join", "room": "elsewhere", "id": "sync"})
    reply = await tab.read()
    assert (reply["type"], reply["code"], reply["id"]) == ("error", "already-joined", "sync")


async def connect_when_admitted(
    connect_ws: ConnectWs, base: str
) -> aiohttp.ClientWebSocketResponse:
    """A new socket, once the server lets one more in. With `connections_per_client` at its
    limit, that is once the server has handled the close of a dropped one: the slot is freed in
    the same step (no await between) as the core is told the socket is gone, so from here on
    the session is away, not merely unaware of its dead socket."""
    deadline = time.monotonic() + ADMIT_SECONDS
    while True:
        try:
            return await connect_ws(base)
        except aiohttp.WSServerHandshakeError as refused:
            assert refused.status == 429, refused
        assert time.monotonic() < deadline, "the server never noticed the dropped socket"
        await asyncio.sleep(0.02)


# --- a dropped socket -----------------------------------------------------------------------


async def test_a_dropped_socket_resumes_with_every_missed_message_once_in_order(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    base = await start_server(dataclasses.replace(SETTINGS, connections_per_client=2))
    ana, bo = await pair(connect_ws, base)

    # Mid-exchange: Bo sends three; Ana reads one, then her network drops. The other two may
    # already sit in her dead socket: sent, never read.
    sent = [offer(ana, 1), candidate(ana, 2), candidate(ana, 3)]
    for message in sent:
        await send_json(bo.ws, message)
    assert await ana.read() == relayed(sent[0], bo)
    cut(ana.ws)
    comeback = await connect_when_admitted(connect_ws, base)

    # Bo keeps negotiating while Ana is away.
    while_away = [candidate(ana, n) for n in range(4, 10)] + [offer(ana, 10)]
    for message in while_away:
        await send_json(bo.ws, message)
    await round_trip(bo)

    welcome = await come_back(ana, comeback)
    assert welcome["resumed"] is True
    assert welcome["session"] == ana.session
    assert welcome["resume"] == ana.resume
    assert welcome["resumeWindow"] == WINDOW
    # Tab.read checks that each seq is exactly the next one: nothing skipped, nothing twice.
    for message in sent[1:] + while_away:
        assert await ana.read() == relayed(message, bo)

    # The room works both ways afterwards, and the numbering carries on.
    answer = {"type": "answer", "to": bo.session, "sdp": "v=0 answer"}
    await send_json(ana.ws, answer)
    assert await bo.read() == relayed(answer, ana)
    await send_json(bo.ws, candidate(ana, 11))
    assert await ana.read() == relayed(candidate(ana, 11), bo)
    await round_trip(ana)


async def test_a_socket_the_server_drops_mid_exchange_resumes_with_everything_it_missed(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    """The server side cuts the socket (it stopped answering pings, like a laptop whose lid
    closed); frames already written to it are lost with it. The resume gets them all back."""
    heartbeat = 0.4
    base = await start_server(dataclasses.replace(SETTINGS, heartbeat_seconds=heartbeat))
    async with aiohttp.ClientSession() as http:
        silent = await http.ws_connect(ws_url(base), autoping=False)  # never answers a ping
        welcome = await say_hello(silent)
        ana = Tab(
            silent, welcome["session"], welcome["user"]["id"], welcome["token"], welcome["resume"]
        )
        bo = await sign_in(connect_ws, base)
        await join(ana, "server-drop")
        await join(bo, "server-drop")
        assert await ana.read() == {"type": "peer-joined", "peer": bo.session}
        # Bo keeps reading (so his client answers the server's pings); what he gets is kept.
        bo_got: list[dict[str, Any]] = []
        pump = asyncio.create_task(keep_reading(bo.ws, bo_got))
        try:
            sent = [offer(ana, 1), candidate(ana, 2), candidate(ana, 3)]
            for message in sent:
                await send_json(bo.ws, message)
            # Whatever reaches the silent socket now is never counted as read: lost in flight.
            deadline = time.monotonic() + 10 * heartbeat + 5
            closed_by_server = False
            while time.monotonic() < deadline:
                frame = await silent.receive(timeout=max(0.1, deadline - time.monotonic()))
                if frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    closed_by_server = True
                    break
            assert closed_by_server, "the server never dropped a socket that stopped answering"
            while_away = [candidate(ana, 4), offer(ana, 5)]
            for message in while_away:
                await send_json(bo.ws, message)

            back = await come_back(ana, await connect_ws(base))
            assert back["resumed"] is True and back["session"] == ana.session
            for message in sent + while_away:
                assert await ana.read() == relayed(message, bo)
            await send_json(ana.ws, {"type": "answer", "to": bo.session, "sdp": "v=0 answer"})
            expected = {"type": "answer", "from": ana.session, "sdp": "v=0 answer"}
            for _ in range(50):
                if expected in bo_got:
                    break
                await asyncio.sleep(0.05)
            assert expected in bo_got
        finally:
            pump.cancel()


async def keep_reading(ws: aiohttp.ClientWebSocketResponse, into: list[dict[str, Any]]) -> None:
    for _ in range(10_000):
        frame = await ws.receive()
        if frame.type is not aiohttp.WSMsgType.TEXT:
            return
        message = json.loads(frame.data)
        message.pop("seq", None)
        into.append(message)


async def test_a_second_drop_resumes_again_from_where_the_page_got_to(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    base = await start_server(dataclasses.replace(SETTINGS, connections_per_client=2))
    ana, bo = await pair(connect_ws, base)
    for n in range(2):
        cut(ana.ws)
        comeback = await connect_when_admitted(connect_ws, base)
        await send_json(bo.ws, candidate(ana, n))
        await round_trip(bo)
        welcome = await come_back(ana, comeback)
        assert (welcome["resumed"], welcome["session"]) == (True, ana.session)
        assert await ana.read() == relayed(candidate(ana, n), bo)
    await send_json(ana.ws, offer(bo, 9))
    assert await bo.read() == relayed(offer(bo, 9), ana)


async def test_a_resume_from_a_second_socket_takes_over_and_closes_the_old_one_with_4409(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    base = await start_server(SETTINGS)
    ana, bo = await pair(connect_ws, base)
    old = ana.ws
    welcome = await come_back(ana, await connect_ws(base))
    assert (welcome["resumed"], welcome["session"]) == (True, ana.session)
    assert await receive_close(old) == 4409
    # The session lives on in the new socket: no peer-left, and relays reach it.
    await send_json(bo.ws, offer(ana, 1))
    assert await ana.read() == relayed(offer(ana, 1), bo)
    await send_json(ana.ws, candidate(bo, 2))
    assert await bo.read() == relayed(candidate(bo, 2), ana)


async def test_an_unknown_resume_token_gets_a_fresh_session(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    base = await start_server(SETTINGS)
    ana, _ = await pair(connect_ws, base)
    ws = await connect_ws(base)
    welcome = await say_hello(ws, token=ana.token, resume="no-such-token", lastSeq=5)
    assert welcome.get("resumed", False) is False
    assert welcome["session"] != ana.session
    assert welcome["user"]["id"] == ana.user
    assert welcome["resume"] not in (None, ana.resume)
    assert welcome["resumeWindow"] == WINDOW
    # A fresh session: in no room, its numbering starts at 1.
    await send_json(ws, {"type": "leave", "id": 1})
    reply = await read_frame(ws)
    assert (reply["seq"], reply["type"], reply["code"]) == (1, "error", "not-in-room")


async def test_a_clean_close_is_a_goodbye_the_peer_hears_at_once_and_it_does_not_resume(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    base = await start_server(SETTINGS)
    ana, bo = await pair(connect_ws, base)
    await ana.ws.close()
    assert await bo.read(timeout=2.0) == {
        "type": "peer-left",
        "peer": ana.session,
        "reason": "disconnected",
    }
    welcome = await come_back(ana, await connect_ws(base))
    assert welcome.get("resumed", False) is False
    assert welcome["session"] != ana.session


async def test_a_socket_cut_for_flooding_does_not_resume(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    base = await start_server(dataclasses.replace(SETTINGS, messages_per_second=1, message_burst=8))
    ana, bo = await pair(connect_ws, base)
    for n in range(20):
        await send_json(ana.ws, candidate(bo, n))
    assert await receive_close(ana.ws) == 1008
    for _ in range(20):
        message = await bo.read()
        if message["type"] != "candidate":
            break
    assert message == {"type": "peer-left", "peer": ana.session, "reason": "disconnected"}
    welcome = await come_back(ana, await connect_ws(base))
    assert welcome.get("resumed", False) is False


# --- a server restart in the middle of a call -----------------------------------------------


@dataclasses.dataclass
class Restarted:
    ana: Tab
    bo: Tab
    call: str
    rows: list[dict[str, Any]]


async def call_across_a_restart(
    start_server: StartServer, connect_ws: ConnectWs, tmp_path: Path
) -> Restarted:
    """Ana calls Bo; the server restarts (closing with 1012); both reconnect to the new process
    (same database and secret), claim the call back, talk, and Bo hangs up."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}"
    settings = dataclasses.replace(SETTINGS, database_url=url, secret=b"r" * 32)
    first = web.AppRunner(
        create_app(dataclasses.replace(settings, data_dir=tmp_path / "first")),
        handle_signals=False,
    )
    await first.setup()
    stopped = False
    try:
        await signaling_site(first, "127.0.0.1", 0).start()
        host, port = first.addresses[0][:2]
        old_base = f"http://{host}:{port}/"
        ana = await sign_in(connect_ws, old_base, name="Ana", presence=True)
        bo = await sign_in(connect_ws, old_base, name="Bo", presence=True)
        await send_json(ana.ws, {"type": "invite", "to": bo.user, "media": "video"})
        call = (await ana.next_of("ringing"))["call"]
        await bo.next_of("incoming-call")
        await send_json(bo.ws, {"type": "accept", "call": call, "media": "video"})
        ticket = (await bo.next_of("call-accepted"))["ticket"]
        assert (await ana.next_of("call-accepted"))["ticket"] == ticket
        await asyncio.sleep(0.05)  # a measurable duration before the restart
        stopped = True
        closes = await asyncio.gather(first.cleanup(), receive_close(ana.ws), receive_close(bo.ws))
        assert closes[1:] == [1012, 1012], "the restart says: come back and resume"
    finally:
        if not stopped:
            await first.cleanup()

    base = await start_server(settings)
    for tab in (ana, bo):
        welcome = await come_back(tab, ws := await connect_ws(base))
        assert welcome.get("resumed", False) is False, "a new process knows no session"
        assert welcome["user"]["id"] == tab.user
        tab.ws, tab.session, tab.resume, tab.last_seq = ws, welcome["session"], welcome["resume"], 0

    claim = {"type": "resume-call", "call": call, "media": "video", "ticket": ticket}
    await send_json(ana.ws, {**claim, "peer": bo.user, "role": "caller", "id": 1})
    await send_json(bo.ws, {**claim, "peer": ana.user, "role": "callee", "id": 2})
    assert await bo.next_of("call-resumed") == {
        "type": "call-resumed",
        "id": 2,
        "call": call,
        "media": "video",
        "peer": ana.session,
    }
    resumed = await ana.next_of("call-resumed")
    assert (resumed["call"], resumed["peer"]) == (call, bo.session)
    await send_json(ana.ws, offer(bo, 1))
    assert await bo.next_of("offer") == relayed(offer(bo, 1), ana)
    await send_json(bo.ws, {"type": "hangup", "call": call, "id": 3})
    assert (await bo.next_of("call-ended"))["reason"] == "hangup"
    assert (await ana.next_of("call-ended"))["by"] == bo.user

    engine = open_engine(url)
    try:
        deadline = time.monotonic() + ROW_SECONDS
        while True:
            async with engine.connect() as db:
                rows = [dict(r) for r in (await db.execute(sa.select(calls))).mappings()]
            if (rows and rows[0]["ended_at"] is not None) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()
    return Restarted(ana, bo, call, rows)


async def test_a_call_goes_on_across_a_server_restart_and_its_row_is_finished_once(
    start_server: StartServer, connect_ws: ConnectWs, tmp_path: Path
) -> None:
    done = await call_across_a_restart(start_server, connect_ws, tmp_path)
    [row] = done.rows
    assert (row["id"], row["caller"], row["callee"]) == (done.call, done.ana.user, done.bo.user)
    assert row["answered_at"] is not None, "answered before the restart"
    assert row["ended_at"] is not None and row["ended_at"] >= row["answered_at"]
    assert (row["end_reason"], row["ended_by"]) == ("hangup", done.bo.user)


async def test_a_call_resumed_after_a_restart_keeps_its_duration_in_the_history(
    start_server: StartServer, connect_ws: ConnectWs, tmp_path: Path
) -> None:
    """The new process never saw the answer, so its `ended` record has no answer time; the
    history must still give the row the duration from the answer it already holds."""
    done = await call_across_a_restart(start_server, connect_ws, tmp_path)
    [row] = done.rows
    assert row["ended_at"] is not None
    assert row["duration_seconds"] is not None and row["duration_seconds"] > 0, row
