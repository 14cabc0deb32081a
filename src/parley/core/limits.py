"""Per-user request budgets: at most N requests of a kind in any 60 s."""

from collections import deque


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
