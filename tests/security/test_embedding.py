"""Attack surface: framing the pages, and the headers of every answer.

Only this server and each `--allowed-origin` may frame the pages (a host app embedding calls);
any other site is refused by the browser. `/ws` refusals carry the same security headers as
pages. The browser half (a real Chromium framing the page from an allowed and from a foreign
origin) is tests/e2e/test_embedding.py.
"""

import aiohttp
import pytest

from parley.config import ServerSettings
from parley.server.app import create_app
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
