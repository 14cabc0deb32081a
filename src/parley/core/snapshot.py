"""A signaling core's state as plain typed data, for a cluster node that starts from another's
state instead of from nothing (SignalingCore.export_state / import_state).

Every field is a msgspec Struct, a dataclass or a builtin container of them, so a snapshot
round-trips through `msgspec.msgpack.encode` and `msgspec.msgpack.decode(data,
type=CoreSnapshot)` (or JSON). Configuration (settings, the identity provider, id sources) is
not part of it: the core that imports a snapshot keeps its own.
"""

import msgspec

from parley.core.call_book import CallsState, EndedCall
from parley.core.direct_call import Call, CallState
from parley.core.identity import Identity
from parley.core.presence import PresenceNewsState
from parley.core.replay import LoggedMessage, LogState
from parley.core.rooms import Member, Room
from parley.core.sessions import SessionsState, SessionState

__all__ = [
    "Call",
    "CallState",
    "CallsState",
    "CoreSnapshot",
    "EndedCall",
    "Identity",
    "LogState",
    "LoggedMessage",
    "Member",
    "Room",
    "SessionState",
    "SessionsState",
]


class CoreSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """What SignalingCore.export_state returns and import_state takes back."""

    # The run of the core that clients are told in `welcome.instance`.
    instance: str
    sessions: SessionsState
    rooms: dict[str, Room]
    rooms_per_user: dict[str, int]
    # user → {session: display name}, in the order the sessions came online.
    presence: dict[str, dict[str, str]]
    calls: CallsState
    # Per-user request times within the last minute, for each rate limit.
    ice_requests: dict[str, list[float]]
    invites: dict[str, list[float]]
    quality_reports: dict[str, list[float]]
    turn_credentials_issued: int
    # Per client network (and in all, under ""): new guests, sign-ins, invites (ClientBudgets).
    by_client: dict[str, dict[str, list[float]]] = msgspec.field(default_factory=dict)
    # What the directory was told, and the changes it is still to be told.
    presence_news: PresenceNewsState | None = None
