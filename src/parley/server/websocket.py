"""Signaling sockets on picows: frames in to the hub, frames out to the client.

picows's Cython frame parser and writer cost a fraction of aiohttp's per-message reader, queue
and task wake-up, and a fraction of its memory per idle connection. A socket reaches picows
from parley.server.site (a connection that opens with the upgrade) or from aiohttp
(`take_over`, an upgrade on a connection that served a page first); parley.server.admission
decides whether it is let in. No task or timer is held per idle socket: one sweeper keeps the
heartbeat for all of them.

The parts, one concern each (this module only gathers their names for the rest of the server):
- parley.server.frames: the text frames the server writes;
- parley.server.signaling_socket: one client's socket, receiving (frames in, rate limit);
- parley.server.socket_output: its sending half (outbox, flush, close handshake);
- parley.server.open_sockets: every open socket, the end-of-turn flush and the heartbeat;
- parley.server.handshake_turns: how many sockets are handed to picows per loop turn;
- parley.server.picows_handoff: the hand-off to picows, the only reach into aiohttp's and
  picows's internals.
"""

from parley.server.frames import text_frame, text_frame_header
from parley.server.handshake_turns import HandshakeTurns
from parley.server.open_sockets import OpenSockets
from parley.server.picows_handoff import READ_BUFFER_BYTES, start_websocket, take_over
from parley.server.signaling_socket import SignalingSocket, SocketHub
from parley.server.socket_output import (
    CLOSE_GRACE_SECONDS,
    CLOSE_LINGER_SECONDS,
    DIRECT_WRITE_LIMIT,
    GOODBYE_CODES,
    UNRESUMABLE_CLOSES,
    SocketLimits,
)

__all__ = [
    "CLOSE_GRACE_SECONDS",
    "CLOSE_LINGER_SECONDS",
    "DIRECT_WRITE_LIMIT",
    "GOODBYE_CODES",
    "READ_BUFFER_BYTES",
    "UNRESUMABLE_CLOSES",
    "HandshakeTurns",
    "OpenSockets",
    "SignalingSocket",
    "SocketHub",
    "SocketLimits",
    "start_websocket",
    "take_over",
    "text_frame",
    "text_frame_header",
]
