"""Drives a SignalingCore the way the hub does, with predictable session ids and a fake clock.

Tests read the effects a call returned through the small filters at the bottom of this module.
"""

import secrets
from collections.abc import Iterator
from typing import NamedTuple, TypeVar

from parley.core.calls import RING_TIMER
from parley.core.effects import CallRecord, Effect, RecordCall, Send, TimerKey
from parley.core.presence import PRESENCE_FLUSH
from parley.core.signaling import CoreSettings, SignalingCore
from parley.core.tickets import CallTickets
from parley.identity import GuestIdentities
from parley.protocol.codec import DecodeFailure, decode_client_frame
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    PROTOCOL_VERSION,
    Accept,
    CallAccepted,
    ClientMessageUnion,
    Error,
    Hello,
    Invite,
    Join,
    Joined,
    Media,
    Ringing,
    ServerMessage,
    Welcome,
)

M = TypeVar("M", bound=ServerMessage)


class Device(NamedTuple):
    """One welcomed session and the user it belongs to (with the token that user holds)."""

    session: str
    user: str
    token: str


def ring_key(call: str) -> TimerKey:
    return (RING_TIMER, call)


def guests() -> GuestIdentities:
    """Guest identities under a secret of their own, as a server with no accounts has."""
    return GuestIdentities(secrets.token_bytes(32))


def counting_ids(prefix: str = "s") -> Iterator[str]:
    """s1, s2, s3, ...: ids a test can predict (the real ones are random)."""
    n = 0
    while True:
        n += 1
        yield f"{prefix}{n}"


# The key answered calls' tickets are signed with (a server derives its own from its secret).
TICKET_KEY = b"t" * 32


def ticket(call: str, caller: str, callee: str) -> str:
    """The ticket `call-accepted` hands both sides of `call` (resume-call shows it)."""
    return CallTickets(TICKET_KEY).issue(call, caller, callee)


class Harness:
    """A core plus the chores every test repeats: connecting, saying hello, joining."""

    def __init__(self, settings: CoreSettings | None = None, now: float = 1000.0) -> None:
        self.settings = settings or CoreSettings()
        self.now = now
        ids = counting_ids()
        self.core = SignalingCore(
            self.settings, new_id=lambda: next(ids), identities=guests(), ticket_key=TICKET_KEY
        )
        self.log: list[Effect] = []
        """Every effect the core returned through this harness, in order (call history checks)."""

    # --- raw events ------------------------------------------------------------------------

    def connect(self) -> str:
        session, _ = self.core.connect(self.now)
        return session

    def send(self, session: str, message: ClientMessageUnion) -> list[Effect]:
        return self._logged(self.core.receive(session, message, self.now))

    def send_frame(self, session: str, frame: bytes | str) -> list[Effect]:
        """A text frame as the hub handles it: decode, then receive or refuse."""
        decoded = decode_client_frame(frame)
        if isinstance(decoded, DecodeFailure):
            return self.core.refuse(session, decoded.code, decoded.detail, decoded.request_id)
        return self.send(session, decoded)

    def disconnect(self, session: str) -> list[Effect]:
        return self._logged(self.core.disconnect(session, self.now))

    def fire(self, key: TimerKey) -> list[Effect]:
        """The timer `key` expires now (the I/O layer would call this at its deadline)."""
        return self._logged(self.core.timer_expired(key, self.now))

    def _logged(self, effects: list[Effect]) -> list[Effect]:
        self.log.extend(effects)
        return effects

    # --- common set-ups --------------------------------------------------------------------

    def welcomed(self) -> str:
        """A connected session that has been welcomed."""
        session = self.connect()
        effects = self.send(session, Hello(v=PROTOCOL_VERSION))
        welcome = only_message_to(effects, session)
        assert isinstance(welcome, Welcome), welcome
        return session

    def in_room(self, room: str = "blue-fox") -> str:
        """A welcomed session that has joined `room`."""
        session = self.welcomed()
        effects = self.send(session, Join(room=room))
        joined = only_message_to(effects, session)
        assert isinstance(joined, Joined), joined
        return session

    def pair(self, room: str = "blue-fox") -> tuple[str, str]:
        """Two sessions in the same room, the first one joined first."""
        return self.in_room(room), self.in_room(room)

    def user(self, name: str = "", token: str | None = None, presence: bool = True) -> Device:
        """A welcomed session of a (new, or with `token` the same) user, online when `presence`."""
        session = self.connect()
        effects = self.send(
            session, Hello(v=PROTOCOL_VERSION, name=name, token=token, presence=presence)
        )
        welcome = only_message_to(effects, session)
        assert isinstance(welcome, Welcome), welcome
        issued = welcome.token if welcome.token is not None else token
        assert issued is not None
        # A set-up: the directory is told now, so a test's own step hears only its own news.
        self.flush_presence()
        return Device(session, welcome.user.id, issued)

    def device(self, of: Device, name: str = "", presence: bool = True) -> Device:
        """Another session (a second tab or phone) of the user `of` belongs to."""
        other = self.user(name, token=of.token, presence=presence)
        assert other.user == of.user
        return other

    def invite(
        self, session: str, to: str, media: Media = "video", *, caller_offers: bool = True
    ) -> str:
        """`session` calls the user `to`, which must ring; returns the call id."""
        effects = self.send(session, Invite(to=to, media=media, caller_offers=caller_offers))
        ringing = only_message_to(effects, session)
        assert isinstance(ringing, Ringing), ringing
        return ringing.call

    def accept(
        self, session: str, call: str, media: Media = "video", *, caller_offers: bool = True
    ) -> list[Effect]:
        """`session` answers `call`, which must succeed."""
        effects = self.send(session, Accept(call=call, media=media, caller_offers=caller_offers))
        accepted = only_message_to(effects, session)
        assert isinstance(accepted, CallAccepted), accepted
        return effects

    def flush_presence(self) -> list[Effect]:
        """The presence window ends: the directory is told what changed (core.presence)."""
        return self.fire(PRESENCE_FLUSH)

    def room_members(self, room: str) -> list[str]:
        found = self.core.rooms.get(room)
        return [] if found is None else list(found.members)


# --- reading effects ------------------------------------------------------------------------


def sends(effects: list[Effect]) -> list[Send]:
    return [e for e in effects if isinstance(e, Send)]


def messages_to(effects: list[Effect], session: str) -> list[ServerMessage]:
    return [e.message for e in sends(effects) if e.session == session]


def only_message_to(effects: list[Effect], session: str) -> ServerMessage:
    messages = messages_to(effects, session)
    assert len(messages) == 1, f"expected one message to {session}, got {messages}"
    return messages[0]


def recipients(effects: list[Effect]) -> set[str]:
    return {e.session for e in sends(effects)}


def errors(effects: list[Effect]) -> list[Error]:
    return [e.message for e in sends(effects) if isinstance(e.message, Error)]


def only_error_to(effects: list[Effect], session: str) -> Error:
    """Asserts the effects are exactly one error, addressed to `session`, and returns it."""
    assert recipients(effects) == {session}, effects
    message = only_message_to(effects, session)
    assert isinstance(message, Error), message
    assert len(effects) == 1, f"an error changes nothing else, got {effects}"
    return message


def error_codes(effects: list[Effect]) -> list[ErrorCode]:
    return [e.code for e in errors(effects)]


def of_type(effects: list[Effect], kind: type[M]) -> list[tuple[str, M]]:
    """(session, message) for every message of `kind` sent, in order."""
    return [(e.session, e.message) for e in sends(effects) if isinstance(e.message, kind)]


def records(effects: list[Effect], step: str | None = None) -> list[RecordCall]:
    """The call-history effects (of one `step` when given), in order."""
    return [e for e in effects if isinstance(e, RecordCall) and step in (None, e.step)]


def ended_records(effects: list[Effect]) -> list[CallRecord]:
    return [r.record for r in records(effects, "ended")]
