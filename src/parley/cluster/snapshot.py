"""The state a running node hands a joining one: its replica at one point of the log, typed
(msgspec, msgpack) and versioned. It travels sealed (parley.cluster.seal) through Redis."""

import msgspec

from parley.cluster.seal import decode_versioned
from parley.core.snapshot import CoreSnapshot

# The layout of `ReplicaSnapshot` (the core's included). A node of another release, whose
# snapshot has another layout, is refused: its state would not mean the same here.
SNAPSHOT_VERSION = 1


class Position(msgspec.Struct, array_like=True):
    """How far into the log a replica is: the number of the last event applied (numbers have
    no gaps) and its stream id."""

    number: int = 0
    entry: bytes = b"0-0"


class Deadline(msgspec.Struct, array_like=True):
    """A timer the core set and that did not fire yet (its key is (purpose, subject))."""

    purpose: str
    subject: str
    at: float


class ReplicaSnapshot(msgspec.Struct, array_like=True):
    version: int
    core: CoreSnapshot
    # Node → when it joined, oldest first (the order decides which one fires timers).
    nodes: dict[str, float]
    # Open socket → the node that holds it.
    connections: dict[str, str]
    deadlines: list[Deadline]
    position: Position
    # Origin node → the last entry number (Stamped.seq) taken from it.
    last_seq: dict[str, int]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(ReplicaSnapshot)


def encode_snapshot(snapshot: ReplicaSnapshot) -> bytes:
    return _encoder.encode(snapshot)


def decode_snapshot(body: bytes) -> ReplicaSnapshot:
    """Raises parley.cluster.seal.Refused."""
    return decode_versioned(body, _decoder, SNAPSHOT_VERSION)
