"""X-Forwarded-* is believed from a configured proxy only."""

import aiohttp
import pytest

from parley.config import ServerSettings

from .helpers import StartServer, ws_url

FORWARDED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "calls.example.org",
    "Origin": "https://calls.example.org",
}


async def test_a_trusted_proxy_names_the_client_scheme_and_host(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server(
        ServerSettings(trusted_proxies=("127.0.0.1",), connections_per_client=1)
    )
    first = await http.ws_connect(ws_url(server), headers=FORWARDED)  # origin matches the host
    other_client = {**FORWARDED, "X-Forwarded-For": "203.0.113.10"}
    second = await http.ws_connect(ws_url(server), headers=other_client)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(ws_url(server), headers=FORWARDED)  # the same client again
    assert refused.value.status == 429
    await first.close()
    await second.close()


async def test_forwarded_headers_from_anyone_else_are_ignored(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server(ServerSettings(connections_per_client=1))
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(ws_url(server), headers=FORWARDED)
    assert refused.value.status == 403, "a claimed host does not make a foreign origin ours"
    first = await http.ws_connect(ws_url(server), headers={"X-Forwarded-For": "203.0.113.1"})
    with pytest.raises(aiohttp.WSServerHandshakeError) as capped:
        await http.ws_connect(ws_url(server), headers={"X-Forwarded-For": "203.0.113.2"})
    assert capped.value.status == 429, "a claimed address does not dodge the per-client cap"
    await first.close()


async def test_a_client_cannot_hide_behind_a_spoofed_earlier_hop(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server(
        ServerSettings(trusted_proxies=("127.0.0.1",), connections_per_client=1)
    )
    # nginx appends the real peer: whatever the client wrote before it is not believed.
    first = await http.ws_connect(
        ws_url(server), headers={"X-Forwarded-For": "1.1.1.1, 203.0.113.5"}
    )
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(ws_url(server), headers={"X-Forwarded-For": "9.9.9.9, 203.0.113.5"})
    assert refused.value.status == 429
    await first.close()
