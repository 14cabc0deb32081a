"""Attack surface: the offer that rides an invite.

A caller who could put an address into `invite.offer` would receive the ringing callee's
connectivity checks (its addresses) before anyone answered. The server refuses such an
invite, whatever its line endings, and nothing rings. The page's own half (the ringing page
never lets an address reach its RTCPeerConnection) is tests/e2e/test_ringing_privacy.py.
"""

from typing import Any

import aiohttp
import pytest

from tests.server.helpers import ConnectWs, StartServer, assert_silent, receive_json, send_json

# An offer as a browser makes it before gathering: no address anywhere.
CLEAN = [
    "v=0",
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111",
    "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:abcd",
    "a=ice-pwd:abcdefghijklmnopqrstuvwx",
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
    "a=setup:actpass",
    "a=mid:0",
    "a=sendrecv",
    "a=rtpmap:111 opus/48000/2",
]
CANDIDATE = "a=candidate:1 1 udp 2122260223 198.51.100.7 40000 typ host"


def offer(lines: list[str], ending: str = "\r\n") -> str:
    return ending.join(lines) + ending


def with_line(extra: str, replacing: str | None = None) -> list[str]:
    lines = [line for line in CLEAN if replacing is None or not line.startswith(replacing)]
    return [*lines, extra]


HOSTILE = {
    "bare-newline-candidate": offer(with_line(CANDIDATE), "\n"),
    "crlf-candidate": offer(with_line(CANDIDATE)),
    "lone-cr-candidate": offer(with_line(CANDIDATE), "\r"),
    "indented-candidate": offer(with_line("  " + CANDIDATE), "\n"),
    "connection-address": offer(with_line("c=IN IP4 198.51.100.7", replacing="c=")),
    "ipv6-connection-address": offer(with_line("c=IN IP6 2001:db8::7", replacing="c=")),
    "rtcp-address": offer(with_line("a=rtcp:40001 IN IP4 198.51.100.7", replacing="a=rtcp")),
    "remote-candidates": offer(with_line("a=remote-candidates:1 198.51.100.7 40000")),
}


async def online(connect_ws: ConnectWs, server: str, name: str) -> tuple[Any, str]:
    ws = await connect_ws(server)
    await send_json(ws, {"type": "hello", "v": 1, "name": name, "presence": True})
    welcome = await receive_json(ws)
    assert welcome["type"] == "welcome", welcome
    return ws, welcome["user"]["id"]


async def next_of(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        message = await receive_json(ws)
        if message["type"] == kind:
            return message


@pytest.mark.parametrize("sdp", HOSTILE.values(), ids=HOSTILE.keys())
async def test_an_invite_whose_offer_carries_an_address_rings_no_one(
    start_server: StartServer, connect_ws: ConnectWs, sdp: str
) -> None:
    server = await start_server()
    callee, callee_id = await online(connect_ws, server, "Callee")
    caller, _ = await online(connect_ws, server, "Caller")
    await next_of(callee, "presence")
    await send_json(
        caller,
        {
            "type": "invite",
            "id": 7,
            "to": callee_id,
            "media": "audio",
            "caller_offers": True,
            "offer": sdp,
        },
    )
    refusal = await next_of(caller, "error")
    assert (refusal["code"], refusal.get("id")) == ("offer-has-addresses", 7)
    await assert_silent(callee, 0.5)


async def test_an_offer_without_addresses_rings_with_the_offer(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    """Positive control: the fast path's legitimate offer still rides the invite."""
    server = await start_server()
    callee, callee_id = await online(connect_ws, server, "Callee")
    caller, _ = await online(connect_ws, server, "Caller")
    await next_of(callee, "presence")
    clean = offer(CLEAN)
    await send_json(
        caller,
        {
            "type": "invite",
            "to": callee_id,
            "media": "audio",
            "caller_offers": True,
            "offer": clean,
        },
    )
    assert (await next_of(caller, "ringing"))["callee"]["id"] == callee_id
    assert (await next_of(callee, "incoming-call"))["offer"] == clean
