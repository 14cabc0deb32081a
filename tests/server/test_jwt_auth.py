"""The server in JWT mode: identity from the host app's token only."""

import time

import aiohttp

from parley.config import ServerSettings
from parley.identity import mint_token

from .helpers import ConnectWs, StartServer, receive_close, receive_json, send_json

SECRET = "host-app-shared-secret-of-enough-length"
JWT_MODE = ServerSettings(auth="jwt", jwt_key=SECRET, jwt_algorithms=("HS256",))


async def test_the_tokens_identity_wins_over_what_the_client_says(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    server = await start_server(JWT_MODE)
    ws = await connect_ws(server)
    token = mint_token(SECRET, "u-1", "Ana", "parley", 600, time.time())
    await send_json(ws, {"type": "hello", "v": 1, "name": "Mallory", "token": token})
    welcome = await receive_json(ws)
    assert welcome["user"] == {"id": "u-1", "name": "Ana"}
    assert "token" not in welcome, "nothing is issued in JWT mode"


async def test_a_refused_token_gets_auth_failed_and_the_socket_is_closed(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    server = await start_server(JWT_MODE)
    for token in (
        None,
        "garbage",
        mint_token(SECRET, "u-1", "Ana", "parley", 600, time.time() - 7200),
    ):
        ws = await connect_ws(server)
        await send_json(ws, {"type": "hello", "v": 1, "name": "Ana", "token": token, "id": 1})
        error = await receive_json(ws)
        assert (error["type"], error["code"], error["id"]) == ("error", "auth-failed", 1)
        assert await receive_close(ws) == 4401


async def test_history_api_takes_the_host_apps_token(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server(JWT_MODE)
    good = mint_token(SECRET, "u-1", "Ana", "parley", 600, time.time())
    async with http.get(server + "api/calls", headers={"Authorization": f"Bearer {good}"}) as r:
        assert r.status == 200
        assert (await r.json()) == {"calls": []}
    wrong = mint_token(
        "some-other-secret-entirely-abc-0123456789", "u-1", "Ana", "parley", 600, time.time()
    )
    async with http.get(server + "api/calls", headers={"Authorization": f"Bearer {wrong}"}) as r:
        assert r.status == 401
