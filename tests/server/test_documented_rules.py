"""Rules of docs/protocol.md, on a real server with raw clients: who may open /ws, how errors
before `hello` are numbered, and that a field equal to its default never crosses the wire."""

import aiohttp
import pytest

from parley.config import ServerSettings
from tests.support.raw_client import Tab, read_frame, say_hello

from .helpers import ConnectWs, StartServer, send_json, ws_url

HOST_APP = "https://chat.example.org"


async def test_a_client_without_origin_is_admitted_even_where_origins_are_configured(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server(ServerSettings(allowed_origins=(HOST_APP,)))
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(ws_url(server), headers={"Origin": "https://other.example"})
    assert refused.value.status == 403, "a browser page of another site is refused"
    for headers in ({"Origin": HOST_APP}, {}):  # the host app's page, and a bot (aiohttp
        # sends no Origin unless told)
        ws = await http.ws_connect(ws_url(server), headers=headers)
        try:
            welcome = await say_hello(ws)
            assert welcome["user"]["id"]
        finally:
            await ws.close()


async def test_errors_before_hello_are_numbered_and_the_session_counts_on(
    server: str, connect_ws: ConnectWs
) -> None:
    ws = await connect_ws(server)
    await ws.send_str("not json")
    garbage = await read_frame(ws)
    assert (garbage["seq"], garbage["type"], garbage["code"]) == (1, "error", "bad-json")
    await send_json(ws, {"type": "join", "room": "r", "id": "early"})
    early = await read_frame(ws)
    assert (early["seq"], early["code"], early["id"]) == (2, "hello-required", "early")
    welcome = await say_hello(ws, id="h")
    assert "id" not in welcome and "seq" not in welcome
    await send_json(ws, {"type": "join", "room": "r", "id": "late"})
    joined = await read_frame(ws)
    assert (joined["type"], joined["seq"], joined["id"]) == ("joined", 3, "late")


async def test_fields_equal_to_their_default_do_not_cross_the_wire(
    server: str, connect_ws: ConnectWs
) -> None:
    tabs = []
    for _ in range(2):
        ws = await connect_ws(server)
        welcome = await say_hello(ws)
        # resumed: false, iceTransportPolicy: "all", no token asked for: all left out.
        assert {"resumed", "iceTransportPolicy", "online", "seq"}.isdisjoint(welcome), welcome
        tabs.append(Tab(ws, welcome["session"], welcome["user"]["id"], welcome["token"], ""))
    ana, bo = tabs
    for tab in tabs:
        await tab.send({"type": "join", "room": "marks"})
        assert (await tab.next_of("joined"))["room"] == "marks"
    assert (await ana.next_of("peer-joined"))["peer"] == bo.session
    await ana.send({"type": "media-state", "to": bo.session, "muted": True, "cameraOff": False})
    assert await bo.next_of("media-state") == {
        "type": "media-state",
        "from": ana.session,
        "muted": True,
    }
