"""A client that stops reading must cost the server bounded memory and delay nobody else.

The flood runs in lock step (each offer is followed by a request whose reply the flooder waits
for), so the server handles one offer per round and the stalled client's writer gets to run in
between: its outbox can only grow once the TCP buffers towards the stalled client are full. That
keeps these tests about a client that stopped reading, not about how fast one burst arrives.
"""

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from parley.config import ServerSettings

from .helpers import (
    SDP_40K,
    Client,
    OpenRaw,
    Peer,
    StartServer,
    flood,
    join_pair,
    join_stalled_pair,
    receive_json,
    send_json,
    without_seq,
)

OUTBOX_BYTES = 256 * 1024
# The heartbeat would also drop a client that stopped reading; keep it out of the way.
# The flood here is the slow reader's problem, not the sender's: no message-rate limit.
SETTINGS = ServerSettings(
    outbox_max_bytes=OUTBOX_BYTES,
    heartbeat_seconds=300.0,
    messages_per_second=1e9,
    message_burst=1e9,
)
# Far more than the loopback TCP buffers hold for a client that reads nothing (a few MB here),
# plus the outbox itself.
FLOOD_OFFERS = 1200
REPLY_SECONDS = 2.0


async def read_until_close(ws: aiohttp.ClientWebSocketResponse) -> tuple[int, int | None]:
    """Reads what the kernel buffered; returns how many offers came and the close code."""
    deadline = time.monotonic() + 30
    for offers in range(FLOOD_OFFERS + 10):
        message = await ws.receive(timeout=max(deadline - time.monotonic(), 0.1))
        if message.type is aiohttp.WSMsgType.CLOSE:
            return offers, message.data
        if message.type is not aiohttp.WSMsgType.TEXT:
            return offers, ws.close_code
        assert json.loads(message.data)["type"] == "offer"
    pytest.fail("the stalled client was never closed")


async def next_message(peer: Peer, seconds: float) -> dict[str, Any] | None:
    """The next message, or None when nothing comes in time."""
    try:
        message = await peer.ws.receive(timeout=seconds)
    except TimeoutError:
        return None
    assert message.type is aiohttp.WSMsgType.TEXT, message
    decoded: dict[str, Any] = json.loads(message.data)
    return without_seq(peer.ws, decoded)


async def test_stalled_reader_is_closed_with_4429_and_flooder_is_not_slowed(
    start_server: StartServer, client: Client
) -> None:
    base_url = await start_server(SETTINGS)
    flooder, stalled = await client(base_url), await client(base_url)
    await join_pair(flooder, stalled, "flood")

    result = await flood(flooder, stalled.session, FLOOD_OFFERS)
    assert result.slowest_reply < REPLY_SECONDS

    # Reading again lets out whatever the TCP buffers held, then the close.
    delivered, close_code = await read_until_close(stalled.ws)
    assert close_code == 4429
    # Offers were dropped rather than queued without bound for a client that read nothing.
    assert delivered < result.offers_sent

    peer_left = result.peer_left or await next_message(flooder, seconds=5)
    assert peer_left == {"type": "peer-left", "peer": stalled.session, "reason": "disconnected"}


async def test_stalled_reader_leaves_its_room_while_still_stalled(
    start_server: StartServer, raw_ws: OpenRaw, client: Client
) -> None:
    """An overflowed client that never reads again must not hold its room slot.

    connection.py promises that on overflow "the socket is closed rather than left to grow";
    that must hold even when the TCP buffers towards the client are full and no close frame
    can get out. The stalled client here never reads at all, so those buffers stay full.
    """
    base_url = await start_server(SETTINGS)
    flooder, stalled_session = await join_stalled_pair(base_url, raw_ws, client, "flood")

    result = await flood(flooder, stalled_session, FLOOD_OFFERS)
    peer_left = result.peer_left or await next_message(flooder, seconds=5)
    assert peer_left == {"type": "peer-left", "peer": stalled_session, "reason": "disconnected"}, (
        f"after {result.offers_sent} offers of {len(SDP_40K)} bytes and 5 s more, a client that "
        f"reads nothing is still in the room (outbox limit {OUTBOX_BYTES} bytes)"
    )


async def test_client_that_keeps_reading_gets_every_offer_and_stays_open(
    start_server: StartServer, client: Client
) -> None:
    base_url = await start_server(SETTINGS)
    flooder, reader = await client(base_url), await client(base_url)
    await join_pair(flooder, reader, "flood")
    offers = 300

    async def read_all() -> int:
        for received in range(offers):
            message = await receive_json(reader.ws, timeout=5)
            assert message == {"type": "offer", "from": flooder.session, "sdp": SDP_40K}, received
        return offers

    reading = asyncio.create_task(read_all())
    try:
        result = await flood(flooder, reader.session, offers)
        assert result.peer_left is None
        assert await asyncio.wait_for(reading, timeout=30) == offers
    finally:
        reading.cancel()
    await send_json(reader.ws, {"type": "leave", "id": "still-here"})
    assert await receive_json(reader.ws) == {"type": "left", "id": "still-here", "room": "flood"}
