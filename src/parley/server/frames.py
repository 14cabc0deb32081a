"""The frames the server sends: unmasked, unfragmented WebSocket text frames (RFC 6455 §5.2).

Built here rather than by picows so that the frames of one loop turn can be joined into one
write per socket (parley.server.socket_output)."""

import struct

_SHORT_HEADER = struct.Struct("!BB")
_MEDIUM_HEADER = struct.Struct("!BBH")
_LONG_HEADER = struct.Struct("!BBQ")


def text_frame_header(size: int) -> bytes:
    """The header of an unmasked, unfragmented WebSocket text frame (RFC 6455 §5.2) of `size`
    payload bytes, as a server sends it."""
    if size < 126:
        return _SHORT_HEADER.pack(0x81, size)
    if size < 65536:
        return _MEDIUM_HEADER.pack(0x81, 126, size)
    return _LONG_HEADER.pack(0x81, 127, size)


def text_frame(payload: bytes) -> bytes:
    """A whole text frame: for the outbox, which counts each frame's bytes."""
    return text_frame_header(len(payload)) + payload
