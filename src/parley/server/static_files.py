"""The browser code's files (`static/`), read once, compressed once, and served with cache
lifetimes a returning visitor can trust.

Every file is reachable two ways:

- `/static/v/<version>/<path>`: the pages refer to this one. `<version>` is a hash of the whole
  `static/` tree, so any change makes new URLs: these answers are kept for a year
  (`immutable`), and a returning visitor downloads nothing but the page (which revalidates).
- `/static/<path>`: a fixed URL (a host app, an old page), revalidated on each use (`no-cache`
  with an `ETag`: unchanged, it is a 304 with no body).

Text files go out gzip-compressed to a client that accepts it (each compressed once, at start).
"""

import gzip
import hashlib
import mimetypes
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from aiohttp import web

VERSIONED_PREFIX = "/static/v/"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_COMPRESSIBLE = (".js", ".css", ".html", ".svg", ".json", ".ts", ".txt", ".map")
_TYPES = {".js": "text/javascript", ".ts": "text/plain", ".css": "text/css", ".html": "text/html"}
# Below this, gzip's header costs more than it saves.
_MIN_COMPRESS_BYTES = 256


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str


@dataclass(frozen=True, slots=True)
class StaticTree:
    version: str
    files: dict[str, StaticFile]


@cache
def load_tree(root: Path) -> StaticTree:
    """Every file under `root` by its relative path (dot-files left out), and the tree's version."""
    files: dict[str, StaticFile] = {}
    tree_hash = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if any(part.startswith((".", "__")) for part in relative.split("/")):
            continue
        files[relative] = read_file(path)
        tree_hash.update(relative.encode() + b"\0" + files[relative].etag.encode() + b"\0")
    return StaticTree(version=tree_hash.hexdigest()[:16], files=files)


def read_file(path: Path) -> StaticFile:
    body = path.read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:32]
    compress = path.suffix in _COMPRESSIBLE and len(body) >= _MIN_COMPRESS_BYTES
    gzipped = gzip.compress(body, compresslevel=9, mtime=0) if compress else None
    if gzipped is not None and len(gzipped) >= len(body):
        gzipped = None
    guessed = mimetypes.guess_type(path.name)[0]
    kind = _TYPES.get(path.suffix) or guessed or "application/octet-stream"
    if kind.startswith("text/") or path.suffix == ".svg":
        kind += "; charset=utf-8"
    return StaticFile(body=body, gzipped=gzipped, content_type=kind, etag=f'"{digest}"')


def page_file(body: bytes) -> StaticFile:
    """An HTML page made at start (its embedders and versioned paths written in)."""
    digest = hashlib.sha256(body).hexdigest()[:32]
    gzipped = gzip.compress(body, compresslevel=9, mtime=0)
    return StaticFile(body, gzipped, "text/html; charset=utf-8", f'"{digest}"')


def respond(
    request: web.Request, file: StaticFile, cache_control: str, extra: dict[str, str] | None = None
) -> web.Response:
    """The file for this request: 304 when the client holds it already, gzip when it takes it."""
    headers = {
        "Cache-Control": cache_control,
        "ETag": file.etag,
        "Vary": "Accept-Encoding",
        **(extra or {}),
    }
    if file.etag in _listed(request.headers.get("If-None-Match", "")):
        return web.Response(status=304, headers=headers)
    body = file.body
    if file.gzipped is not None and _takes_gzip(request.headers.get("Accept-Encoding", "")):
        body = file.gzipped
        headers["Content-Encoding"] = "gzip"
    headers["Content-Type"] = headers.get("Content-Type", file.content_type)
    return web.Response(body=body, headers=headers)


def _listed(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def _takes_gzip(header: str) -> bool:
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def handler(root: Path) -> tuple[Handler, Handler]:
    """The handlers of `/static/{path}` and `/static/v/{version}/{path}` for the tree at `root`."""

    async def fixed(request: web.Request) -> web.StreamResponse:
        file = load_tree(root).files.get(request.match_info["path"])
        if file is None:
            raise web.HTTPNotFound()
        return respond(request, file, REVALIDATE)

    async def versioned(request: web.Request) -> web.StreamResponse:
        tree = load_tree(root)
        file = tree.files.get(request.match_info["path"])
        if file is None:
            raise web.HTTPNotFound()
        # Another version (a page from before an upgrade): today's file, not to be kept.
        current = request.match_info["version"] == tree.version
        return respond(request, file, IMMUTABLE if current else REVALIDATE)

    return fixed, versioned
