"""Webhook events, as a host app's backend receives them, and their signature.

Each event is a JSON object `{id, type, created, data}` POSTed to every `--webhook-url`, with a
`Parley-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` header.
Delivery is at least once: a receiver drops an `id` it has already handled. No event carries
SDP, ICE candidates or an IP address.

`verify` is what a receiver written in Python calls (docs/webhooks.md has it in JavaScript too).
"""

import hashlib
import hmac
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from parley.protocol.fields import EndReason, Media

SIGNATURE_HEADER = "Parley-Signature"
# A signature older (or newer) than this is refused: a captured request cannot be replayed
# later. Five minutes, as Stripe allows, covers clocks a little apart and a slow network.
DEFAULT_TOLERANCE_SECONDS = 300
UnixSeconds = Annotated[float, Meta(ge=0, description="Seconds since 1970-01-01 UTC.")]


class Party(Struct):
    """One side of a direct call: the user id (the JWT `sub`) and the name shown."""

    id: str
    name: str


class CallData(Struct, kw_only=True):
    """A direct call; every field is always present (null when not known yet).
    `answered`, `ended`, `reason`, `by`, `duration` and `missed` are set on
    `call.ended` (and `answered` on `call.answered` too). `by` is the user who ended it, when
    one did; `missed` is true when the callee never picked up (no answer, cancelled while
    ringing, connection lost while ringing)."""

    call: str
    caller: Party
    callee: Party
    media: Media
    created: UnixSeconds
    answered: UnixSeconds | None = None
    ended: UnixSeconds | None = None
    reason: EndReason | None = None
    by: str | None = None
    duration: Annotated[float, Meta(ge=0)] | None = None
    missed: bool = False


class RoomData(Struct, kw_only=True):
    """A room call, from its first member's join to its last member's leave."""

    room: str
    started: UnixSeconds
    ended: UnixSeconds | None = None
    duration: Annotated[float, Meta(ge=0)] | None = None


class WebhookEvent(Struct, tag_field="type", kw_only=True):
    """`id` is unique per event and the same on every attempt to deliver it."""

    id: str
    created: UnixSeconds


class CallRinging(WebhookEvent, tag="call.ringing", kw_only=True):
    """The callee's devices are ringing."""

    data: CallData


class CallAnswered(WebhookEvent, tag="call.answered", kw_only=True):
    """The callee accepted."""

    data: CallData


class CallEnded(WebhookEvent, tag="call.ended", kw_only=True):
    """The call is over, answered or not."""

    data: CallData


class RoomStarted(WebhookEvent, tag="room.started", kw_only=True):
    """The first member joined an empty room."""

    data: RoomData


class RoomEnded(WebhookEvent, tag="room.ended", kw_only=True):
    """The last member left."""

    data: RoomData


AnyEvent = CallRinging | CallAnswered | CallEnded | RoomStarted | RoomEnded
EVENT_TYPES: tuple[type[WebhookEvent], ...] = (
    CallRinging,
    CallAnswered,
    CallEnded,
    RoomStarted,
    RoomEnded,
)
EventType = Literal["call.ringing", "call.answered", "call.ended", "room.started", "room.ended"]


def event_id(event_type: EventType, subject: str) -> str:
    """The same id for the same event however often it is made (a step written twice, or by
    two nodes): receivers and the outbox both drop the second. `subject`: the call id, or the
    room and the time it started."""
    digest = hashlib.sha256(f"{event_type}\n{subject}".encode()).hexdigest()
    return f"evt_{digest[:32]}"


class SignatureError(ValueError):
    """The request was not signed with the secret, or not recently: refuse it (4xx)."""


class UnknownEvent(ValueError):
    """Signed with the secret, but not an event this version knows (a newer server's type):
    acknowledge it (2xx) and ignore it, or Parley retries it for a day."""


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, b"%d." % timestamp + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The `Parley-Signature` header value for `body` sent at `timestamp`."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(
    secret: bytes,
    header: str,
    body: bytes,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> AnyEvent:
    """Checks `header` (the `Parley-Signature` value) against the raw `body` and returns the
    event; raises SignatureError when the signature is wrong, missing or too old, and
    UnknownEvent for a genuine request this version cannot read. Pass the body exactly as
    received: re-encoding the JSON changes the bytes."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        (stamp,) = parts.get("t", [])
        timestamp = int(stamp)
    except ValueError:
        raise SignatureError("no timestamp (t=) in the signature header") from None
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"the signature is from {timestamp}, more than {tolerance} s off")
    expected = _mac(secret, timestamp, body)
    # Any v1 value may match: a sender rolling its secret over signs with both.
    if not any(hmac.compare_digest(expected, given) for given in parts.get("v1", [])):
        raise SignatureError("the signature does not match: wrong secret or altered body")
    try:
        return msgspec.json.decode(body, type=AnyEvent)
    except msgspec.DecodeError as error:  # ValidationError is a DecodeError
        raise UnknownEvent(f"signed, but not an event this version knows: {error}") from None
