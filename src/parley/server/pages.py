"""The browser client: HTML pages and the static ES modules, served from the package."""

import re
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path

from aiohttp import web

from parley.core.ids import random_id
from parley.server.headers import security_headers

STATIC_DIR = Path(str(files("parley") / "static"))
_ROOM_PATH = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Which origins may frame the pages (--allowed-origin): set by create_app.
EMBEDDERS_KEY = web.AppKey("embedders", tuple)


async def home(_request: web.Request) -> web.StreamResponse:
    return _page("index.html")


async def room(request: web.Request) -> web.StreamResponse:
    if not _ROOM_PATH.fullmatch(request.match_info["room"]):
        raise web.HTTPNotFound(text="Room names use 1-64 characters: A-Z a-z 0-9 _ -")
    if "autojoin" in request.query and not may_autojoin(request.headers):
        # Show the pre-join screen instead: the same URL without autojoin (the browser keeps
        # the #fragment across the redirect).
        query = {k: v for k, v in request.query.items() if k != "autojoin"}
        raise web.HTTPSeeOther(request.rel_url.with_query(query))
    return _page("room.html")


def may_autojoin(headers: Mapping[str, str]) -> bool:
    """Whether a navigation may join a room with camera and microphone without a click: one
    from this server's own pages (`same-origin`), a typed URL or bookmark (`none`), or a frame
    (only this server and the --allowed-origins may frame the pages: frame-ancestors). Another
    site's link, form or script gets the pre-join screen, and so does a browser that does not
    say (Sec-Fetch-* is in every current engine; an old one loses only the shortcut)."""
    site = headers.get("Sec-Fetch-Site")
    if site in ("same-origin", "none"):
        return True
    return headers.get("Sec-Fetch-Dest") == "iframe" and site is not None


async def ice_test(_request: web.Request) -> web.StreamResponse:
    return _page("ice-test.html")


async def new_room(_request: web.Request) -> web.StreamResponse:
    # The room name is the room's only secret, so it comes from the server's CSPRNG.
    raise web.HTTPSeeOther(f"/r/{random_id()}")


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _page(name: str) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / name, headers={"Cache-Control": "no-cache"})


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response, raised ones (404, redirects) included. A signal, not a middleware:
    a middleware's frame would stay alive for the whole life of every WebSocket."""
    response.headers.update(security_headers(request.app.get(EMBEDDERS_KEY, ())))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/new", new_room)
    app.router.add_get("/ice-test", ice_test)
    app.router.add_get("/r/{room}", room)
    app.router.add_get("/healthz", healthz)
    app.router.add_static("/static/", STATIC_DIR, append_version=False)
