"""Who is online for calls: users, each on one or more sessions (devices, tabs)."""

import itertools

import msgspec

from parley.core.effects import Outcome, StartTimer
from parley.core.limits import PerMinuteLimit
from parley.core.settings import CoreSettings
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import Online, OnlineRequest, Presence, UserInfo

# Changes are told at most this often, each user's net change once: a sign-in and its sign-out
# within it cost nothing (with 5,000 online, telling each one cost the server ~10 ms before).
PRESENCE_WINDOW_SECONDS = 0.5
PRESENCE_TIMER = "presence"
PRESENCE_FLUSH: tuple[str, str] = (PRESENCE_TIMER, "")
# Users per page of the directory (welcome.online, then `online` requests): a welcome's cost
# no longer grows with everyone online.
ONLINE_PAGE = 100


class PresenceRegistry:
    def __init__(self) -> None:
        self._sessions: dict[str, dict[str, str]] = {}  # user -> {session: display name}

    def add(self, user: str, session: str, name: str) -> bool:
        """Returns True when this session brought the user online."""
        sessions = self._sessions.setdefault(user, {})
        came_online = not sessions
        sessions[session] = name
        return came_online

    def remove(self, user: str, session: str) -> bool:
        """Returns True when this session was the user's last one."""
        sessions = self._sessions.get(user)
        if sessions is None or sessions.pop(session, None) is None:
            return False
        if sessions:
            return False
        del self._sessions[user]
        return True

    def __len__(self) -> int:
        return len(self._sessions)

    def sessions_of(self, user: str) -> list[str]:
        return list(self._sessions.get(user, ()))

    def info(self, user: str) -> UserInfo | None:
        sessions = self._sessions.get(user)
        if not sessions:
            return None
        # The most recent device's name: a rename on a new tab shows at once.
        return UserInfo(id=user, name=next(reversed(sessions.values())))

    def online(self) -> list[UserInfo]:
        return [info for user in self._sessions if (info := self.info(user)) is not None]

    def page(self, offset: int, limit: int = ONLINE_PAGE) -> tuple[list[UserInfo], int | None]:
        """Users online from `offset` on (in the order they came), and the next page's offset."""
        users = itertools.islice(self._sessions, offset, offset + limit + 1)
        infos = [info for user in users if (info := self.info(user)) is not None]
        if len(infos) > limit:
            return infos[:limit], offset + limit
        return infos, None

    def watchers(self) -> list[str]:
        return [session for sessions in self._sessions.values() for session in sessions]

    def export(self) -> dict[str, dict[str, str]]:
        """user → {session: display name}, in the order they came (see CoreSnapshot)."""
        return {user: dict(sessions) for user, sessions in self._sessions.items()}

    def restore(self, sessions: dict[str, dict[str, str]]) -> None:
        self._sessions = {user: dict(names) for user, names in sessions.items()}


class PresenceNewsState(msgspec.Struct, frozen=True, kw_only=True):
    """PresenceNews as plain data (see CoreSnapshot)."""

    told: dict[str, str]
    pending: list[str]
    flush_at: float | None
    pages: dict[str, list[float]] = msgspec.field(default_factory=dict)


class PresenceNews:
    """What the directory has been told, and the changes it has not been told yet."""

    def __init__(self, registry: PresenceRegistry, settings: CoreSettings) -> None:
        self._registry = registry
        self._directory = settings.directory
        self._pages = PerMinuteLimit(settings.online_pages_per_minute)
        self._told: dict[str, str] = {}  # user -> the name the directory last heard, if online
        self._pending: dict[str, None] = {}  # users changed since (in order)
        self._flush_at: float | None = None

    def changed(self, user: str, now: float, out: Outcome) -> None:
        """`user` came online, went offline, or took another name: told at the next flush."""
        if not self._directory:
            return
        self._pending[user] = None
        if self._flush_at is None:
            self._flush_at = now + PRESENCE_WINDOW_SECONDS
            out.effects.append(StartTimer(PRESENCE_FLUSH, self._flush_at))

    def flush(self, out: Outcome) -> None:
        """Tells every directory session each pending user's net change (none if it came back
        to where it was), except that user's own sessions."""
        self._flush_at = None
        pending, self._pending = self._pending, {}
        news = [n for user in pending if (n := self._net_change(user)) is not None]
        if not news:
            return
        watchers = self._registry.watchers()
        for message in news:
            own = self._registry.sessions_of(message.user.id)
            for watcher in watchers:
                if watcher not in own:
                    out.send(watcher, message)

    def _net_change(self, user: str) -> Presence | None:
        info = self._registry.info(user)
        told = self._told.get(user)
        if info is None:
            if told is None:
                return None
            del self._told[user]
            return Presence(user=UserInfo(id=user, name=told), online=False)
        if told == info.name:
            return None
        self._told[user] = info.name
        return Presence(user=info, online=True)

    def answer_page(
        self,
        session: str,
        user: str,
        on_directory: bool,
        message: OnlineRequest,
        now: float,
        out: Outcome,
    ) -> None:
        """The next page of the directory, to a session on it (as its welcome was)."""
        if not self._pages.allow(user, now):
            out.error(session, ErrorCode.RATE_LIMITED, "too many online pages", message.id)
            return
        listed = on_directory and self._directory
        users, after = self._registry.page(message.offset) if listed else ([], None)
        out.send(session, Online(id=message.id, users=users, next=after))

    def export(self) -> PresenceNewsState:
        return PresenceNewsState(
            told=dict(self._told),
            pending=list(self._pending),
            flush_at=self._flush_at,
            pages=self._pages.export(),
        )

    def restore(self, state: PresenceNewsState) -> None:
        self._told = dict(state.told)
        self._pending = dict.fromkeys(state.pending)
        self._flush_at = state.flush_at
        self._pages.restore(state.pages)
