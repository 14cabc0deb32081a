"""Authenticates what nodes hand each other through Redis (log entries and snapshots), so that
access to Redis gives at most denial of service: a node refuses whatever it reads there unless
a node holding the cluster's secret wrote it, for this generation, subject and purpose.

A sealed value is the msgpack array [body, mac]. `body` is the msgpack of a typed, versioned
value (parley.cluster.events.Stamped, parley.cluster.snapshot.ReplicaSnapshot), its version
first; `mac` is HMAC-SHA256, keyed by a key derived from the cluster's secret, over the msgpack
of [purpose, generation, subject, body] (subject: an entry's origin node, or the node a snapshot
is meant for). Nothing read from Redis is decoded further than [bytes, bytes] before its mac
matched, and nothing is ever decoded into anything but msgspec's plain types and Structs."""

import hashlib
import hmac
from typing import Literal, TypeVar

import msgspec

Purpose = Literal["entry", "snapshot"]
T = TypeVar("T")

# Sets the derived key apart from the secret's other uses (guest tokens, event ids).
_KEY_LABEL = b"parley cluster seal v1"


class Refused(Exception):
    """A value read from Redis that this node will not use: undecodable, not sealed with the
    cluster's secret (or sealed for another generation, node or use), or of another version."""


class _Envelope(msgspec.Struct, array_like=True):
    body: bytes
    mac: bytes


class _Head(msgspec.Struct, array_like=True):
    """The first field of every sealed body (the rest is ignored when decoding this)."""

    version: int


_encoder = msgspec.msgpack.Encoder()
_envelope = msgspec.msgpack.Decoder(_Envelope)
_head = msgspec.msgpack.Decoder(_Head)


def derive_key(secret: bytes) -> bytes:
    return hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()


class Seal:
    def __init__(self, secret: bytes) -> None:
        self._key = derive_key(secret)

    def _mac(self, purpose: Purpose, generation: str, subject: str, body: bytes) -> bytes:
        signed = _encoder.encode([purpose, generation, subject, body])
        return hmac.new(self._key, signed, hashlib.sha256).digest()

    def seal(self, purpose: Purpose, generation: str, subject: str, body: bytes) -> bytes:
        mac = self._mac(purpose, generation, subject, body)
        return _encoder.encode(_Envelope(body, mac))

    def open(self, purpose: Purpose, generation: str, subject: str, sealed: bytes) -> bytes:
        """The body, once its mac matched; raises Refused."""
        try:
            envelope = _envelope.decode(sealed)
        except msgspec.DecodeError as exc:
            raise Refused(f"{purpose} not sealed: {exc}") from None
        expected = self._mac(purpose, generation, subject, envelope.body)
        if not hmac.compare_digest(expected, envelope.mac):
            raise Refused(f"{purpose} not sealed with the cluster's secret for this use")
        return envelope.body


def decode_versioned(body: bytes, decoder: msgspec.msgpack.Decoder[T], version: int) -> T:
    """Decodes an opened body of this node's `version`; raises Refused for any other (a node
    of another release wrote it: this node's replica could not agree with that one's)."""
    try:
        found = _head.decode(body).version
        if found != version:
            raise Refused(f"version {found}, where this node reads version {version}")
        return decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise Refused(f"undecodable: {exc}") from None
