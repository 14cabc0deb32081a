"""Drives a SignalingCore the way the hub does, with predictable session ids and a fake clock.

Tests read the effects a call returned through the small filters at the bottom of this module.
"""

from collections.abc import Iterator

from parley.core.effects import Effect, Send
from parley.core.signaling import CoreSettings, SignalingCore
from parley.protocol.codec import DecodeFailure, decode_client_frame
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    PROTOCOL_VERSION,
    ClientMessageUnion,
    Error,
    Hello,
    Join,
    Joined,
    ServerMessage,
    Welcome,
)


def counting_ids(prefix: str = "s") -> Iterator[str]:
    """s1, s2, s3, ...: ids a test can predict (the real ones are random)."""
    n = 0
    while True:
        n += 1
        yield f"{prefix}{n}"


class Harness:
    """A core plus the chores every test repeats: connecting, saying hello, joining."""

    def __init__(self, settings: CoreSettings | None = None, now: float = 1000.0) -> None:
        self.settings = settings or CoreSettings()
        self.now = now
        ids = counting_ids()
        self.core = SignalingCore(self.settings, new_id=lambda: next(ids))

    # --- raw events ------------------------------------------------------------------------

    def connect(self) -> str:
        session, _ = self.core.connect(self.now)
        return session

    def send(self, session: str, message: ClientMessageUnion) -> list[Effect]:
        return self.core.receive(session, message, self.now)

    def send_frame(self, session: str, frame: bytes | str) -> list[Effect]:
        """A text frame as the hub handles it: decode, then receive or refuse."""
        decoded = decode_client_frame(frame)
        if isinstance(decoded, DecodeFailure):
            return self.core.refuse(session, decoded.code, decoded.detail, decoded.request_id)
        return self.send(session, decoded)

    def disconnect(self, session: str) -> list[Effect]:
        return self.core.disconnect(session, self.now)

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
