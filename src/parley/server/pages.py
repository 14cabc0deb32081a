"""The browser client: HTML pages, the static ES modules, and the SDK (`/sdk/v1/`), served
from the package. The pages name their files under a versioned path (static_files.py), so those
are cached for good; the pages themselves revalidate (an `ETag`, a 304 when unchanged)."""

import html
import re
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path

from aiohttp import web

from parley.core.ids import random_id
from parley.server import static_files
from parley.server.headers import sdk_cors_headers, security_headers

STATIC_DIR = Path(str(files("parley") / "static"))
SDK_DIR = STATIC_DIR / "sdk"
SDK_PREFIX = "/sdk/v1/"
_ROOM_PATH = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The SDK's files: its modules and their declarations, nothing else (no directories, no dots).
_SDK_FILE = re.compile(r"[a-z0-9-]{1,40}\.(js|d\.ts)")
_SDK_TYPES = {"js": "text/javascript; charset=utf-8", "d.ts": "text/plain; charset=utf-8"}
# Where a page learns which origins may frame it (for its postMessage checks: embed.js).
_EMBEDDERS_META = '<meta name="parley-embedders" content="">'

# Which origins may frame the pages (--allowed-origin): set by create_app.
EMBEDDERS_KEY = web.AppKey("embedders", tuple)


async def home(request: web.Request) -> web.StreamResponse:
    return _framable_page(request, "index.html")


async def room(request: web.Request) -> web.StreamResponse:
    if not _ROOM_PATH.fullmatch(request.match_info["room"]):
        raise web.HTTPNotFound(text="Room names use 1-64 characters: A-Z a-z 0-9 _ -")
    if "autojoin" in request.query and not may_autojoin(request.headers):
        # Show the pre-join screen instead: the same URL without autojoin (the browser keeps
        # the #fragment across the redirect).
        query = {k: v for k, v in request.query.items() if k != "autojoin"}
        raise web.HTTPSeeOther(request.rel_url.with_query(query))
    return _framable_page(request, "room.html")


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


async def ice_test(request: web.Request) -> web.StreamResponse:
    return _framable_page(request, "ice-test.html")


async def new_room(_request: web.Request) -> web.StreamResponse:
    # The room name is the room's only secret, so it comes from the server's CSPRNG.
    raise web.HTTPSeeOther(f"/r/{random_id()}")


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _framable_page(request: web.Request, name: str) -> web.Response:
    page = _page_with_embedders(name, request.app.get(EMBEDDERS_KEY, ()))
    return static_files.respond(request, page, static_files.REVALIDATE)


@cache
def _page_with_embedders(name: str, embedders: tuple[str, ...]) -> static_files.StaticFile:
    """The page with the origins that may frame it written in (each checked by check_origin,
    and escaped all the same), naming its files under the versioned path."""
    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    origins = html.escape(" ".join(embedders), quote=True)
    meta = f'<meta name="parley-embedders" content="{origins}">'
    version = static_files.load_tree(STATIC_DIR).version
    text = text.replace(_EMBEDDERS_META, meta, 1)
    text = text.replace('"/static/', f'"{static_files.VERSIONED_PREFIX}{version}/')
    return static_files.page_file(text.encode())


async def sdk_file(request: web.Request) -> web.StreamResponse:
    """A module of the browser SDK (or its declarations), importable from the pages of each
    --allowed-origin (CORS): a host page runs `import { Phone } from ".../sdk/v1/parley.js"`
    and the modules it imports resolve under the same path."""
    name = request.match_info["name"]
    path = SDK_DIR / name
    match = _SDK_FILE.fullmatch(name)
    if match is None or not path.is_file():
        raise web.HTTPNotFound()
    headers = {
        "Content-Type": _SDK_TYPES[match.group(1)],
        **sdk_cors_headers(request.headers.get("Origin"), request.app.get(EMBEDDERS_KEY, ())),
    }
    # A fixed URL host apps import: revalidated on each use (a 304 while unchanged).
    file = static_files.load_tree(STATIC_DIR).files[f"sdk/{name}"]
    response = static_files.respond(request, file, static_files.REVALIDATE, headers)
    response.headers["Vary"] = "Accept-Encoding, Origin"
    return response


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
    app.router.add_get(SDK_PREFIX + "{name}", sdk_file)
    fixed, versioned = static_files.handler(STATIC_DIR)
    app.router.add_get(static_files.VERSIONED_PREFIX + "{version}/{path:.+}", versioned)
    app.router.add_get("/static/{path:.+}", fixed)
