"""Place, answer and record Parley calls from Python, on aiortc: bots, recording, testing."""

from parley.peer.call import Call, CallEnded
from parley.peer.phone import Incoming, PeerError, Phone

__all__ = ["Call", "CallEnded", "Incoming", "PeerError", "Phone"]
