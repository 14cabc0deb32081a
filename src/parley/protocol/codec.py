"""Frames to messages and back.

The happy path is one typed msgspec decode per frame. Only a frame that fails it is decoded a
second time, untyped, to tell the sender precisely what was wrong and to echo its `id`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from parley.protocol.errors import ErrorCode
from parley.protocol.messages import (
    CLIENT_MESSAGE_TYPES,
    ClientMessageUnion,
    RequestId,
    ServerMessage,
    message_type,
)

_client_decoder: msgspec.json.Decoder[ClientMessageUnion] = msgspec.json.Decoder(ClientMessageUnion)
_any_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()

KNOWN_CLIENT_TYPES = frozenset(message_type(cls) for cls in CLIENT_MESSAGE_TYPES)


@dataclass(frozen=True, slots=True)
class DecodeFailure:
    """Why a frame is not a message, and the `id` to answer with when one could be read."""

    code: ErrorCode
    detail: str
    request_id: RequestId = None


def decode_client_frame(frame: bytes | str) -> ClientMessageUnion | DecodeFailure:
    if isinstance(frame, bytes):
        # msgspec skips unread fields without checking their UTF-8; a text frame must be valid
        # UTF-8 throughout (RFC 6455), so check it whole.
        try:
            frame = frame.decode("utf-8")
        except UnicodeDecodeError:
            return DecodeFailure(ErrorCode.BAD_JSON, "the frame is not valid UTF-8")
    try:
        return _client_decoder.decode(frame)
    except msgspec.DecodeError as exc:
        return _explain(frame, exc)
    except RecursionError:
        return DecodeFailure(ErrorCode.BAD_MESSAGE, "the JSON is nested too deeply")


# The encoder's own method, not a function around it: every message sent goes through it.
encode: Callable[[ServerMessage], bytes] = _encoder.encode


def _explain(frame: str, exc: msgspec.DecodeError) -> DecodeFailure:
    try:
        raw: Any = _any_decoder.decode(frame)
    except msgspec.DecodeError:
        return DecodeFailure(ErrorCode.BAD_JSON, "the frame is not valid JSON")
    except RecursionError:
        return DecodeFailure(ErrorCode.BAD_MESSAGE, "the JSON is nested too deeply")
    if not isinstance(raw, dict):
        return DecodeFailure(ErrorCode.BAD_MESSAGE, "a message is a JSON object")
    request_id = _valid_request_id(raw.get("id"))
    kind = raw.get("type")
    if not isinstance(kind, str):
        return DecodeFailure(ErrorCode.BAD_MESSAGE, "`type` is missing or not a string", request_id)
    if kind not in KNOWN_CLIENT_TYPES:
        return DecodeFailure(ErrorCode.UNKNOWN_TYPE, f"unknown type {kind[:40]!r}", request_id)
    return DecodeFailure(ErrorCode.BAD_MESSAGE, str(exc)[:200], request_id)


def _valid_request_id(value: object) -> RequestId:
    try:
        request_id: RequestId = msgspec.convert(value, RequestId)
        return request_id
    except msgspec.ValidationError:
        return None
