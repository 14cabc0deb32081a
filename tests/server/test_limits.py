"""Who may open /ws, how many sockets one client may hold, and how fast a socket may talk."""

import asyncio
import time

import aiohttp
import pytest

from parley.config import ServerSettings
from parley.server.limits import TokenBucket, client_network

from .helpers import Client, StartServer, join, receive_close, receive_json, send_json, ws_url


async def test_a_foreign_origin_gets_403_and_no_session(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(ws_url(server), headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403


async def test_the_servers_own_origin_and_non_browsers_are_let_in(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server()
    own = server.rstrip("/")
    for headers in ({"Origin": own}, {}):
        ws = await http.ws_connect(ws_url(server), headers=headers)
        await send_json(ws, {"type": "hello", "v": 1})
        assert (await receive_json(ws))["type"] == "welcome"
        await ws.close()


async def test_configured_origins_add_to_the_servers_own(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server(ServerSettings(allowed_origins=("https://chat.example.org",)))
    for origin in ("https://chat.example.org", server.rstrip("/")):
        ws = await http.ws_connect(ws_url(server), headers={"Origin": origin})
        await ws.close()
    for stranger in ("https://evil.example", "https://chat.example.org.evil.example", "null"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(ws_url(server), headers={"Origin": stranger})
        assert refused.value.status == 403, stranger


async def test_connections_per_client_are_capped_and_freed_on_close(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server(ServerSettings(connections_per_client=3))
    sockets = [await http.ws_connect(ws_url(server)) for _ in range(3)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(ws_url(server))
    assert refused.value.status == 429
    await sockets.pop().close()
    await asyncio.sleep(0.1)
    again = await http.ws_connect(ws_url(server))
    await again.close()
    for ws in sockets:
        await ws.close()


async def test_a_sustained_flood_is_closed_with_1008_while_others_keep_normal_latency(
    start_server: StartServer, client: Client
) -> None:
    server = await start_server(ServerSettings(messages_per_second=50, message_burst=100))
    flooder = await client(server)
    alice, bob = await client(server), await client(server)
    await join(alice, "calm")
    await join(bob, "calm")
    await receive_json(alice.ws)  # peer-joined

    async def flood() -> None:
        for _ in range(2000):
            if flooder.ws.closed:
                return
            await send_json(flooder.ws, {"type": "ready"})

    flooding = asyncio.create_task(flood())
    latencies = []
    for n in range(20):
        started = time.monotonic()
        await send_json(alice.ws, {"type": "candidate", "to": bob.session, "candidate": None})
        relayed = await receive_json(bob.ws)
        latencies.append(time.monotonic() - started)
        assert relayed["type"] == "candidate", n
    await flooding
    assert await receive_close(flooder.ws) == 1008
    assert max(latencies) < 0.5, latencies


def test_token_bucket_allows_bursts_then_the_rate() -> None:
    bucket = TokenBucket(rate=10, burst=5)
    assert all(bucket.take(0.0) for _ in range(5))
    assert not bucket.take(0.0)
    assert bucket.take(0.1)  # one token back after 1/rate seconds
    assert not bucket.take(0.1)


def test_an_ipv6_client_is_its_64_and_a_mapped_v4_is_its_v4() -> None:
    assert client_network("2001:db8:1:2::5") == client_network("2001:db8:1:2:ffff::9")
    assert client_network("2001:db8:1:2::5") != client_network("2001:db8:1:3::5")
    assert client_network("::ffff:198.51.100.7") == "198.51.100.7"
    assert client_network("198.51.100.7") == "198.51.100.7"
