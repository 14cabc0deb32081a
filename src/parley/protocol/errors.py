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
    TOO_MANY_ROOMS = "too-many-rooms"
    NOT_IN_ROOM = "not-in-room"
    PEER_NOT_FOUND = "peer-not-found"
    CANNOT_CALL_SELF = "cannot-call-self"
    ALREADY_IN_CALL = "already-in-call"
    CALL_NOT_FOUND = "call-not-found"
    WRONG_CALL_STATE = "wrong-call-state"
    RATE_LIMITED = "rate-limited"
    AUTH_FAILED = "auth-failed"
    INTERNAL_ERROR = "internal-error"
    UNAVAILABLE = "unavailable"
    OFFER_HAS_ADDRESSES = "offer-has-addresses"
    ROOM_EXPIRED = "room-expired"
    BAD_ROOM_LINK = "bad-room-link"


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
    ErrorCode.TOO_MANY_ROOMS: "Your user is already in as many rooms as allowed (4 by default).",
    ErrorCode.NOT_IN_ROOM: "`ready` or `leave` outside a room.",
    ErrorCode.PEER_NOT_FOUND: (
        "The `to` session is neither in your room nor the other end of your answered call. "
        "Sessions that do not exist get this same answer, so ids cannot be probed."
    ),
    ErrorCode.CANNOT_CALL_SELF: "`invite` names your own user.",
    ErrorCode.ALREADY_IN_CALL: "`invite` while your user already has a call ringing or going on.",
    ErrorCode.CALL_NOT_FOUND: (
        "No such call among yours. Calls that ended, never existed, or belong to other users get "
        "this same answer."
    ),
    ErrorCode.WRONG_CALL_STATE: (
        "Your call is not in a state that allows this (e.g. `accept` on a call already answered)."
    ),
    ErrorCode.AUTH_FAILED: (
        "The server needs a valid token in `hello` (JWT mode) and this one was refused: bad "
        "signature, expired, not yet valid, issued in the future, or for another audience."
    ),
    ErrorCode.RATE_LIMITED: "Too many requests of this kind; wait and try again.",
    ErrorCode.INTERNAL_ERROR: (
        "The server failed while handling the message; the connection and its state are kept."
    ),
    ErrorCode.UNAVAILABLE: (
        "The server (a node of a cluster) cannot reach the cluster's Redis for a moment, so the "
        "message was not delivered; send it again later. Sent without `seq`."
    ),
    ErrorCode.OFFER_HAS_ADDRESSES: (
        "`invite.offer` carries an address (an `a=candidate` or `a=remote-candidates` line, a "
        "`c=` or `a=rtcp` address other than 0.0.0.0 or ::, with any line ending): a ringing "
        "device would contact it before anyone answered. Nothing rings; send the offer "
        "without addresses, or no offer."
    ),
    ErrorCode.ROOM_EXPIRED: (
        "`join` of a room link the host app made with an expiry (`POST /api/v1/rooms`), after "
        "that expiry. Members already in the room stay."
    ),
    ErrorCode.BAD_ROOM_LINK: (
        "`join` of a room whose name has a room link's shape (`<26>-<expiry>-<26>`, see "
        "docs/api.md) but was not made by this server: changed (a later expiry) or made up."
    ),
}
