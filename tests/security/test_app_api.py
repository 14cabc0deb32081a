"""The app API (`/api/v1/`) as a stranger meets it: without the server's --api-token nothing
is listed, no call is ended and no room link is made, whatever else the request carries (a
user's guest token or JWT, the token in another form). Its budget is the host app's: a stranger
knocking with wrong tokens is limited on a budget of its own. Each attack beside a positive
control (the same request with the token)."""

import time
from typing import Any

import aiohttp
import pytest

from parley.config import ServerSettings
from parley.identity import mint_token
from tests.server.helpers import ConnectWs, StartServer
from tests.support.app_api import TOKEN, ApiClient, ring, sign_in

JWT_SECRET = "host-app-shared-secret-of-enough-length"
ENDPOINTS = [
    ("GET", "api/v1/online"),
    ("GET", "api/v1/calls"),
    ("GET", "api/v1/calls/{call}"),
    ("POST", "api/v1/calls/{call}/end"),
    ("POST", "api/v1/rooms"),
]
SUCCESS = {"api/v1/rooms": 201}


WRONG = {
    "none": None,
    "empty": "",
    "bearer-only": "Bearer",
    "wrong": "Bearer not-the-app-token-but-long-enough",
    "prefix": f"Bearer {TOKEN[:-1]}",
    "suffix": f"Bearer {TOKEN}x",
    "basic": f"Basic {TOKEN}",
    "bare": TOKEN,
    "metrics-style": f"Token {TOKEN}",
}


async def setup_call(api: ApiClient, connect_ws: ConnectWs) -> tuple[Any, Any, str]:
    ann = await sign_in(connect_ws, api.base, "Ann")
    bob = await sign_in(connect_ws, api.base, "Bob")
    return ann, bob, await ring(ann, bob)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("authorization", list(WRONG), ids=list(WRONG))
async def test_without_the_app_token_every_endpoint_is_refused(
    start_server: StartServer,
    http: aiohttp.ClientSession,
    connect_ws: ConnectWs,
    method: str,
    path: str,
    authorization: str,
) -> None:
    api = ApiClient(http, await start_server(ServerSettings(api_token=TOKEN)))
    ann, _, call = await setup_call(api, connect_ws)
    target = path.format(call=call)
    header = WRONG[authorization]
    stranger = ApiClient(http, api.base, token=None)

    refused = await stranger.request(method, target, authorization=header)

    assert refused.status == 401, refused
    assert refused.body == {"error": "the app API needs its bearer token"}
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    # Nothing happened: the call still rings (the end below is the first Ann hears of it).
    allowed = await api.request(method, target)
    assert allowed.status == SUCCESS.get(path, 200), allowed
    if path.endswith("/end"):
        assert (await ann.next_of("call-ended"))["reason"] == "ended-by-app"


async def test_a_users_guest_token_is_not_the_app_token(
    start_server: StartServer, http: aiohttp.ClientSession, connect_ws: ConnectWs
) -> None:
    api = ApiClient(http, await start_server(ServerSettings(api_token=TOKEN)))
    ann, _, call = await setup_call(api, connect_ws)
    as_ann = ApiClient(http, api.base, token=ann.token)

    # The same token opens Ann's own history: it is a valid token, only not this one.
    async with http.get(
        api.base + "api/calls", headers={"Authorization": f"Bearer {ann.token}"}
    ) as own:
        assert own.status == 200
    for method, path in ENDPOINTS:
        refused = await as_ann.request(method, path.format(call=call))
        assert refused.status == 401, (path, refused)
    assert (await api.get(f"api/v1/calls/{call}")).body["state"] == "ringing"


async def test_a_users_jwt_is_not_the_app_token(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    jwt_mode = ServerSettings(
        auth="jwt", jwt_key=JWT_SECRET, jwt_algorithms=("HS256",), api_token=TOKEN
    )
    api = ApiClient(http, await start_server(jwt_mode))
    jwt = mint_token(JWT_SECRET, "u-1", "Ana", "parley", 600, time.time())
    # A JWT even signed like the app's own tokens, naming an admin-looking user.
    admin = mint_token(JWT_SECRET, "admin", "Admin", "parley", 600, time.time())

    async with http.get(api.base + "api/calls", headers={"Authorization": f"Bearer {jwt}"}) as own:
        assert own.status == 200, "the JWT is valid for the user's own history"
    for token in (jwt, admin, JWT_SECRET):
        for method, path in ENDPOINTS:
            refused = await api.request(
                method, path.format(call="c"), authorization=f"Bearer {token}"
            )
            assert refused.status == 401, (path, refused)
    assert (await api.get("api/v1/online")).status == 200


async def test_the_token_is_not_taken_from_the_query_string(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    api = ApiClient(http, await start_server(ServerSettings(api_token=TOKEN)))
    for name in ("token", "access_token", "api_token"):
        refused = await api.get("api/v1/online", authorization="", params={name: TOKEN})
        assert refused.status == 401
    assert (await api.get("api/v1/online")).status == 200


async def test_the_scheme_is_case_insensitive_but_the_token_is_not(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    api = ApiClient(http, await start_server(ServerSettings(api_token=TOKEN)))
    assert (await api.get("api/v1/online", authorization=f"bearer {TOKEN}")).status == 200
    assert (await api.get("api/v1/online", authorization=f"Bearer {TOKEN.upper()}")).status == 401


async def test_with_the_api_off_no_token_turns_it_on(
    start_server: StartServer, http: aiohttp.ClientSession, connect_ws: ConnectWs
) -> None:
    api = ApiClient(http, await start_server())  # no --api-token
    ann, _, call = await setup_call(api, connect_ws)
    for token in (TOKEN, "", ann.token):
        for method, path in ENDPOINTS:
            off = await api.request(method, path.format(call=call), authorization=f"Bearer {token}")
            assert off.status == 404, (path, off)
            assert "off" in off.body["error"]
    # The call was not ended: Ann can still cancel it herself.
    await ann.send({"type": "cancel", "call": call, "id": 9})
    assert (await ann.next_of("call-ended"))["reason"] == "cancelled"


async def test_a_stranger_knocking_cannot_use_up_the_host_apps_budget(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    settings = ServerSettings(api_token=TOKEN, api_requests_per_minute=4)
    api = ApiClient(http, await start_server(settings))
    stranger = ApiClient(http, api.base, token="not-the-app-token-but-long-enough")

    knocks = [(await stranger.get("api/v1/online")).status for _ in range(6)]

    assert knocks == [401, 401, 401, 401, 429, 429], "a stranger is limited too"
    assert [(await api.get("api/v1/online")).status for _ in range(4)] == [200] * 4
    assert (await api.get("api/v1/online")).status == 429, "the app's own budget holds"


@pytest.mark.parametrize(
    ("cursor", "status"),
    [
        ("0000000000000000' OR 1=1 --", 400),
        ("0000000000000000x' OR '1'='1", 400),
        ("' OR 1=1 --", 400),
        ("0" * 15, 400),
        ("0" * 16, 200),  # a position at 1970: nothing is older
        ("0" * 16 + "zz", 200),
    ],
)
async def test_a_cursor_is_a_position_never_a_query(
    start_server: StartServer,
    http: aiohttp.ClientSession,
    connect_ws: ConnectWs,
    cursor: str,
    status: int,
) -> None:
    api = ApiClient(http, await start_server(ServerSettings(api_token=TOKEN)))
    await setup_call(api, connect_ws)

    answer = await api.get("api/v1/calls", params={"cursor": cursor})

    assert answer.status == status, answer
    if status == 200:
        assert answer.body == {"calls": [], "next": None}, "never every row"
    assert len((await api.get("api/v1/calls")).body["calls"]) == 1, "a positive control"
