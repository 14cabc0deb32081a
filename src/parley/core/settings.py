"""What a signaling core is configured with. Plain values, plus the one outside service it
calls: a source of short-lived TURN credentials (parley.turn.credentials provides one)."""

from dataclasses import dataclass
from typing import Protocol

from parley.protocol.messages import IceServer


class TurnCredentials(Protocol):
    """Issues the TURN server entry a user may use from `now` on (credentials expire, so each
    welcome and each ice-servers request gets fresh ones)."""

    def issue(self, user: str, now: float) -> IceServer: ...


@dataclass(frozen=True, slots=True)
class CoreSettings:
    room_capacity: int = 2
    hello_timeout: float = 10.0
    max_message_bytes: int = 64 * 1024
    ice_servers: tuple[IceServer, ...] = ()
    ring_timeout: float = 30.0
    directory: bool = True
    # TURN with fresh time-limited credentials for each session (None: no TURN server).
    turn: TurnCredentials | None = None
    # Ask clients to relay every call, so that peers never learn each other's address.
    relay_only: bool = False
    ice_requests_per_minute: int = 10
    # Each invite writes history and rings someone: a person places a few a minute at most.
    invites_per_minute: int = 20
    # Throw-away guests (a new socket, no token) each get a user's budgets, so new guests and
    # invites are also counted per client network (an IPv4 address or an IPv6 /64) and for the
    # whole server. 20 new guests a minute lets an office behind one NAT come online; a flood
    # from one address stops there, and one spread over many addresses at the totals.
    new_guests_per_minute_per_client: int = 20
    new_guests_per_minute_in_all: int = 600
    invites_per_minute_per_client: int = 60
    invites_per_minute_in_all: int = 1200
    # Sign-ins that come online for calls (each is news for the whole directory), per client
    # network and in all; over it, a session is welcomed but not listed for a while.
    sign_ins_per_minute_per_client: int = 120
    sign_ins_per_minute_in_all: int = 6000
    # Pages of the directory (`online`) a user may ask for: 60 x 100 users a minute.
    online_pages_per_minute: int = 60
    # Rooms one user's sessions may be in at once (one call per tab; a few tabs is plenty).
    rooms_per_user: int = 4
    quality_reports_per_minute: int = 6
    # How long a session whose socket dropped waits to be resumed (0: it ends at once).
    resume_window: float = 30.0
    # Messages a session away may miss before it is ended: a resume must replay them all.
    resume_queue: int = 256
    # Sessions of one user that may wait for a resume at once (tabs and devices that dropped).
    away_sessions_per_user: int = 8
    # Messages kept even while connected: the last ones written may have died with the socket.
    replay_margin: int = 64
    # And the most the kept messages may weigh: an ICE restart's offer and its candidates fit
    # many times over (a typical SDP is 4-6 kB); memory per session stays bounded.
    replay_bytes: int = 256 * 1024

    @property
    def log_capacity(self) -> int:
        """Messages each session's replay log keeps (none without resume)."""
        if self.resume_window <= 0:
            return 0
        return self.resume_queue + self.replay_margin

    @property
    def reclaim_window(self) -> float:
        """How long a call taken back after a restart waits for its other side."""
        return self.resume_window if self.resume_window > 0 else 30.0
