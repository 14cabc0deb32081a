"""The one place that reaches into aiohttp's and picows's internals: giving a connection to
picows.

Why: /ws runs on picows (a Cython frame parser and writer) while pages, the API and TLS stay on
aiohttp, on one port. picows's public API only builds its protocol inside its own server or
client (`ws_create_server`, `ws_connect`), which would need a second listener; so it is built
here directly, and a connection aiohttp already holds is taken from it.

What it buys (bench/README.md): an idle connection costs 8.0 / 9.4 / 9.7 KiB of server RSS at
1k / 5k / 19.9k connections, against 13.4 / 16.3 KiB at 1k / 5k on aiohttp's WebSocket (~16 KiB
of Python objects per connection: request handler, parser, reader, writer, handler task); with
the same hub, the socket layer alone took the max relay rate from 46.1k to 52.1k candidates/s.

What it relies on (tests/server/test_picows_handoff.py checks each, and a real upgrade through
both paths, so that an aiohttp or picows upgrade that moves them fails there, loudly):
- picows.picows.WSProtocol, not in picows's stubs, and the order of its 15 positional
  parameters (picows's api.ws_create_server calls it the same way);
- aiohttp's web_protocol.RequestHandler: its `_message_tail` (bytes the client sent after the
  upgrade request without waiting for the 101), a settable `transport`, and `connection_lost`.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiohttp import web
from picows import WSAutoPingStrategy, WSUpgradeRequest

# Not in picows's stubs; api.ws_create_server builds it the same way.
from picows.picows import WSProtocol  # type: ignore[attr-defined]

# picows logs every accepted connection at INFO with several getsockopt calls, and makes a
# child logger per socket when given a Logger: an adapter avoids both.
_picows_log = logging.LoggerAdapter(logging.getLogger("parley.picows"), {})
logging.getLogger("parley.picows").setLevel(logging.WARNING)

# picows's smallest read buffer; it grows for larger frames and shrinks back. Its default,
# 16 KiB, gave 23.6 / 28.0 KiB per idle connection at 1k / 5k in the picows prototype
# (bench/README.md as of commit 29911d2).
READ_BUFFER_BYTES = 2048


def take_over(
    request: web.Request,
    listener_for: Callable[[WSUpgradeRequest], object],
    max_message_bytes: int,
) -> None:
    """Hands the connection of an upgrade request from aiohttp to picows.

    picows reads the same request again (rebuilt from aiohttp's raw headers), answers it
    through `listener_for` and owns the socket from then on. aiohttp is told its connection is
    gone, with no transport left to write a response to or close.
    """
    transport = request.transport
    assert transport is not None
    lines = [b"%s %s HTTP/1.1" % (request.method.encode(), request.raw_path.encode())]
    lines.extend(name + b": " + value for name, value in request.raw_headers)
    aiohttp_side = request.protocol
    # What the client sent after the request without waiting for the 101 (aiohttp keeps it).
    early_frames: bytes = getattr(aiohttp_side, "_message_tail", b"")
    aiohttp_side.transport = None
    with contextlib.suppress(Exception):
        aiohttp_side.connection_lost(None)
    start_websocket(
        transport,
        b"\r\n".join(lines) + b"\r\n\r\n" + early_frames,
        listener_for,
        max_message_bytes,
    )


def start_websocket(
    transport: asyncio.Transport,
    received: bytes,
    listener_for: Callable[[WSUpgradeRequest], object],
    max_message_bytes: int,
) -> None:
    """Makes picows the protocol of `transport`, fed what was `received` so far (the upgrade
    request, and any frames after it). `listener_for` answers the parsed request with a
    SignalingSocket or a refusal (picows's WSUpgradeResponseWithListener)."""
    protocol = WSProtocol(
        None,  # host and port: a client's
        None,  # path: a client's
        False,  # server side
        listener_for,
        _picows_log,
        True,  # an exception in a callback closes the socket (1011)
        None,  # no handshake timeout: the request is already here
        False,  # no auto-ping task per socket: OpenSockets.keep_heartbeat does it for all
        20.0,  # auto-ping idle timeout: unused, auto-ping is off
        20.0,  # auto-ping reply timeout: unused
        WSAutoPingStrategy.PING_WHEN_IDLE,  # unused
        False,  # pings are answered by SignalingSocket, within the client's limits
        max_message_bytes,  # a larger frame closes the socket with 1009
        None,  # no extra response headers
        READ_BUFFER_BYTES,
    )
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    if not transport.is_reading():
        transport.resume_reading()  # aiohttp pauses a connection whose early data piles up
    while received:
        view = protocol.get_buffer(len(received))
        size = min(len(view), len(received))
        view[:size] = received[:size]
        received = received[size:]
        protocol.buffer_updated(size)
