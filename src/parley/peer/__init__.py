"""Place, answer and record Parley calls from Python, on aiortc: bots, recording, testing.

aiortc and PyAV come with the optional extra parley[peer]. The names below load them when
first used, not when the package is imported: `parley serve` declares the peer's commands
(parley.peer.cli) without loading any of it.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parley.peer.call import Call, CallEnded
    from parley.peer.phone import Incoming, Phone
    from parley.peer.signaling import PeerError

__all__ = ["Call", "CallEnded", "Incoming", "MissingPeerExtra", "PeerError", "Phone"]

INSTALL_HINT = "the Python peer needs aiortc and PyAV: install parley[peer]"
# What parley[peer] adds; an ImportError for anything else is a bug, not a missing extra.
_EXTRA_MODULES = ("aiortc", "av")
_HOMES = {
    "Call": "parley.peer.call",
    "CallEnded": "parley.peer.call",
    "Incoming": "parley.peer.phone",
    "PeerError": "parley.peer.signaling",
    "Phone": "parley.peer.phone",
}


class MissingPeerExtra(ImportError):
    """aiortc or PyAV is not installed."""


def load(module: str) -> Any:
    """Imports a module of the peer; MissingPeerExtra says what to install when aiortc or PyAV
    is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if (error.name or "").partition(".")[0] in _EXTRA_MODULES:
            raise MissingPeerExtra(INSTALL_HINT, name=error.name) from error
        raise


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(load(_HOMES[name]), name)
