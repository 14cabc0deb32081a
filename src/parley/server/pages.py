"""The browser client: HTML pages and the static ES modules, served from the package."""

import re
from importlib.resources import files
from pathlib import Path

from aiohttp import web

from parley.core.ids import random_id

STATIC_DIR = Path(str(files("parley") / "static"))
_ROOM_PATH = re.compile(r"[A-Za-z0-9_-]{1,64}")

# The room name in the URL is the room's only secret: never leak it in a Referer.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self' blob: mediastream:; connect-src 'self'; frame-ancestors 'self'; "
        "base-uri 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": "camera=(self), microphone=(self), display-capture=(self)",
}


async def home(_request: web.Request) -> web.StreamResponse:
    return _page("index.html")


async def room(request: web.Request) -> web.StreamResponse:
    if not _ROOM_PATH.fullmatch(request.match_info["room"]):
        raise web.HTTPNotFound(text="Room names use 1-64 characters: A-Z a-z 0-9 _ -")
    return _page("room.html")


async def ice_test(_request: web.Request) -> web.StreamResponse:
    return _page("ice-test.html")


async def new_room(_request: web.Request) -> web.StreamResponse:
    # The room name is the room's only secret, so it comes from the server's CSPRNG.
    raise web.HTTPSeeOther(f"/r/{random_id()}")


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _page(name: str) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / name, headers={"Cache-Control": "no-cache"})


async def security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    """On every response, raised ones (404, redirects) included. A signal, not a middleware:
    a middleware's frame would stay alive for the whole life of every WebSocket."""
    response.headers.update(SECURITY_HEADERS)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/new", new_room)
    app.router.add_get("/ice-test", ice_test)
    app.router.add_get("/r/{room}", room)
    app.router.add_get("/healthz", healthz)
    app.router.add_static("/static/", STATIC_DIR, append_version=False)
