"""What goes into the cluster's log: every input the signaling core reacts to, in the order the
whole cluster agrees on. Encoded with msgpack: small and quick to decode on every node, and
sealed (parley.cluster.seal) by the node that appends them."""

import msgspec

from parley.cluster.seal import decode_versioned

# The layout of a log entry's body (`Stamped`, its events). A node of another release writing a
# different layout is refused: its replica would not agree with this one's. (2: EndCallByApp.)
ENTRY_VERSION = 2


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
    client: str = ""  # the client's network, for per-address limits (every replica counts alike)


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


class EndCallByApp(msgspec.Struct, tag="app-end", array_like=True):
    """The host app ends a call (the app API) through the node that appended this; `request`
    names the answer that node waits for."""

    request: str
    call: str


Event = (
    NodeJoined
    | NodeLeft
    | NodeLost
    | SyncRequest
    | Connected
    | Text
    | Binary
    | Closed
    | TimerFired
    | EndCallByApp
)


class Stamped(msgspec.Struct, array_like=True):
    """A log entry's body. `seq` numbers its origin node's entries, growing: a replica refuses
    an entry whose number is not above the last one it took from that node (a replay)."""

    version: int
    seq: int
    event: Event


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Stamped)


def encode_entry(seq: int, event: Event) -> bytes:
    return _encoder.encode(Stamped(ENTRY_VERSION, seq, event))


def decode_entry(body: bytes) -> Stamped:
    """Raises parley.cluster.seal.Refused."""
    return decode_versioned(body, _decoder, ENTRY_VERSION)
