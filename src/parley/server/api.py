"""The HTTP API: a user's own call history (`/api/calls`), the app API (`/api/v1/`,
parley.server.app_api), and the table of every HTTP endpoint (`ROUTES`) that registers their
handlers and generates /api/openapi.json (parley.server.openapi).

`python -m parley.server.api --write` refreshes docs/openapi.json; without `--write` it
checks the file (`make static-checks`).
"""

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler
from msgspec import Meta

from parley.identity import IdentityProvider
from parley.protocol.app_api import (
    AppCall,
    CallPage,
    CallPath,
    CallsQuery,
    EndedCall,
    NewRoom,
    OnlinePage,
    OnlineQuery,
    RoomLink,
)
from parley.server import app_api
from parley.server.api_routes import JSON, Route, api_error, json_errors, register
from parley.server.openapi import document, render
from parley.storage.history import CallHistory, HistoryEntry

HISTORY_KEY = web.AppKey("history", CallHistory)
IDENTITIES_KEY = web.AppKey("identities", IdentityProvider)
USER_KEY = web.RequestKey("user", str)
MAX_PAGE = 200
FLUSH_WAIT_SECONDS = 2.0
APP_ERRORS = (400, 401, 404, 429)


class HistoryQuery(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    limit: Annotated[int, Meta(description="Calls per page (default 50), clamped to 1-200.")] = 50


class HistoryPage(msgspec.Struct):
    """The asking user's calls, newest first; nobody else's."""

    calls: list[HistoryEntry]


class Readiness(msgspec.Struct):
    """`ready` once the database is migrated and the hub runs; `not ready` while starting or
    shutting down (a load balancer stops sending clients here)."""

    status: Literal["ready", "not ready"]


class Health(msgspec.Struct):
    """The process answers."""

    status: Literal["ok"]


def _user(request: web.Request) -> None:
    """The guard of `/api/calls`: a user's own bearer token (guest token or JWT)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    user = (
        request.app[IDENTITIES_KEY].user_for_token(token.strip(), time.time())
        if scheme.lower() == "bearer" and token
        else None
    )
    if user is None:
        raise api_error(401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
    request[USER_KEY] = user


async def call_history(request: web.Request, query: HistoryQuery) -> HistoryPage:
    """GET /api/calls?limit=N: the asking user's calls, newest first; nobody else's."""
    history = request.app[HISTORY_KEY]
    # Read your own writes: a client asks right after `call-ended`, when the row's end may
    # still be queued for the writer. Bounded: a backlog must not hold the answer hostage.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(FLUSH_WAIT_SECONDS):
            await history.flush()
    limit = min(max(query.limit, 1), MAX_PAGE)
    return HistoryPage(await history.for_user(request[USER_KEY], limit=limit))


# Every HTTP endpoint but the pages, static files and /ws. A route without a handler here is
# served by another module (and documented here): a test checks the app serves exactly these.
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/calls", "listOwnCalls", "The asking user's own calls", HistoryPage,
          call_history, query=HistoryQuery, auth="user", guard=_user, errors=(400, 401),
          tag="user"),
    Route("GET", "/api/v1/online", "listOnline", "Users online for calls", OnlinePage,
          app_api.online, query=OnlineQuery, auth="app", guard=app_api.admit,
          errors=APP_ERRORS),
    Route("GET", "/api/v1/calls", "listCalls", "Calls across users, newest first", CallPage,
          app_api.list_calls, query=CallsQuery, auth="app", guard=app_api.admit,
          errors=APP_ERRORS),
    Route("GET", "/api/v1/calls/{id}", "getCall", "One call", AppCall, app_api.get_call,
          path_params=CallPath, auth="app", guard=app_api.admit, errors=APP_ERRORS),
    Route("POST", "/api/v1/calls/{id}/end", "endCall", "End a call (moderation)", EndedCall,
          app_api.end_call, path_params=CallPath, auth="app", guard=app_api.admit,
          errors=(*APP_ERRORS, 409, 503),
          description="Both sides get `call-ended` with reason `ended-by-app`, ringing or "
          "answered; the history records it. 409: the call has already ended."),
    Route("POST", "/api/v1/rooms", "createRoom", "A new room link", RoomLink, app_api.new_room,
          status=201, body=NewRoom, auth="app", guard=app_api.admit, errors=(*APP_ERRORS, 413),
          description="An unguessable room name that carries its expiry, signed by the "
          "server: after it, `join` is refused with `room-expired`."),
    Route("GET", "/api/openapi.json", "getOpenApi", "This document", None, text=JSON,
          tag="meta"),
    Route("GET", "/readyz", "getReadiness", "Ready for clients", Readiness,
          answers=((503, Readiness),), tag="operations"),
    Route("GET", "/healthz", "getHealth", "Alive", Health, tag="operations"),
    Route("GET", "/metrics", "getMetrics", "Prometheus metrics", None, auth="metrics",
          answers=((401, None),), text="text/plain", tag="operations",
          description="Needs `Authorization: Bearer <--metrics-token>` when one is set."),
)  # fmt: skip


def _document_handler() -> Handler:
    body = msgspec.json.encode(document(ROUTES))

    async def openapi(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=JSON, headers={"Cache-Control": "no-cache"})

    return openapi


def add_api_routes(app: web.Application) -> None:
    register(app, ROUTES)
    app.router.add_get("/api/openapi.json", _document_handler())
    app.middlewares.append(json_errors(app_api.why_off))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path, nargs="?", default=Path("docs/openapi.json"))
    parser.add_argument("--write", action="store_true", help="rewrite the file in place")
    args = parser.parse_args()
    fresh = render(ROUTES)
    if args.write:
        args.path.write_text(fresh, encoding="utf-8")
        return 0
    current = args.path.read_text(encoding="utf-8") if args.path.exists() else ""
    if fresh != current:
        print(f"{args.path} is out of date: run python -m parley.server.api --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
