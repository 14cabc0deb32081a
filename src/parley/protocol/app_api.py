"""The app API's wire format (`/api/v1/`, for a host app's backend): what its requests may say
and what it answers. The server decodes queries and bodies into these models and encodes its
answers from them, and /api/openapi.json is generated from them (parley.server.openapi), so
the document and the handlers cannot drift apart.

Times are Unix seconds (as in webhooks, parley.protocol.webhooks); a call is described with the
same field names as a webhook's `data`.
"""

from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from parley.protocol.fields import CallId, EndReason, Media, RoomName, UserId

# The year 9999: a later time is an error, not a date the database cannot hold.
UnixSeconds = Annotated[
    float, Meta(ge=0, le=253_402_300_799, description="Seconds since 1970-01-01 UTC.")
]
# Cursors are opaque to callers (the `next` of the page before; absent: the first page), but
# every string of their grammar is a position, so none that fits it is refused.
# ((?!\n)$: in Python's re, a bare $ also matches before a final newline.)
CALL_CURSOR = r"^[0-9a-f]{16}[A-Za-z0-9_-]{0,64}(?!\n)$"
ONLINE_CURSOR = r"^(?:[0-9a-f]{2}){1,256}(?!\n)$"
_CURSOR = "Opaque: the `next` of the page before. Absent: the first page."
CallCursor = Annotated[str, Meta(pattern=CALL_CURSOR, description=_CURSOR)]
OnlineCursor = Annotated[str, Meta(pattern=ONLINE_CURSOR, description=_CURSOR)]
CallStateName = Literal["ringing", "answered", "ended"]
# A filter: a state, or `missed` (ended without the callee picking up).
CallFilterState = Literal["ringing", "answered", "ended", "missed"]
MAX_CALLS_PAGE = 200
MAX_ONLINE_PAGE = 500
# A year (and a day): a longer-lived link is one that should not expire.
MAX_ROOM_SECONDS = 366 * 86_400


class ApiError(Struct):
    """Every error of the API: a sentence for the developer (clients branch on the status)."""

    error: str


# --- who is online -------------------------------------------------------------------------


class OnlineQuery(Struct, forbid_unknown_fields=True, kw_only=True):
    limit: Annotated[
        int, Meta(ge=1, le=MAX_ONLINE_PAGE, description="Users per page (default 100).")
    ] = 100
    cursor: OnlineCursor | UnsetType = UNSET


class OnlineUser(Struct, kw_only=True):
    """A user online for calls (a session that said `presence: true`)."""

    id: UserId
    name: Annotated[str, Meta(description="The name of the user's latest device.")]
    devices: Annotated[int, Meta(ge=1, description="Sessions (tabs, phones) online.")]


class OnlinePage(Struct, kw_only=True):
    """Users online, by id. A user who comes or goes between pages may be missed or seen on
    no page; everyone online throughout is on exactly one."""

    users: list[OnlineUser]
    next: Annotated[str | None, Meta(description="The next page's cursor; null: the last.")]


# --- calls ------------------------------------------------------------------------------------


class Party(Struct):
    """One side of a direct call: the user id (the JWT `sub`) and the name shown."""

    id: str
    name: str


class AppCall(Struct, kw_only=True):
    """A direct call as the history holds it; every field is always present (null when not
    known, or not yet). `state`: `ringing`, `answered` (going on) or `ended`. `by` is the user
    who ended it, when one did (null for `ended-by-app`, timeouts and lost connections);
    `missed`: it ended without the callee picking up (no answer, cancelled, connection lost)."""

    call: CallId
    caller: Party
    callee: Party
    media: Media
    state: CallStateName
    created: UnixSeconds
    answered: UnixSeconds | None
    ended: UnixSeconds | None
    reason: EndReason | None
    by: str | None
    duration: Annotated[float, Meta(ge=0)] | None
    missed: bool


class CallsQuery(Struct, forbid_unknown_fields=True, kw_only=True):
    """A parameter left out filters nothing (UNSET: a query has no `null`)."""

    user: (
        Annotated[UserId, Meta(description="Only this user's calls (either side).")] | UnsetType
    ) = UNSET
    state: (
        Annotated[
            CallFilterState, Meta(description="Only calls in this state; `missed`: ended, missed.")
        ]
        | UnsetType
    ) = UNSET
    since: Annotated[UnixSeconds, Meta(description="Created at or after.")] | UnsetType = UNSET
    until: Annotated[UnixSeconds, Meta(description="Created before.")] | UnsetType = UNSET
    limit: Annotated[
        int, Meta(ge=1, le=MAX_CALLS_PAGE, description="Calls per page (default 50).")
    ] = 50
    cursor: CallCursor | UnsetType = UNSET


class CallPage(Struct, kw_only=True):
    """Calls, newest first."""

    calls: list[AppCall]
    next: Annotated[str | None, Meta(description="The next page's cursor; null: the last.")]


class CallPath(Struct, forbid_unknown_fields=True):
    id: Annotated[str, Meta(min_length=1, max_length=64, description="The call's id.")]


class EndedCall(Struct, kw_only=True):
    """The call ended now: both sides got `call-ended` with reason `ended-by-app`."""

    call: CallId
    reason: Literal["ended-by-app"]
    was: Annotated[Literal["ringing", "answered"], Meta(description="Its state when it was ended.")]


# --- rooms ------------------------------------------------------------------------------------


class NewRoom(Struct, forbid_unknown_fields=True, kw_only=True):
    """An empty body (or `{}`) makes a link that never expires."""

    expires_in: (
        Annotated[
            float,
            Meta(
                ge=1,
                le=MAX_ROOM_SECONDS,
                description="Seconds from now after which joining the room is refused.",
            ),
        ]
        | None
    ) = None


class RoomLink(Struct, kw_only=True):
    """A new room: its name carries its expiry, signed by the server (docs/api.md)."""

    room: RoomName
    url: Annotated[str, Meta(description="The room page, on the origin the request came to.")]
    expires: Annotated[
        Annotated[int, Meta(ge=1)] | None, Meta(description="Unix second; null: never.")
    ]
