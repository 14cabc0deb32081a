"""Room links a host app hands out (`POST /api/v1/rooms`): an unguessable room name that
carries its own expiry, signed with the server's key, so that every node of a cluster (and the
server after a restart) checks it on `join` with no shared state.

A link's room name is `<nonce>-<expiry>-<mac>`: `nonce` 128 random bits and `mac` the first 128
bits of HMAC-SHA256(key, nonce and expiry), each as 26 lowercase base32 letters; `expiry` the
Unix second it expires, in base 36 (`0`: never). At most 61 characters, within a room name's 64.
A name of that shape whose mac does not match (an expiry changed, a name made up) is refused, and
so is one past its expiry. A name of any other shape is an ordinary room, as before: anyone may
make one up, and it is not the link's room.
"""

import base64
import hashlib
import hmac
import re
import secrets

from parley.protocol.errors import ErrorCode

_PART_BYTES = 16
_SHAPE = re.compile(r"([a-z2-7]{26})-(0|[1-9a-z][0-9a-z]{0,7})-([a-z2-7]{26})")
# Base 36 in at most 8 digits: expiries up to the year 90,000 or so.
_MAX_EXPIRY = 36**8 - 1
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = _DIGITS[digit] + digits
        if number == 0:
            return digits


class RoomLinks:
    def __init__(self, key: bytes | None = None) -> None:
        # Without a key of the server's, links hold only as long as this process lives.
        self._key = key or secrets.token_bytes(32)

    def _mac(self, nonce: str, expiry: str) -> str:
        message = "\x00".join(("parley-room-link-v1", nonce, expiry)).encode()
        return _base32(hmac.new(self._key, message, hashlib.sha256).digest()[:_PART_BYTES])

    def issue(self, nonce: bytes, expires: int | None) -> str:
        """The room name of a link from `nonce` (16 random bytes), valid until the Unix second
        `expires` (None: for good)."""
        if len(nonce) != _PART_BYTES:
            raise ValueError(f"a room link's nonce is {_PART_BYTES} bytes")
        if expires is not None and not 0 < expires <= _MAX_EXPIRY:
            raise ValueError("a room link's expiry is a Unix second after 1970")
        encoded, expiry = _base32(nonce), _base36(expires or 0)
        return f"{encoded}-{expiry}-{self._mac(encoded, expiry)}"

    def refusal(self, room: str, now: float) -> tuple[ErrorCode, str] | None:
        """Why `room` may not be joined at `now` (an error code and its detail), or None."""
        shape = _SHAPE.fullmatch(room)
        if shape is None:
            return None
        nonce, expiry, mac = shape.groups()
        if not hmac.compare_digest(mac, self._mac(nonce, expiry)):
            return ErrorCode.BAD_ROOM_LINK, "this room link was not made by this server"
        expires = int(expiry, 36)
        if expires and now >= expires:
            return ErrorCode.ROOM_EXPIRED, "this room link has expired"
        return None
