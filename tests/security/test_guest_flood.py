"""Attack surface: throw-away guests, and the call history they could flood.

Every new socket without a token becomes a new guest with a user's own budgets. Before the fix
a few sockets from one address, inviting offline users for 16 s, made real answered calls
vanish from the history (the writer's queue dropped steps). Now new guests and invites are
limited per client network and in all, calls that never rang are not stored, and no step of
a call that rang is ever dropped.
"""

import asyncio
from typing import Any

import aiohttp
import pytest

from parley.config import ServerSettings
from parley.core.settings import CoreSettings
from tests.server.helpers import StartServer, receive_json, send_json, ws_url

BEHIND_PROXY = ServerSettings(trusted_proxies=("127.0.0.1",), connections_per_client=200)


async def hello(
    http: aiohttp.ClientSession, server: str, address: str, token: str | None = None
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await http.ws_connect(ws_url(server), headers={"X-Forwarded-For": address})
    message: dict[str, Any] = {"type": "hello", "v": 1, "name": "Guest", "presence": True}
    if token:
        message["token"] = token
    await send_json(ws, message)
    return ws, await receive_json(ws)


async def test_one_address_cannot_mint_guests_without_end_other_addresses_still_can(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server(BEHIND_PROXY, address_limits=True)
    per_client = CoreSettings().new_guests_per_minute_per_client
    sockets = []
    tokens: list[str] = []
    refused = 0
    for _ in range(per_client + 5):
        ws, reply = await hello(http, server, "198.51.100.9")
        sockets.append(ws)
        if reply["type"] == "welcome":
            tokens.append(reply["token"])
        else:
            assert reply["code"] == "rate-limited", reply
            refused += 1
    assert (len(tokens), refused) == (per_client, 5)
    # Positive controls: a guest coming back with its token is no new guest, and another
    # address is not affected.
    ws, back = await hello(http, server, "198.51.100.9", token=tokens[0])
    assert back["type"] == "welcome"
    ws, other = await hello(http, server, "203.0.113.20")
    assert other["type"] == "welcome"
    for socket in sockets:
        await socket.close()


async def test_an_invite_flood_neither_stores_calls_nor_buries_a_real_one(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server(BEHIND_PROXY, address_limits=True)
    ana_ws, ana = await hello(http, server, "192.0.2.10")
    bo_ws, bo = await hello(http, server, "192.0.2.11")
    await send_json(ana_ws, {"type": "invite", "to": bo["user"]["id"], "media": "audio"})

    async def next_of(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
        while True:
            message = await receive_json(ws)
            if message["type"] == kind:
                return message

    call = (await next_of(ana_ws, "ringing"))["call"]
    await next_of(bo_ws, "incoming-call")
    await send_json(bo_ws, {"type": "accept", "call": call, "media": "audio"})
    await next_of(ana_ws, "call-accepted")

    # The flood: throw-away guests from one address invite users who are not online.
    refused = 0
    for n in range(30):
        ws, reply = await hello(http, server, "198.51.100.66")
        if reply["type"] != "welcome":
            refused += 1
            await ws.close()
            continue
        for m in range(10):
            await send_json(ws, {"type": "invite", "to": f"offline-{n}-{m}", "media": "audio"})
        await ws.close()
    assert refused > 0, "the flood was never limited"

    await send_json(ana_ws, {"type": "hangup", "call": call})
    await next_of(bo_ws, "call-ended")
    history = None
    for _ in range(50):
        async with http.get(
            server + "api/calls", headers={"Authorization": f"Bearer {ana['token']}"}
        ) as response:
            history = (await response.json())["calls"]
        if history and history[0]["ended"]:
            break
        await asyncio.sleep(0.1)
    assert history is not None and [c["id"] for c in history] == [call]
    assert history[0]["end_reason"] == "hangup" and history[0]["answered"]


@pytest.mark.parametrize("reason", ["offline", "busy"])
async def test_a_call_that_never_rang_is_not_history(
    start_server: StartServer, http: aiohttp.ClientSession, reason: str
) -> None:
    server = await start_server(BEHIND_PROXY, address_limits=True)
    ws, me = await hello(http, server, "192.0.2.30")
    target = "nobody-by-this-id"
    if reason == "busy":
        a_ws, _ = await hello(http, server, "192.0.2.31")
        _, b = await hello(http, server, "192.0.2.32")
        await send_json(a_ws, {"type": "invite", "to": b["user"]["id"], "media": "audio"})
        target = b["user"]["id"]
        await asyncio.sleep(0.2)
    await send_json(ws, {"type": "invite", "to": target, "media": "audio", "id": 1})
    while (ended := await receive_json(ws))["type"] != "call-ended":
        pass
    assert ended["reason"] == reason
    await asyncio.sleep(0.3)
    async with http.get(
        server + "api/calls", headers={"Authorization": f"Bearer {me['token']}"}
    ) as response:
        assert (await response.json())["calls"] == []
