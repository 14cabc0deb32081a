"""permessage-deflate is never negotiated, so a compressed frame cannot inflate on the server."""

import asyncio
import zlib

from .helpers import Client, OpenRaw, join, receive_json, send_json

ONE_MIB_OF_JSON = b'{"type":"ready","pad":"' + b" " * (1024 * 1024) + b'"}'


async def read_close_code(raw: object, within: float = 5.0) -> int:
    sock = raw._sock  # type: ignore[attr-defined]
    loop = asyncio.get_running_loop()
    data = b""
    async with asyncio.timeout(within):
        while len(data) < 4:
            chunk = await loop.sock_recv(sock, 4096)
            if not chunk:
                break
            data += chunk
    assert data[0] & 0x0F == 0x8, f"expected a close frame, got {data[:8]!r}"
    return int.from_bytes(data[2:4], "big")


async def test_no_compression_is_offered(server: str, raw_ws: OpenRaw) -> None:
    raw = await raw_ws(server)
    handshake = await raw.read_handshake()
    assert b"101" in handshake.split(b"\r\n")[0]
    assert b"sec-websocket-extensions" not in handshake.lower()


async def test_a_compressed_bomb_is_refused_unread_and_the_server_carries_on(
    server: str, raw_ws: OpenRaw, client: Client
) -> None:
    raw = await raw_ws(server)
    await raw.read_handshake()
    compressor = zlib.compressobj(wbits=-15)
    payload = compressor.compress(ONE_MIB_OF_JSON) + compressor.flush(zlib.Z_SYNC_FLUSH)[:-4]
    assert len(payload) < 4096, "a small frame that would inflate to a megabyte"
    header = b"\xc1" + bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")  # FIN|RSV1|text
    await raw.send_raw(header + b"\x00\x00\x00\x00" + payload)
    assert await read_close_code(raw) == 1002, "a protocol error: compression was never agreed"

    fresh = await client(server)
    await join(fresh, "after-the-bomb")
    await send_json(fresh.ws, {"type": "leave", "id": 2})
    assert (await receive_json(fresh.ws))["type"] == "left"
