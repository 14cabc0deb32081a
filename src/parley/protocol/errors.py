"""Stable error codes: clients branch on these, so they never change meaning once published."""

from enum import StrEnum


class ErrorCode(StrEnum):
    BAD_JSON = "bad-json"
    BINARY_FRAME = "binary-frame"
    BAD_MESSAGE = "bad-message"
    UNKNOWN_TYPE = "unknown-type"
    HELLO_REQUIRED = "hello-required"
    ALREADY_WELCOMED = "already-welcomed"
    UNSUPPORTED_VERSION = "unsupported-version"
    ALREADY_JOINED = "already-joined"
    ROOM_FULL = "room-full"
    NOT_IN_ROOM = "not-in-room"
    PEER_NOT_FOUND = "peer-not-found"
    INTERNAL_ERROR = "internal-error"


ERROR_DESCRIPTIONS: dict[ErrorCode, str] = {
    ErrorCode.BAD_JSON: "The frame is not valid UTF-8 JSON.",
    ErrorCode.BINARY_FRAME: "Binary frames are not part of the protocol; send JSON text frames.",
    ErrorCode.BAD_MESSAGE: (
        "Valid JSON, but not a valid message: not an object, a required field is missing, "
        "or a field has the wrong type or is out of range. `message` names the field."
    ),
    ErrorCode.UNKNOWN_TYPE: "The `type` is not one this protocol version knows.",
    ErrorCode.HELLO_REQUIRED: "The first message on a connection must be `hello`.",
    ErrorCode.ALREADY_WELCOMED: "`hello` was sent twice on one connection.",
    ErrorCode.UNSUPPORTED_VERSION: "`hello` names a protocol version (`v`) this server lacks.",
    ErrorCode.ALREADY_JOINED: "`join` while already in a room; `leave` first.",
    ErrorCode.ROOM_FULL: "The room already holds its capacity of members.",
    ErrorCode.NOT_IN_ROOM: "The message needs room membership (`ready`, relays, `leave`).",
    ErrorCode.PEER_NOT_FOUND: (
        "The `to` session is not in your room. Sessions that do not exist and sessions in "
        "other rooms get this same answer, so ids cannot be probed."
    ),
    ErrorCode.INTERNAL_ERROR: (
        "The server failed while handling the message; the connection and its state are kept."
    ),
}
