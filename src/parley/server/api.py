"""The HTTP API: a user's own call history."""

import asyncio
import contextlib
import time

import msgspec
from aiohttp import web

from parley.identity import IdentityProvider
from parley.storage.history import CallHistory

HISTORY_KEY = web.AppKey("history", CallHistory)
IDENTITIES_KEY = web.AppKey("identities", IdentityProvider)
MAX_PAGE = 200
FLUSH_WAIT_SECONDS = 2.0


def _bearer_user(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    user = (
        request.app[IDENTITIES_KEY].user_for_token(token.strip(), time.time())
        if scheme.lower() == "bearer" and token
        else None
    )
    if user is None:
        raise web.HTTPUnauthorized(
            text='{"error":"a valid bearer token is required"}',
            content_type="application/json",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


async def call_history(request: web.Request) -> web.Response:
    """GET /api/calls?limit=N: the asking user's calls, newest first; nobody else's."""
    user = _bearer_user(request)
    try:
        limit = min(max(int(request.query.get("limit", "50")), 1), MAX_PAGE)
    except ValueError:
        raise web.HTTPBadRequest(text="limit must be a whole number") from None
    history = request.app[HISTORY_KEY]
    # Read your own writes: a client asks right after `call-ended`, when the row's end may
    # still be queued for the writer. Bounded: a backlog must not hold the answer hostage.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(FLUSH_WAIT_SECONDS):
            await history.flush()
    entries = await history.for_user(user, limit=limit)
    return web.Response(
        body=msgspec.json.encode({"calls": entries}),
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def add_api_routes(app: web.Application) -> None:
    app.router.add_get("/api/calls", call_history)
