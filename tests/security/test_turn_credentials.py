"""Attack surface: the TURN relay's credentials.

Before the fix every `welcome` carried fresh TURN credentials: any visitor could open a socket
and use the relay for anything. Now a session gets them only for a room it is in, a call it
is part of (ringing included), or an invite it is about to send to someone online.
"""

from typing import Any

import aiohttp

from parley.config import ServerSettings
from parley.core.settings import CoreSettings
from parley.turn.credentials import TurnCredentialIssuer
from tests.server.helpers import ConnectWs, StartServer, receive_json, send_json

TURN = TurnCredentialIssuer(
    urls=("turn:turn.example.org:3478",), secret=b"turn-secret", lifetime=600
)
SETTINGS = ServerSettings(core=CoreSettings(turn=TURN))


def has_turn(message: dict[str, Any]) -> bool:
    return any("credential" in server for server in message["iceServers"])


async def online(connect_ws: ConnectWs, server: str, name: str) -> tuple[Any, dict[str, Any]]:
    ws = await connect_ws(server)
    await send_json(ws, {"type": "hello", "v": 1, "name": name, "presence": True})
    welcome = await receive_json(ws)
    assert welcome["type"] == "welcome"
    return ws, welcome


async def ask(ws: aiohttp.ClientWebSocketResponse, **fields: Any) -> dict[str, Any]:
    await send_json(ws, {"type": "ice-servers", "id": "ice", **fields})
    while True:
        reply = await receive_json(ws)
        if reply.get("id") == "ice":
            assert reply["type"] == "ice-servers", reply
            return reply


async def test_a_visitor_with_no_call_gets_no_relay_credentials(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    server = await start_server(SETTINGS)
    ws, welcome = await online(connect_ws, server, "Drive-by")
    assert not has_turn(welcome), "the welcome handed out TURN credentials"
    assert not has_turn(await ask(ws)), "asking for them, with no call, got them"
    assert not has_turn(await ask(ws, to=welcome["user"]["id"])), "naming itself got them"
    assert not has_turn(await ask(ws, to="nobody-online-by-that-id")), "naming nobody got them"


async def test_rooms_calls_and_an_invite_about_to_ring_get_them(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    """Positive control: every legitimate use still gets its relay."""
    server = await start_server(SETTINGS)
    ana, _ = await online(connect_ws, server, "Ana")
    bo, bo_welcome = await online(connect_ws, server, "Bo")
    assert has_turn(await ask(ana, to=bo_welcome["user"]["id"])), "about to call Bo"
    await send_json(ana, {"type": "invite", "to": bo_welcome["user"]["id"], "media": "audio"})
    assert has_turn(await ask(ana)), "the caller, while it rings"
    assert has_turn(await ask(bo)), "the callee's device, while it rings"
    room, _ = await online(connect_ws, server, "Cy")
    await send_json(room, {"type": "join", "room": "standup", "id": "j"})
    assert has_turn(await ask(room)), "a room member"
