"""The app API (`/api/v1/`): what a host app's backend asks of Parley. Who is online, calls
across users, a call by id, ending a call (moderation), and new room links.

Behind `Authorization: Bearer <--api-token>`, compared in constant time; a user's JWT or guest
token is not it. Without --api-token every path answers 404 (the API is off). Requests share
one budget (--api-requests-per-minute, per process); requests with a wrong token count in a
budget of their own, so a stranger cannot use up the host app's. docs/api.md describes it.
"""

import asyncio
import bisect
import contextlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web
from msgspec import UnsetType
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from parley.config import ServerSettings
from parley.core.calls import CallState
from parley.protocol.app_api import (
    AppCall,
    CallPage,
    CallPath,
    CallsQuery,
    EndedCall,
    NewRoom,
    OnlinePage,
    OnlineQuery,
    OnlineUser,
    RoomLink,
)
from parley.server.api_routes import api_error
from parley.server.hub import Hub, HubUnavailable
from parley.server.limits import TokenBucket
from parley.storage.call_queries import BadCursor, CallFilter, CallQueries
from parley.storage.history import CallHistory

FLUSH_WAIT_SECONDS = 2.0
OFF = "the app API is off: start Parley with --api-token to turn it on"
REALM = 'Bearer realm="parley-app-api"'


@dataclass(slots=True)
class AppApi:
    """What the API's handlers need, set when the app's services start (`start`)."""

    token: bytes | None
    hub: Hub
    history: CallHistory
    calls: CallQueries
    allowed: TokenBucket
    refused: TokenBucket


APP_API_KEY = web.AppKey("app_api", AppApi)


def start(
    app: web.Application,
    settings: ServerSettings,
    hub: Hub,
    history: CallHistory,
    engine: AsyncEngine,
) -> None:
    per_minute = settings.api_requests_per_minute
    app[APP_API_KEY] = AppApi(
        token=None if settings.api_token is None else settings.api_token.encode(),
        hub=hub,
        history=history,
        calls=CallQueries(engine),
        allowed=TokenBucket(per_minute / 60.0, float(per_minute)),
        refused=TokenBucket(per_minute / 60.0, float(per_minute)),
    )


def why_off(request: web.Request) -> str | None:
    """Why a path under /api/v1/ answers 404 although it may exist: the API is off."""
    api = request.app.get(APP_API_KEY)
    off = api is None or api.token is None
    return OFF if off and request.path.startswith("/api/v1/") else None


def _take(bucket: TokenBucket) -> None:
    if not bucket.take(time.monotonic()):
        wait = max(1, math.ceil((1.0 - bucket.tokens) / bucket.rate))
        raise api_error(429, "too many requests", {"Retry-After": str(wait)})


def admit(request: web.Request) -> None:
    """The guard of every /api/v1/ route: on, the app's token, within the budget."""
    api = request.app.get(APP_API_KEY)
    if api is None or api.token is None:
        raise api_error(404, OFF)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), api.token):
        _take(api.refused)
        raise api_error(401, "the app API needs its bearer token", {"WWW-Authenticate": REALM})
    _take(api.allowed)


def _api(request: web.Request) -> AppApi:
    return request.app[APP_API_KEY]


async def _flushed(history: CallHistory) -> None:
    """Read your own writes, bounded: a backlog must not hold the answer hostage."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(FLUSH_WAIT_SECONDS):
            await history.flush()


# --- who is online -----------------------------------------------------------------------------


def _online_cursor(user: str) -> str:
    return user.encode().hex()


def _after_user(cursor: str) -> str:
    """The user id a cursor (protocol.app_api.ONLINE_CURSOR: any of them) names."""
    return bytes.fromhex(cursor).decode("utf-8", "replace")


async def online(request: web.Request, query: OnlineQuery) -> OnlinePage:
    """Users online for calls, by id; from this process's state (every node of a cluster
    holds the same)."""
    presence = _api(request).hub.core.presence
    everyone = sorted(presence.online(), key=lambda info: info.id)
    start = 0
    if not isinstance(query.cursor, UnsetType):
        start = bisect.bisect_right([info.id for info in everyone], _after_user(query.cursor))
    page = everyone[start : start + query.limit]
    more = start + query.limit < len(everyone)
    return OnlinePage(
        users=[
            OnlineUser(id=info.id, name=info.name, devices=len(presence.sessions_of(info.id)))
            for info in page
        ],
        next=_online_cursor(page[-1].id) if more and page else None,
    )


# --- calls -------------------------------------------------------------------------------------

T = TypeVar("T")


def _given(value: T | UnsetType) -> T | None:
    return None if isinstance(value, UnsetType) else value


async def list_calls(request: web.Request, query: CallsQuery) -> CallPage:
    api = _api(request)
    await _flushed(api.history)
    where = CallFilter(
        _given(query.user), _given(query.state), _given(query.since), _given(query.until)
    )
    try:
        found = await api.calls.page(where, query.limit, _given(query.cursor))
    except BadCursor as error:
        raise api_error(400, str(error)) from None
    return CallPage(calls=found.calls, next=found.next)


async def get_call(request: web.Request, path: CallPath) -> AppCall:
    api = _api(request)
    await _flushed(api.history)
    call = await api.calls.get(path.id)
    if call is None:
        raise api_error(404, "no such call")
    return call


async def end_call(request: web.Request, path: CallPath) -> EndedCall:
    """Ends a ringing or answered call: both sides hear `call-ended` (`ended-by-app`)."""
    api = _api(request)
    try:
        ending = await api.hub.end_call_by_app(path.id)
    except HubUnavailable as error:
        raise api_error(503, str(error)) from None
    if ending.result == "ended":
        ringing = ending.was is CallState.RINGING
        return EndedCall(
            call=path.id, reason="ended-by-app", was="ringing" if ringing else "answered"
        )
    if ending.result == "over":
        raise api_error(409, "the call has already ended")
    # Unknown to the signaling state: the history may still know it (ended long ago).
    await _flushed(api.history)
    known = await api.calls.get(path.id)
    if known is not None:
        raise api_error(409, f"the call is not going on (it is {known.state} in the history)")
    raise api_error(404, "no such call")


# --- rooms -------------------------------------------------------------------------------------


async def new_room(request: web.Request, body: NewRoom) -> RoomLink:
    """A new room whose name is unguessable and carries its expiry (core/room_links.py)."""
    expires = None if body.expires_in is None else int(time.time() + body.expires_in)
    room = _api(request).hub.core.room_links.issue(secrets.token_bytes(16), expires)
    url = request.url.origin().join(URL(f"/r/{room}"))
    return RoomLink(room=room, url=str(url), expires=expires)
