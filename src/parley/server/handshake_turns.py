"""How many sockets are handed to picows in one turn of the event loop."""

import asyncio
from collections import deque
from collections.abc import Callable


class HandshakeTurns:
    """At most `per_turn` sockets are handed to picows in one turn of the event loop. A burst
    of clients connecting at once is spread over turns, and a relay arriving meanwhile waits
    for one share of the burst, not for all of it."""

    def __init__(self, per_turn: int) -> None:
        self._per_turn = per_turn
        self._used = 0
        self._waiting: deque[Callable[[], None]] = deque()
        self._loop = asyncio.get_running_loop()

    def run(self, start: Callable[[], None]) -> None:
        """Calls `start` in this turn if it has room, else in the first turn that has."""
        if self._used < self._per_turn and not self._waiting:
            self._take()
            start()
        else:
            self._waiting.append(start)

    async def turn(self) -> None:
        """Returns in a turn that has room (in coroutines)."""
        arrived: asyncio.Future[None] = self._loop.create_future()

        def admit() -> None:
            if not arrived.done():
                arrived.set_result(None)

        self.run(admit)
        await arrived

    def _take(self) -> None:
        if self._used == 0:
            self._loop.call_soon(self._new_turn)
        self._used += 1

    def _new_turn(self) -> None:
        self._used = 0
        waiting = self._waiting
        while waiting and self._used < self._per_turn:
            self._take()
            waiting.popleft()()
