"""The vocabulary of protocol v1 messages: field types with their limits, and the small
structures both directions share. The messages themselves are in client_messages and
server_messages; parley.protocol.messages gathers them all.
"""

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

PROTOCOL_VERSION = 1

RoomName = Annotated[
    str,
    Meta(
        # (?!\n): in Python's re, a bare $ also matches before a final newline.
        pattern=r"^[A-Za-z0-9_-]{1,64}(?!\n)$",
        description="1-64 characters from A-Z a-z 0-9 _ -.",
    ),
]
SessionId = Annotated[
    str, Meta(min_length=1, max_length=64, description="A server-assigned session id.")
]
RequestId = Annotated[str, Meta(max_length=64)] | Annotated[int, Meta(ge=0, le=2**53 - 1)] | None
SDP_MAX_LENGTH = 60_000
Sdp = Annotated[str, Meta(max_length=SDP_MAX_LENGTH, description="An SDP blob, relayed untouched.")]
PeerLeftReason = Literal["left", "disconnected"]
UserId = Annotated[str, Meta(min_length=1, max_length=64, description="A user id.")]
CallId = Annotated[str, Meta(min_length=1, max_length=64, description="A server-assigned call id.")]
DisplayName = Annotated[
    str,
    Meta(pattern=r"^[^\x00-\x1f\x7f]{0,64}(?!\n)$", description="Up to 64 printable characters."),
]
Token = Annotated[str, Meta(max_length=4096)]
Media = Literal["audio", "video"]
IceTransportPolicy = Literal["all", "relay"]
EndReason = Literal[
    "declined",
    "busy",
    "cancelled",
    "no-answer",
    "offline",
    "hangup",
    "connection-lost",
    "answered-elsewhere",
    "ended-by-app",
    "cannot-answer",
    "media-failed",
]
# Why a callee turns a ringing call down: it said no (`declined`), or its device could not take
# the call (`cannot-answer`: not a secure page, no camera or microphone, or access refused).
RejectReason = Literal["declined", "cannot-answer"]
# Why a party ends an answered call: it hung up (`hangup`, the default), or no media reached it
# for so long, ICE restarts included, that the call could not go on (`media-failed`).
HangupReason = Literal["hangup", "media-failed"]
# Why media stopped reaching a side, as far as it could tell: the device went offline, the TURN
# server refused its credentials (401), a TURN server was given but never gave a relay
# candidate, or no path was found at all. A call's quality report keeps the last one it met,
# except that `no-path` never replaces one of the others.
MediaTrouble = Literal["offline", "turn-refused", "turn-unreachable", "no-path"]


class IceCandidate(Struct, omit_defaults=True):
    """An RTCIceCandidateInit, as `RTCIceCandidate.toJSON()` produces it."""

    candidate: Annotated[str, Meta(max_length=1024)]
    sdpMid: Annotated[str, Meta(max_length=64)] | None = None
    sdpMLineIndex: Annotated[int, Meta(ge=0, le=1024)] | None = None
    usernameFragment: Annotated[str, Meta(max_length=256)] | None = None


class IceServer(Struct, omit_defaults=True):
    """An RTCIceServer entry handed to clients; never hard-coded in the client."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


def message_type(cls: type[Struct]) -> str:
    """The `type` tag a message class is sent with."""
    tag = msgspec.inspect.type_info(cls).tag  # type: ignore[attr-defined]
    assert isinstance(tag, str)
    return tag
