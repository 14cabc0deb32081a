"""A peer that vanishes without closing (laptop lid shut, process stopped) is found out by the
WebSocket heartbeat, kept for the resume window, then declared gone: the other side is told and
the call's history row is finished.

The vanishing peer is a real client in another process, stopped with SIGSTOP: its kernel still
acknowledges TCP, so only the missing pongs give it away.
"""

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from parley.config import ServerSettings
from parley.core.signaling import CoreSettings
from parley.storage.database import open_engine
from parley.storage.schema import calls

from .helpers import ConnectWs, StartServer, receive_json, send_json, ws_url

HEARTBEAT = 0.5
WINDOW = 1.0
# A ping goes out after HEARTBEAT without traffic and its pong is due HEARTBEAT / 2 later; then
# the session waits WINDOW for a resume. The rest is slack for a loaded machine.
GONE_WITHIN = HEARTBEAT * 1.5 + WINDOW + 2.0
SETTINGS = ServerSettings(heartbeat_seconds=HEARTBEAT, core=CoreSettings(resume_window=WINDOW))
START_SECONDS = 20.0
REPLY_SECONDS = 5.0
ROW_SECONDS = 5.0

# Says hello (online for calls), joins a room when given one, prints its welcome as one JSON
# line once it is in, then only reads: it answers pings and accepts any call that rings.
VANISHING_CLIENT = """
import asyncio, json, sys
import aiohttp

async def main(url, room):
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_str(json.dumps({"type": "hello", "v": 1, "name": "Zed", "presence": True}))
        welcome = None
        async for frame in ws:
            message = json.loads(frame.data)
            if message["type"] == "welcome":
                welcome = message
                if not room:
                    print(json.dumps(welcome), flush=True)
                else:
                    await ws.send_str(json.dumps({"type": "join", "room": room}))
            elif message["type"] == "joined":
                print(json.dumps(welcome), flush=True)
            elif message["type"] == "incoming-call":
                accept = {"type": "accept", "call": message["call"], "media": "audio"}
                await ws.send_str(json.dumps(accept))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@dataclasses.dataclass
class Vanishing:
    process: asyncio.subprocess.Process
    session: str
    user: str

    def stop(self) -> float:
        """SIGSTOP: the process freezes with its socket open. Returns when (monotonic)."""
        os.kill(self.process.pid, signal.SIGSTOP)
        return time.monotonic()


@contextlib.asynccontextmanager
async def vanishing_client(base: str, tmp_path: Path, room: str = "") -> AsyncIterator[Vanishing]:
    script = tmp_path / "vanishing_client.py"
    script.write_text(VANISHING_CLIENT)
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), ws_url(base), room, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), START_SECONDS)
        assert line, f"the client process exited ({await process.wait()}) before it was in"
        welcome = json.loads(line)
        yield Vanishing(process, welcome["session"], welcome["user"]["id"])
    finally:
        if process.returncode is None:
            process.kill()  # SIGKILL ends a stopped process too
        await asyncio.wait_for(process.wait(), 10)


async def next_news(ws: aiohttp.ClientWebSocketResponse, deadline: float) -> dict[str, Any]:
    """The next message other than presence news, by `deadline` (monotonic) at the latest.

    Waiting in receive also answers the server's pings, so this side stays alive. aiohttp's own
    receive timeout restarts with every ping, so the deadline is kept here, around it.
    """
    while True:
        remaining = deadline - time.monotonic()
        try:
            async with asyncio.timeout(max(remaining, 0)):
                message = await receive_json(ws, timeout=max(remaining, 0.01))
        except TimeoutError:
            pytest.fail("nothing arrived in time")
        if message["type"] != "presence":
            return message


async def reply(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    return await next_news(ws, time.monotonic() + REPLY_SECONDS)


async def test_a_room_member_that_vanishes_is_declared_gone_after_heartbeat_and_window(
    start_server: StartServer, connect_ws: ConnectWs, tmp_path: Path
) -> None:
    base = await start_server(SETTINGS)
    async with vanishing_client(base, tmp_path, room="lid") as zed:
        bo = await connect_ws(base)
        await send_json(bo, {"type": "hello", "v": 1})
        assert (await reply(bo))["type"] == "welcome"
        await send_json(bo, {"type": "join", "room": "lid", "id": 1})
        joined = await reply(bo)
        assert joined["peers"] == [{"id": zed.session, "ready": False}]

        stopped = zed.stop()
        left = await next_news(bo, stopped + GONE_WITHIN)
        waited = time.monotonic() - stopped
        assert left == {"type": "peer-left", "peer": zed.session, "reason": "disconnected"}
        assert waited >= WINDOW * 0.9, f"told after {waited:.2f} s: the resume window was skipped"

        # The side that kept answering pings is still connected and served.
        await send_json(bo, {"type": "join", "room": "lid-2", "id": 2})
        refused = await reply(bo)
        assert (refused["type"], refused["code"], refused["id"]) == ("error", "already-joined", 2)


async def test_a_callee_that_vanishes_ends_the_call_as_connection_lost_and_finishes_its_row(
    start_server: StartServer, connect_ws: ConnectWs, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}"
    base = await start_server(dataclasses.replace(SETTINGS, database_url=url))
    async with vanishing_client(base, tmp_path) as zed:
        bo = await connect_ws(base)
        await send_json(bo, {"type": "hello", "v": 1, "name": "Bo", "presence": True})
        welcome = await reply(bo)
        assert welcome["type"] == "welcome"
        await send_json(bo, {"type": "invite", "to": zed.user, "media": "video", "id": 1})
        ringing = await reply(bo)
        assert ringing["type"] == "ringing", ringing
        call = ringing["call"]
        accepted = await reply(bo)
        assert (accepted["type"], accepted["call"], accepted["peer"]) == (
            "call-accepted",
            call,
            zed.session,
        )

        stopped = zed.stop()
        ended = await next_news(bo, stopped + GONE_WITHIN)
        waited = time.monotonic() - stopped
        assert ended == {
            "type": "call-ended",
            "call": call,
            "reason": "connection-lost",
            "by": zed.user,
        }
        assert waited >= WINDOW * 0.9, f"ended after {waited:.2f} s: the resume window was skipped"

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
    [row] = rows
    assert (row["id"], row["caller"], row["callee"]) == (call, welcome["user"]["id"], zed.user)
    assert row["answered_at"] is not None
    assert row["ended_at"] is not None
    assert (row["end_reason"], row["ended_by"]) == ("connection-lost", zed.user)
    assert row["media"] == "audio", "Zed answered with voice only"
