"""Attack surface: plain HTTP connections to pages and the API.

An anonymous visitor must not be able to hold the server's connections: idle ones, ones that
trickle a request head a byte at a time, or a keep-alive left open after one request.
"""

import asyncio
import time
from urllib.parse import urlsplit

from parley.server.site import HEAD_TIMEOUT_SECONDS, HTTP_CONNECTIONS_PER_CLIENT, KEEPALIVE_SECONDS
from tests.server.helpers import StartServer

# The flood in the issue: 120 idle connections from one address.
FLOOD = 120


async def open_from(server: str, source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(server)
    return await asyncio.open_connection(parts.hostname, parts.port, local_addr=(source, 0))


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    """True when the server closes (EOF or reset) within `within` seconds."""
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(4096), timeout=within)
            if not chunk:
                return True
    except TimeoutError:
        return False
    except ConnectionError:
        return True


async def get_page(server: str, source: str) -> bytes:
    reader, writer = await open_from(server, source)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: parley.test\r\nConnection: close\r\n\r\n")
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=5.0)
    finally:
        writer.close()


async def test_idle_connections_from_one_address_are_capped_others_still_served(
    start_server: StartServer,
) -> None:
    server = await start_server()
    flood = [await open_from(server, "127.0.0.1") for _ in range(FLOOD)]
    try:
        await asyncio.sleep(0.3)
        survivors = 0
        for reader, _ in flood:
            if not await closed_by_server(reader, within=0.05):
                survivors += 1
        assert survivors <= HTTP_CONNECTIONS_PER_CLIENT, (
            f"{survivors} of {FLOOD} idle connections from one address stay open"
        )
        # Positive control: another address is served while this one is at its cap.
        page = await get_page(server, "127.0.0.2")
        assert page.startswith(b"HTTP/1.1 200"), page[:80]
    finally:
        for _, writer in flood:
            writer.close()
    # And the capped address gets pages again once its connections are gone.
    await asyncio.sleep(0.2)
    assert (await get_page(server, "127.0.0.1")).startswith(b"HTTP/1.1 200")


async def test_a_trickled_request_head_and_an_idle_keep_alive_are_cut(
    start_server: StartServer,
) -> None:
    server = await start_server()

    async def trickler() -> float:
        reader, writer = await open_from(server, "127.0.0.3")
        started = time.monotonic()
        writer.write(b"GET / HTTP/1.1\r\nHost: parley.test\r\n")
        try:
            for index in range(60):  # one header byte a second, never the blank line
                if reader.at_eof():
                    break
                writer.write(b"X-Slow: %d\r\n" % index)
                await writer.drain()
                if await closed_by_server(reader, within=1.0):
                    break
        except ConnectionError:
            pass
        finally:
            writer.close()
        return time.monotonic() - started

    async def keep_alive_idler() -> float:
        reader, writer = await open_from(server, "127.0.0.4")
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: parley.test\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5.0)
        assert head.startswith(b"HTTP/1.1 200"), head
        answered = time.monotonic()
        closed = await closed_by_server(reader, within=KEEPALIVE_SECONDS + 30)
        writer.close()
        assert closed, "the idle keep-alive connection was never closed"
        return time.monotonic() - answered

    trickled_for, idle_for = await asyncio.gather(trickler(), keep_alive_idler())
    assert trickled_for <= HEAD_TIMEOUT_SECONDS + 2, f"a trickled head lived {trickled_for:.1f} s"
    assert idle_for <= KEEPALIVE_SECONDS + 3, f"an idle keep-alive lived {idle_for:.1f} s"
