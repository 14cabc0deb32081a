"""`parley bot webhooks`: the receiving end of Parley's webhooks, as a host app's backend has one.

It listens on a local address and checks each POST with `parley.protocol.webhooks.verify`
against the shared secret. What fails is refused and never acted on: 400 without a
`Parley-Signature: t=…,v1=…` header, 401 when the signature is wrong (another secret, an
altered body) or stale (more than five minutes off, a replay). Delivery is at least once, so an
event id already handled is acknowledged and skipped. As its example of acting on an event, it
prints for each `call.ended` the line a chat app would put into the conversation:

    missed call from Ana to Bo
    call from Ana to Bo, 4 min
    call from Ana to Bo, not answered (declined)

Every other verified event is acknowledged (any 2xx counts as delivered) and left alone.
Needs nothing of parley[peer]: no aiortc, no PyAV.
"""

import time
from collections import OrderedDict
from collections.abc import Callable

from aiohttp import web

from parley.protocol.webhooks import (
    SIGNATURE_HEADER,
    CallEnded,
    Party,
    SignatureError,
    UnknownEvent,
    verify,
)

# An event is a few hundred bytes; anything much bigger is not one.
MAX_BODY_BYTES = 64 * 1024
# Event ids remembered to drop repeats: far more than a receiver sees in a retry window.
SEEN_IDS_KEPT = 10_000


def conversation_line(event: CallEnded) -> str:
    """What a chat app would write into the conversation for a call that ended."""
    data = event.data
    who = f"from {_name(data.caller)} to {_name(data.callee)}"
    if data.missed:
        return f"missed call {who}"
    if data.answered is not None and data.duration is not None:
        return f"call {who}, {_minutes(data.duration)}"
    return f"call {who}, not answered ({data.reason or 'ended'})"


def _minutes(seconds: float) -> str:
    return "under a minute" if seconds < 60 else f"{round(seconds / 60)} min"


def _name(party: Party) -> str:
    """The name shown (the id when there is none), without anything that drives a terminal."""
    shown = party.name or party.id
    return "".join(ch if ch.isprintable() else "?" for ch in shown)[:64]


class WebhookBot:
    """The receiver; `say` gets each line (the command prints it)."""

    def __init__(
        self,
        secret: bytes,
        say: Callable[[str], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError("the webhook secret must not be empty")
        self._secret = secret
        self._say = say
        self._clock = clock
        self._seen: OrderedDict[str, None] = OrderedDict()

    def app(self, path: str = "/") -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(path, self.receive)
        return app

    async def receive(self, request: web.Request) -> web.Response:
        header = request.headers.get(SIGNATURE_HEADER, "")
        if "t=" not in header or "v1=" not in header:
            return _refusal(400, f"a {SIGNATURE_HEADER} header (t=…,v1=…) is required")
        body = await request.read()  # the raw bytes: the signature is over them exactly
        try:
            event = verify(self._secret, header, body, self._clock())
        except SignatureError as error:
            return _refusal(401, str(error))
        except UnknownEvent:
            return web.Response(status=204)  # genuine, from a newer server: nothing to do
        if event.id in self._seen:
            return web.Response(status=204)  # delivered again (at least once): done already
        self._seen[event.id] = None
        if len(self._seen) > SEEN_IDS_KEPT:
            self._seen.popitem(last=False)
        if isinstance(event, CallEnded):
            self._say(conversation_line(event))
        return web.Response(status=204)


def _refusal(status: int, why: str) -> web.Response:
    return web.json_response({"error": why}, status=status)
