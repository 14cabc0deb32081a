"""What the tests of `parley bot webhooks` (tests/peer, tests/security) send it: `call.ended`
events as Parley makes them, signed as Parley signs them, and the bot itself on a free port."""

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import msgspec

from parley.peer.webhook_bot import WebhookBot
from parley.protocol.webhooks import (
    SIGNATURE_HEADER,
    CallData,
    CallEnded,
    Party,
    WebhookEvent,
    event_id,
    sign,
    verify,
)
from tests.support.loopback_site import serving_on_loopback

SECRET = b"whsec-for-the-tests"


def ended(
    call: str, *, answered: bool, reason: str, missed: bool = False, caller: str = "Ana"
) -> CallEnded:
    """`call.ended` for a call from `caller` to Bo (talked for 245 s when `answered`)."""
    now = time.time()
    data = CallData(
        call=call,
        caller=Party(id="u-ana", name=caller),
        callee=Party(id="u-bo", name="Bo"),
        media="video",
        created=now - 300,
        answered=now - 245 if answered else None,
        ended=now,
        reason=reason,  # type: ignore[arg-type]
        by="u-ana",
        duration=245.0 if answered else None,
        missed=missed,
    )
    return CallEnded(id=event_id("call.ended", call), created=now, data=data)


def signed(
    event: WebhookEvent, secret: bytes = SECRET, at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers Parley POSTs for `event` (signed at `at`, by default now)."""
    body = msgspec.json.encode(event)
    stamp = int(time.time() if at is None else at)
    header = sign(secret, body, stamp)
    # Signed as the package's own verifier reads it, so a test's forged variant differs from a
    # genuine request only in what the test changes.
    assert verify(secret, header, body, now=stamp) == event
    return body, {SIGNATURE_HEADER: header, "Content-Type": "application/json"}


@dataclass
class Receiver:
    """The bot listening on loopback: its URL, and every line it said."""

    url: str = ""
    lines: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def running_bot(path: str = "/hooks") -> AsyncIterator[Receiver]:
    found = Receiver()
    app = WebhookBot(SECRET, say=found.lines.append).app(path)
    async with serving_on_loopback(app) as origin:
        found.url = f"{origin}{path}"
        yield found


async def post(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> int:
    """POSTs `body` to the bot as a sender would; the status it answered."""
    async with http.post(url, data=body, headers=headers) as response:
        return response.status
