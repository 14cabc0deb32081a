"""A client's text frame, decoded and handed to the core: the one path every frame takes, on a
single server or on each replica of a cluster."""

import logging

from parley.core.effects import Effect
from parley.core.signaling import SignalingCore
from parley.protocol.codec import DecodeFailure, decode_client_frame
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import RequestId
from parley.protocol.routing import decode_route

log = logging.getLogger(__name__)


def effects_of_frame(core: SignalingCore, connection: str, frame: str, now: float) -> list[Effect]:
    request_id: RequestId = None
    try:
        # Most frames are relays: read those for routing only.
        route = decode_route(frame)
        if route is not None:
            return core.forward(connection, route, now)
        decoded = decode_client_frame(frame)
        if isinstance(decoded, DecodeFailure):
            return core.refuse(connection, decoded.code, decoded.detail, decoded.request_id)
        request_id = decoded.id
        return core.receive(connection, decoded, now)
    except Exception:
        # Logged without the frame: message bodies may hold SDP and addresses.
        log.exception("failed while handling a frame")
        return core.refuse(
            connection, ErrorCode.INTERNAL_ERROR, "the server failed on this message", request_id
        )


def effects_of_binary(core: SignalingCore, connection: str) -> list[Effect]:
    return core.refuse(connection, ErrorCode.BINARY_FRAME, "send JSON text frames")
