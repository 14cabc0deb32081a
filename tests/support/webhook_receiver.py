"""A real HTTP webhook receiver on loopback, as a host app's backend would run one: it keeps
every request it got, and can be told to answer 503 (down) or to hang (slow)."""

import asyncio
import dataclasses
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from aiohttp import web

from parley.protocol.webhooks import SIGNATURE_HEADER, AnyEvent, verify
from tests.support.loopback_site import serving_on_loopback

Mode = Literal["up", "down", "hang"]
# A hanging answer is cut off by this, far beyond any sender's timeout in the tests.
HANG_SECONDS = 30.0


@dataclasses.dataclass
class Received:
    signature: str
    body: bytes


@dataclasses.dataclass
class Receiver:
    url: str
    secret: bytes
    mode: Mode = "up"
    got: list[Received] = dataclasses.field(default_factory=list)
    refused: int = 0  # attempts answered 503
    arrived: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    def events(self) -> list[AnyEvent]:
        """Every request accepted, verified with the shared secret (each must verify)."""
        return [verify(self.secret, r.signature, r.body, time.time()) for r in self.got]

    def counts(self) -> Counter[tuple[str, str]]:
        """(type, subject) → deliveries; subject is the call id or the room name."""
        found: Counter[tuple[str, str]] = Counter()
        for event in self.events():
            subject = getattr(event.data, "call", None) or getattr(event.data, "room", "")
            found[(type(event).__name__, subject)] += 1
        return found

    async def wait_for(self, count: int, seconds: float) -> list[AnyEvent]:
        """Waits (bounded) until `count` requests were accepted; returns their events."""
        try:
            async with asyncio.timeout(seconds):
                while len(self.got) < count:
                    self.arrived.clear()
                    await self.arrived.wait()
        except TimeoutError:
            pass  # the caller's assertion says what is missing
        return self.events()


@asynccontextmanager
async def webhook_receiver(secret: bytes, port: int = 0) -> AsyncIterator[Receiver]:
    receiver = Receiver(url="", secret=secret)

    async def take(request: web.Request) -> web.Response:
        if receiver.mode == "down":
            receiver.refused += 1
            return web.Response(status=503)
        if receiver.mode == "hang":
            await asyncio.sleep(HANG_SECONDS)
        body = await request.read()
        receiver.got.append(Received(request.headers.get(SIGNATURE_HEADER, ""), body))
        receiver.arrived.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hooks", take)
    async with serving_on_loopback(app, port=port, shutdown_timeout=0.5) as origin:
        receiver.url = f"{origin}/hooks"
        yield receiver
