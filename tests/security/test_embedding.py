"""Attack surface: framing the pages, loading the SDK, and the headers of every answer.

Only this server and each `--allowed-origin` may frame the pages (a host app embedding calls);
any other site is refused by the browser. Only an `--allowed-origin` is let run the SDK's
modules from its pages (CORS), and `/sdk/v1/` serves the SDK and nothing else. `/ws` refusals
carry the same security headers as pages. The browser half (a real Chromium framing the page
from an allowed and from a foreign origin, the postMessage checks) is tests/e2e/test_embedding.py
and tests/e2e/test_chat_app.py.
"""

import re

import aiohttp
import pytest

from parley.config import ServerSettings
from parley.server.app import create_app
from parley.server.pages import SDK_DIR
from tests.server.helpers import StartServer, ws_url

HOST_APP = "https://chat.example"
EMBEDDABLE = ServerSettings(allowed_origins=(HOST_APP,), connections_per_client=1)
PAGE_HEADERS = ("Content-Security-Policy", "Referrer-Policy", "X-Content-Type-Options")


def frame_ancestors(csp: str) -> list[str]:
    directive = next(d.strip() for d in csp.split(";") if "frame-ancestors" in d)
    return directive.split()[1:]


async def test_an_allowed_origin_may_frame_the_pages_and_no_other(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    embeddable = await start_server(EMBEDDABLE)
    plain = await start_server()
    for path in ("", "r/some-room", "ice-test"):
        async with http.get(embeddable + path) as response:
            assert response.status == 200
            assert frame_ancestors(response.headers["Content-Security-Policy"]) == [
                "'self'",
                HOST_APP,
            ]
            permissions = response.headers["Permissions-Policy"]
            assert f'camera=(self "{HOST_APP}")' in permissions
            assert f'microphone=(self "{HOST_APP}")' in permissions
        async with http.get(plain + path) as response:
            assert frame_ancestors(response.headers["Content-Security-Policy"]) == ["'self'"]
            assert "camera=(self)" in response.headers["Permissions-Policy"]


async def test_ws_refusals_carry_the_page_security_headers(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server(EMBEDDABLE)
    async with http.get(server) as page:
        expected = {name: page.headers[name] for name in PAGE_HEADERS}

    async def refused(**kwargs: object) -> aiohttp.WSServerHandshakeError:
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await http.ws_connect(ws_url(server), **kwargs)  # type: ignore[arg-type]
        return caught.value

    foreign = await refused(origin="https://attacker.example")
    first = await http.ws_connect(ws_url(server), origin=HOST_APP)  # the address's one socket
    try:
        too_many = await refused(origin=HOST_APP)
    finally:
        await first.close()
    assert (foreign.status, too_many.status) == (403, 429)
    for refusal in (foreign, too_many):
        assert refusal.headers is not None
        for name, value in expected.items():
            assert refusal.headers.get(name) == value, f"{refusal.status} lacks {name}"

    # A malformed upgrade (no Sec-WebSocket-Key) is refused with the same headers.
    async with http.get(
        ws_url(server).replace("ws://", "http://"),
        headers={"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"},
    ) as response:
        assert response.status == 400
        for name, value in expected.items():
            assert response.headers.get(name) == value, f"400 lacks {name}"


@pytest.mark.parametrize(
    "origin",
    [
        "https://chat.example; script-src *",
        "https://chat.example/path",
        'https://chat.example" "https://evil.example',
        "chat.example",
        "https://chat.example\r\nSet-Cookie: x=1",
    ],
)
def test_a_malformed_allowed_origin_stops_the_start(origin: str, tmp_path: object) -> None:
    """An origin is written into two policies: anything beyond scheme://host[:port] would
    rewrite them (a `;` adds a directive), so the server refuses to start with it."""
    with pytest.raises(ValueError, match="scheme://host"):
        create_app(ServerSettings(allowed_origins=(origin,)))


# --- the SDK (/sdk/v1/) and the pages' list of embedders ------------------------------------

SDK_IMPORT = re.compile(r"""^(?:import|export)\b[^'"]*?from\s+'\./([a-z0-9-]+\.js)';""", re.M)


def sdk_import_closure() -> set[str]:
    """parley.js and every module it imports, transitively (what a host page's browser fetches)."""
    seen: set[str] = set()
    waiting = ["parley.js"]
    while waiting:
        name = waiting.pop()
        if name not in seen:
            seen.add(name)
            waiting.extend(SDK_IMPORT.findall((SDK_DIR / name).read_text(encoding="utf-8")))
    return seen


async def test_an_allowed_origin_may_import_the_sdk_and_each_module_it_imports(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server(EMBEDDABLE)
    modules = sdk_import_closure()
    assert {"parley.js", "phone.js", "room.js", "signaling.js", "peer-call.js"} <= modules
    for name in sorted(modules):
        async with http.get(f"{server}sdk/v1/{name}", headers={"Origin": HOST_APP}) as response:
            assert response.status == 200, name
            assert response.content_type == "text/javascript", name
            assert response.headers["Access-Control-Allow-Origin"] == HOST_APP
            assert "Origin" in response.headers["Vary"]
            assert await response.read() == (SDK_DIR / name).read_bytes()
    async with http.get(f"{server}sdk/v1/parley.d.ts", headers={"Origin": HOST_APP}) as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        assert "export declare class Phone" in await response.text()


@pytest.mark.parametrize("origin", ["https://attacker.example", None])
async def test_no_other_origin_is_let_read_the_sdk(
    start_server: StartServer, http: aiohttp.ClientSession, origin: str | None
) -> None:
    """A browser runs a module from another origin only if the answer names that origin: a
    foreign page (or, without `Origin`, nobody) is named, whatever the server's settings."""
    for settings in (EMBEDDABLE, ServerSettings()):
        server = await start_server(settings)
        headers = {"Origin": origin} if origin else {}
        async with http.get(f"{server}sdk/v1/parley.js", headers=headers) as response:
            assert response.status == 200
            assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    "path",
    [
        "sdk/v1/phone-page.js",  # a page's module, not the SDK's
        "sdk/v1/../js/phone-page.js",
        "sdk/v1/%2e%2e/js/phone-page.js",
        "sdk/v1/..%2fjs%2fphone-page.js",
        "sdk/v1/",
        "sdk/v1/parley",
        "sdk/v1/PARLEY.JS",
        "sdk/v2/parley.js",
    ],
)
async def test_the_sdk_path_serves_the_sdk_and_nothing_else(
    start_server: StartServer, http: aiohttp.ClientSession, path: str
) -> None:
    server = await start_server(EMBEDDABLE)
    async with http.get(server + path, headers={"Origin": HOST_APP}) as response:
        assert response.status == 404, path
        assert "Access-Control-Allow-Origin" not in response.headers


async def test_the_pages_name_the_origins_that_may_frame_them_for_their_message_checks(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    embeddable = await start_server(EMBEDDABLE)
    plain = await start_server()
    for path in ("", "r/some-room"):
        async with http.get(embeddable + path) as response:
            page = await response.text()
            assert f'<meta name="parley-embedders" content="{HOST_APP}">' in page
            assert response.headers["Cache-Control"] == "no-cache"
        async with http.get(plain + path) as response:
            assert '<meta name="parley-embedders" content="">' in await response.text()
