"""Request budgets: at most N requests of a kind in any 60 s, per user or per client network."""

from collections import deque

from parley.core.settings import CoreSettings


class PerMinuteLimit:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._recent: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float) -> bool:
        recent = self._recent.setdefault(key, deque())
        while recent and recent[0] <= now - 60.0:
            recent.popleft()
        if len(recent) >= self.per_minute:
            return False
        recent.append(now)
        return True

    def forget(self, key: str) -> None:
        self._recent.pop(key, None)

    def export(self) -> dict[str, list[float]]:
        """The recent requests per key (see CoreSnapshot)."""
        return {key: list(times) for key, times in self._recent.items()}

    def restore(self, recent: dict[str, list[float]]) -> None:
        self._recent = {key: deque(times) for key, times in recent.items()}


class AddressLimit:
    """A budget per client network and one for the whole server: a request passes when both
    have room. A session with no known network (tests, in-process clients) counts only in all."""

    def __init__(self, per_client: int, in_all: int) -> None:
        self.per_client = PerMinuteLimit(per_client)
        self.in_all = PerMinuteLimit(in_all)

    def allow(self, client: str, now: float) -> bool:
        if client and not self.per_client.allow(client, now):
            return False
        return self.in_all.allow("", now)

    def export(self) -> dict[str, list[float]]:
        """Both budgets' recent requests; the whole server's under the key "" (see CoreSnapshot)."""
        return {**self.per_client.export(), "": self.in_all.export().get("", [])}

    def restore(self, recent: dict[str, list[float]]) -> None:
        self.per_client.restore({k: v for k, v in recent.items() if k})
        self.in_all.restore({"": recent.get("", [])})


class ClientBudgets:
    """What one client network (and the whole server) may do a minute, whoever its users are:
    throw-away guests each have a user's own budgets, so these are what bounds a flood."""

    def __init__(self, settings: CoreSettings) -> None:
        self.new_guests = AddressLimit(
            settings.new_guests_per_minute_per_client, settings.new_guests_per_minute_in_all
        )
        self.sign_ins = AddressLimit(
            settings.sign_ins_per_minute_per_client, settings.sign_ins_per_minute_in_all
        )
        self.invites = AddressLimit(
            settings.invites_per_minute_per_client, settings.invites_per_minute_in_all
        )

    def export(self) -> dict[str, dict[str, list[float]]]:
        return {
            "new_guests": self.new_guests.export(),
            "sign_ins": self.sign_ins.export(),
            "invites": self.invites.export(),
        }

    def restore(self, state: dict[str, dict[str, list[float]]]) -> None:
        self.new_guests.restore(state.get("new_guests", {}))
        self.sign_ins.restore(state.get("sign_ins", {}))
        self.invites.restore(state.get("invites", {}))
