"""Who is online for calls: users, each on one or more sessions (devices, tabs)."""

from parley.core.effects import Outcome
from parley.protocol.messages import Presence, UserInfo


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

    def watchers(self) -> list[str]:
        return [session for sessions in self._sessions.values() for session in sessions]

    def export(self) -> dict[str, dict[str, str]]:
        """user → {session: display name}, in the order they came (see CoreSnapshot)."""
        return {user: dict(sessions) for user, sessions in self._sessions.items()}

    def restore(self, sessions: dict[str, dict[str, str]]) -> None:
        self._sessions = {user: dict(names) for user, names in sessions.items()}


def announce(
    presence: PresenceRegistry,
    directory: bool,
    message: Presence,
    out: Outcome,
    skip: str | None = None,
) -> None:
    """Tells every session on the directory (when there is one) that a user came or went."""
    if not directory:
        return
    for watcher in presence.watchers():
        if watcher != skip:
            out.send(watcher, message)
