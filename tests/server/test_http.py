"""The HTTP side: the call pages with their security headers, health check, static files."""

from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from parley.server.pages import STATIC_DIR


def assert_security_headers(response: aiohttp.ClientResponse) -> None:
    policy = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    # Inline script would undo the point of a CSP on a page that handles a secret room name.
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert response.headers.get("Referrer-Policy") == "no-referrer"
    assert response.headers.get("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("", id="home"),
        pytest.param("r/blue-fox", id="room"),
        pytest.param("r/" + "A_z-9" * 12 + "abcd", id="room-64-chars"),
        pytest.param("r/x", id="room-1-char"),
        pytest.param("ice-test", id="ice-test"),
    ],
)
async def test_pages_are_html_with_security_headers(
    server: str, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.get(server + path) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        assert_security_headers(response)
        body = await response.text()
    assert "<html" in body.lower()


@pytest.mark.parametrize(
    "room",
    [
        pytest.param("a%20b", id="space"),
        pytest.param("r" * 65, id="65-chars"),
        pytest.param("a.b", id="dot"),
        pytest.param("caf%C3%A9", id="non-ascii"),
        pytest.param("a%2Fb", id="encoded-slash"),
    ],
)
async def test_invalid_room_path_is_404(
    server: str, http: aiohttp.ClientSession, room: str
) -> None:
    url = URL(server + "r/" + room, encoded=True)
    async with http.get(url) as response:
        assert response.status == 404


async def test_empty_room_path_is_404(server: str, http: aiohttp.ClientSession) -> None:
    async with http.get(server + "r/") as response:
        assert response.status == 404


async def test_healthz_reports_ok(server: str, http: aiohttp.ClientSession) -> None:
    async with http.get(server + "healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_signaling_module_is_served_as_javascript(
    server: str, http: aiohttp.ClientSession
) -> None:
    module = STATIC_DIR / "sdk" / "signaling.js"
    async with http.get(server + "static/sdk/signaling.js") as response:
        assert response.status == 200
        # With nosniff, browsers refuse to run a module served under a non-JavaScript type.
        assert "javascript" in response.content_type
        assert_security_headers(response)
        assert await response.read() == module.read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("static/", id="static-root"),
        pytest.param("static/js/", id="static-subdir"),
        pytest.param("static/js/no-such-module.js", id="missing-file"),
    ],
)
async def test_static_never_lists_directories_or_invents_files(
    server: str, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.get(server + path) as response:
        assert response.status in (403, 404)
        body = await response.text()
    assert "Index of" not in body
    assert ".js" not in body


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("static/../server/pages.py", id="dot-dot"),
        pytest.param("static/%2e%2e/server/pages.py", id="encoded-dot-dot"),
        pytest.param("static/..%2fserver%2fpages.py", id="encoded-slash"),
    ],
)
async def test_static_does_not_escape_its_directory(
    server: str, http: aiohttp.ClientSession, path: str
) -> None:
    secret = (Path(STATIC_DIR).parent / "server" / "pages.py").read_text()
    async with http.get(URL(server + path, encoded=True)) as response:
        body = await response.text()
        assert response.status in (403, 404)
    assert secret not in body
    assert "SECURITY_HEADERS" not in body


async def test_new_room_redirects_to_an_unguessable_room(
    server: str, http: aiohttp.ClientSession
) -> None:
    seen = set()
    for _ in range(3):
        async with http.get(server + "new", allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Referrer-Policy"] == "no-referrer"
            location = response.headers["Location"]
        assert location.startswith("/r/")
        name = location.removeprefix("/r/")
        assert len(name) >= 22, "128 random bits in URL-safe base64"
        seen.add(name)
    assert len(seen) == 3
