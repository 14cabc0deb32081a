"""What goes into the cluster's log: every input the signaling core reacts to, in the order the
whole cluster agrees on. Encoded with msgpack: small and quick to decode on every node."""

import msgspec


class NodeJoined(msgspec.Struct, tag="joined", array_like=True):
    node: str


class NodeLeft(msgspec.Struct, tag="left", array_like=True):
    """A node stopping in good order: its sockets are about to close for clients to resume."""

    node: str


class NodeLost(msgspec.Struct, tag="lost", array_like=True):
    """A node whose heartbeat stopped (killed, hung, cut off from Redis)."""

    node: str


class SyncRequest(msgspec.Struct, tag="sync", array_like=True):
    """A node joining a running cluster asks for the state at exactly this point of the log."""

    node: str


class Connected(msgspec.Struct, tag="connect", array_like=True):
    node: str
    connection: str


class Text(msgspec.Struct, tag="text", array_like=True):
    connection: str
    frame: str


class Binary(msgspec.Struct, tag="binary", array_like=True):
    connection: str


class Closed(msgspec.Struct, tag="closed", array_like=True):
    connection: str
    resumable: bool


class TimerFired(msgspec.Struct, tag="timer", array_like=True):
    purpose: str
    subject: str
    deadline: float


Event = (
    NodeJoined | NodeLeft | NodeLost | SyncRequest | Connected | Text | Binary | Closed | TimerFired
)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Event)


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(data: bytes) -> Event:
    event: Event = _decoder.decode(data)
    return event
