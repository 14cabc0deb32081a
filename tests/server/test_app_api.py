"""The app API (`/api/v1/`) on a real server, with raw WebSocket users: who is online, calls
across users a page at a time, a call by id, ending a call (both sides hear it), room links
(made, joined, expired, forged), the rate limit, JSON errors, and the API off without a token."""

import secrets
import time
from typing import Any

import aiohttp
import pytest

from parley.config import ServerSettings
from parley.core.room_links import RoomLinks
from parley.server.hubs import ticket_key
from tests.server.helpers import ConnectWs, StartServer
from tests.support.app_api import TOKEN, ApiClient, answer, ring, sign_in
from tests.support.raw_client import Tab

SECRET = b"s" * 32
API = ServerSettings(api_token=TOKEN, secret=SECRET)
WALK_LIMIT = 50


@pytest.fixture
async def api(start_server: StartServer, http: aiohttp.ClientSession) -> ApiClient:
    return ApiClient(http, await start_server(API))


async def walk(api: ApiClient, path: str, key: str, **params: str) -> list[list[Any]]:
    """Every page of a listing, following `next` to the end."""
    pages: list[list[Any]] = []
    query = dict(params)
    for _ in range(WALK_LIMIT):
        page = await api.get(path, params=query)
        assert page.status == 200, page
        pages.append(page.body[key])
        if page.body["next"] is None:
            return pages
        query["cursor"] = page.body["next"]
    pytest.fail(f"{path} did not end within {WALK_LIMIT} pages")


async def join(tab: Tab, room: str) -> dict[str, Any]:
    await tab.send({"type": "join", "room": room, "id": "j"})
    return await tab.next_of("joined")


async def join_refused(tab: Tab, room: str) -> str:
    await tab.send({"type": "join", "room": room, "id": "j"})
    error = await tab.next_of("error")
    assert error["id"] == "j", error
    return str(error["code"])


# --- who is online ------------------------------------------------------------------------


async def test_online_lists_the_users_on_for_calls_by_id_with_their_devices(
    api: ApiClient, connect_ws: ConnectWs
) -> None:
    ann = await sign_in(connect_ws, api.base, "Ann")
    await sign_in(connect_ws, api.base, "Ann's phone", token=ann.token)
    bob = await sign_in(connect_ws, api.base, "Bob")
    await sign_in(connect_ws, api.base, "Hidden", presence=False)

    answer_ = await api.get("api/v1/online")

    assert answer_.status == 200
    expected = sorted(
        [
            {"id": ann.user, "name": "Ann's phone", "devices": 2},
            {"id": bob.user, "name": "Bob", "devices": 1},
        ],
        key=lambda u: u["id"],
    )
    assert answer_.body == {"users": expected, "next": None}


async def test_online_pages_walk_everyone_once(api: ApiClient, connect_ws: ConnectWs) -> None:
    users = [(await sign_in(connect_ws, api.base, f"U{n}")).user for n in range(5)]

    pages = await walk(api, "api/v1/online", "users", limit="2")

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [u["id"] for page in pages for u in page] == sorted(users)


# --- calls --------------------------------------------------------------------------------


async def test_calls_across_users_come_newest_first_a_page_at_a_time(
    api: ApiClient, connect_ws: ConnectWs
) -> None:
    ann, bob, cid = [await sign_in(connect_ws, api.base, name) for name in ("A", "B", "C")]
    calls = []
    for caller, callee in [(ann, bob), (bob, cid), (cid, ann), (ann, cid), (bob, ann)]:
        call = await ring(caller, callee)
        await caller.send({"type": "cancel", "call": call, "id": "x"})
        await caller.next_of("call-ended")
        await callee.next_of("call-ended")
        calls.append(call)

    pages = await walk(api, "api/v1/calls", "calls", limit="2")
    only_bob = await walk(api, "api/v1/calls", "calls", user=bob.user)

    assert [len(page) for page in pages] == [2, 2, 1]
    listed = [c["call"] for page in pages for c in page]
    assert sorted(listed) == sorted(calls), "every call exactly once"
    created = [c["created"] for page in pages for c in page]
    assert created == sorted(created, reverse=True), "newest first"
    assert {c["call"] for c in only_bob[0]} == {calls[0], calls[1], calls[4]}
    assert all(c["state"] == "ended" and c["reason"] == "cancelled" for c in only_bob[0])


async def test_a_call_by_id_and_an_unknown_one(api: ApiClient, connect_ws: ConnectWs) -> None:
    ann, bob = (
        await sign_in(connect_ws, api.base, "Ann"),
        await sign_in(connect_ws, api.base, "Bob"),
    )
    call = await ring(ann, bob)

    found = await api.get(f"api/v1/calls/{call}")
    missing = await api.get("api/v1/calls/no-such-call")

    assert found.status == 200
    assert (found.body["call"], found.body["state"]) == (call, "ringing")
    assert found.body["caller"] == {"id": ann.user, "name": "Ann"}
    assert found.body["callee"] == {"id": bob.user, "name": "Bob"}
    assert (missing.status, missing.body) == (404, {"error": "no such call"})


async def test_ending_a_ringing_call_tells_the_caller_and_the_ringing_device(
    api: ApiClient, connect_ws: ConnectWs
) -> None:
    ann, bob = (
        await sign_in(connect_ws, api.base, "Ann"),
        await sign_in(connect_ws, api.base, "Bob"),
    )
    call = await ring(ann, bob)

    ended = await api.post(f"api/v1/calls/{call}/end")

    assert (ended.status, ended.body) == (
        200,
        {"call": call, "reason": "ended-by-app", "was": "ringing"},
    )
    told = {"type": "call-ended", "call": call, "reason": "ended-by-app", "by": None}
    assert await ann.next_of("call-ended") == told
    assert await bob.next_of("call-ended") == told
    row = await api.get(f"api/v1/calls/{call}")
    assert (row.body["state"], row.body["reason"], row.body["by"]) == (
        "ended",
        "ended-by-app",
        None,
    )


async def test_ending_an_answered_call_tells_both_sides_once(
    api: ApiClient, connect_ws: ConnectWs
) -> None:
    ann, bob = (
        await sign_in(connect_ws, api.base, "Ann"),
        await sign_in(connect_ws, api.base, "Bob"),
    )
    call = await ring(ann, bob)
    await answer(bob, ann, call)

    ended = await api.post(f"api/v1/calls/{call}/end")
    again = await api.post(f"api/v1/calls/{call}/end")
    unknown = await api.post("api/v1/calls/no-such-call/end")

    assert (ended.status, ended.body["was"]) == (200, "answered")
    for tab in (ann, bob):
        assert await tab.next_of("call-ended") == {
            "type": "call-ended",
            "call": call,
            "reason": "ended-by-app",
            "by": None,
        }
        await tab.round_trip()  # nothing else came first: the end was told once
    assert (again.status, again.body) == (409, {"error": "the call has already ended"})
    assert (unknown.status, unknown.body) == (404, {"error": "no such call"})
    row = await api.get(f"api/v1/calls/{call}")
    assert (row.body["state"], row.body["reason"]) == ("ended", "ended-by-app")
    assert row.body["answered"] is not None and row.body["duration"] is not None


# --- rooms ----------------------------------------------------------------------------------


async def test_a_room_link_is_made_and_joined(
    api: ApiClient, connect_ws: ConnectWs, http: aiohttp.ClientSession
) -> None:
    before = int(time.time())
    made = await api.post("api/v1/rooms", body={"expires_in": 3600})
    after = int(time.time())

    assert made.status == 201, made
    room = made.body["room"]
    assert made.body["url"] == f"{api.base}r/{room}"
    assert before + 3600 <= made.body["expires"] <= after + 3600
    ann, bob = (
        await sign_in(connect_ws, api.base, "Ann"),
        await sign_in(connect_ws, api.base, "Bob"),
    )
    assert (await join(ann, room))["room"] == room
    assert [p["id"] for p in (await join(bob, room))["peers"]] == [ann.session]
    async with http.get(made.body["url"]) as page:
        assert page.status == 200, "the link opens the room page"


async def test_a_room_link_without_expiry(api: ApiClient, connect_ws: ConnectWs) -> None:
    made = await api.post("api/v1/rooms")
    other = await api.post("api/v1/rooms", body={})

    assert made.status == other.status == 201
    assert made.body["expires"] is None
    assert made.body["room"] != other.body["room"]
    ann = await sign_in(connect_ws, api.base, "Ann")
    assert (await join(ann, made.body["room"]))["room"] == made.body["room"]


async def test_an_expired_room_link_is_refused(api: ApiClient, connect_ws: ConnectWs) -> None:
    # Made as the server makes them (its key comes from its secret), but already expired.
    expired = RoomLinks(ticket_key(SECRET)).issue(secrets.token_bytes(16), int(time.time()) - 1)
    control = RoomLinks(ticket_key(SECRET)).issue(secrets.token_bytes(16), int(time.time()) + 600)
    ann = await sign_in(connect_ws, api.base, "Ann")

    assert await join_refused(ann, expired) == "room-expired"
    assert (await join(ann, control))["room"] == control


async def test_a_room_link_with_its_expiry_extended_is_refused(
    api: ApiClient, connect_ws: ConnectWs
) -> None:
    made = await api.post("api/v1/rooms", body={"expires_in": 60})
    nonce, expiry, mac = made.body["room"].split("-")
    ann = await sign_in(connect_ws, api.base, "Ann")

    for forged in (f"{nonce}-{int(expiry, 36) + 86400:x}-{mac}", f"{nonce}-0-{mac}"):
        assert await join_refused(ann, forged) == "bad-room-link"
    assert (await join(ann, made.body["room"]))["room"] == made.body["room"]


@pytest.mark.parametrize("body", [{"expires_in": 0}, {"expires_in": "soon"}, {"other": 1}, [1]])
async def test_a_bad_room_request_is_a_400_naming_the_problem(api: ApiClient, body: object) -> None:
    refused = await api.post("api/v1/rooms", body=body)
    assert refused.status == 400
    assert set(refused.body) == {"error"} and refused.body["error"].startswith("bad body")


# --- limits, errors, off --------------------------------------------------------------------


async def test_requests_over_the_rate_limit_get_429_with_retry_after(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    api = ApiClient(
        http, await start_server(ServerSettings(api_token=TOKEN, api_requests_per_minute=3))
    )

    statuses = [(await api.get("api/v1/online")).status for _ in range(3)]
    limited = await api.get("api/v1/online")

    assert statuses == [200, 200, 200]
    assert limited.status == 429
    assert limited.body == {"error": "too many requests"}
    assert int(limited.headers["Retry-After"]) >= 1


async def test_every_path_answers_404_in_json_when_the_api_is_off(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    api = ApiClient(http, await start_server())  # no --api-token
    for method, path in [
        ("GET", "api/v1/online"),
        ("GET", "api/v1/calls"),
        ("GET", "api/v1/calls/x"),
        ("POST", "api/v1/calls/x/end"),
        ("POST", "api/v1/rooms"),
        ("GET", "api/v1/no-such-path"),
    ]:
        off = await api.request(method, path)
        assert off.status == 404, (method, path, off)
        assert "--api-token" in off.body["error"]


async def test_unknown_paths_and_methods_under_api_answer_in_json(api: ApiClient) -> None:
    missing = await api.get("api/v1/no-such-path")
    wrong = await api.get("api/v1/calls/x/end")

    assert (missing.status, missing.body) == (404, {"error": "Not Found"})
    assert (wrong.status, wrong.body) == (405, {"error": "Method Not Allowed"})
    assert wrong.headers["Allow"] == "POST"


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=201",
        "limit=x",
        "state=lost",
        "since=-1",
        "cursor=%21",
        "nope=1",
        "limit=1&limit=2",
    ],
)
async def test_a_bad_query_is_a_400_naming_the_problem(api: ApiClient, query: str) -> None:
    refused = await api.get(f"api/v1/calls?{query}")
    assert refused.status == 400, refused
    assert set(refused.body) == {"error"}


async def test_a_body_over_4_kib_is_refused_whether_its_length_is_named_or_not(
    api: ApiClient, http: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    padded = b'{"expires_in": 60' + b" " * 5000 + b"}"

    async def chunked() -> Any:
        for start in range(0, len(padded), 1000):
            yield padded[start : start + 1000]

    for data in (padded, chunked()):
        async with http.post(api.base + "api/v1/rooms", data=data, headers=headers) as too_big:
            assert too_big.status == 413
            assert set(await too_big.json()) == {"error"}
    fits = await api.post("api/v1/rooms", body={"expires_in": 60})
    assert fits.status == 201
