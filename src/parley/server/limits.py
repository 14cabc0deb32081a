"""Admission and flood limits applied at the socket, before anything reaches the core."""

import ipaddress
from collections import Counter
from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    """`rate` messages a second on average, bursts of up to `burst`."""

    rate: float
    burst: float
    tokens: float = -1.0
    updated: float = 0.0

    def take(self, now: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.updated = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


def client_network(address: str | None) -> str:
    """What counts as one client: an IPv4 address, or an IPv6 /64 (one subscriber's prefix)."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return (
        str(parsed.ipv4_mapped or parsed)
        if isinstance(parsed, ipaddress.IPv6Address)
        else str(parsed)
    )


class ConnectionCounter:
    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self._open: Counter[str] = Counter()

    def admit(self, client: str) -> bool:
        if self._open[client] >= self.per_client:
            return False
        self._open[client] += 1
        return True

    def release(self, client: str) -> None:
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]


class FailedAuthThrottle:
    """After a few refused tokens from one client network, it must wait before trying again,
    twice as long after each further failure (capped); a success forgets its failures."""

    def __init__(self, free_failures: int = 5, first_wait: float = 1.0, max_wait: float = 300.0):
        self.free_failures = free_failures
        self.first_wait = first_wait
        self.max_wait = max_wait
        self._failures: dict[str, tuple[int, float]] = {}  # client -> (count, blocked until)

    def retry_after(self, client: str, now: float) -> float:
        """Seconds the client must still wait; 0 when it may try."""
        _, until = self._failures.get(client, (0, 0.0))
        return max(0.0, until - now)

    def failed(self, client: str, now: float) -> None:
        count, _ = self._failures.get(client, (0, 0.0))
        count += 1
        # The README's promise: after `free_failures` refusals the next attempt already waits.
        excess = count - self.free_failures + 1
        wait = 0.0 if excess <= 0 else min(self.max_wait, self.first_wait * 2 ** (excess - 1))
        self._failures[client] = (count, now + wait)
        if len(self._failures) > 100_000:  # bounded: forget the oldest-blocked entries
            for key in sorted(self._failures, key=lambda k: self._failures[k][1])[:10_000]:
                del self._failures[key]

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)
