"""parley.server.picows_handoff reaches into aiohttp's and picows's internals: these fail, with
a message saying what moved, when an upgrade of either changes what it relies on.

The shape checks name each private attribute or function; the real upgrades (a real aiohttp
server and a bare asyncio server on 127.0.0.1, a hand-rolled client) prove that a connection
handed over still answers the upgrade, keeps the frames sent before the 101, and that the
positional arguments given to picows's protocol land where they are meant to (frame size
limit: 1009; no automatic pong).
"""

import asyncio
import base64
import hashlib
import inspect
import re
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import picows
import picows.picows as picows_internals
import pytest
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest
from yarl import URL

from parley.server import picows_handoff
from parley.server.picows_handoff import start_websocket, take_over
from tests.support.loopback_site import serving_on_loopback

MAX_MESSAGE_BYTES = 1024
IO_SECONDS = 5.0
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
# RFC 6455 §1.3: the accept value the server must answer KEY with.
ACCEPT = base64.b64encode(
    hashlib.sha1(KEY + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11", usedforsecurity=False).digest()
)
UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
# The order of picows.picows.WSProtocol's positional parameters that start_websocket assumes.
WS_PROTOCOL_PARAMETERS = (
    "host_port",
    "ws_path",
    "is_client_side",
    "ws_listener_factory",
    "logger",
    "disconnect_on_exception",
    "websocket_handshake_timeout",
    "enable_auto_ping",
    "auto_ping_idle_timeout",
    "auto_ping_reply_timeout",
    "auto_ping_strategy",
    "enable_auto_pong",
    "max_frame_size",
    "extra_headers",
    "read_buffer_init_size",
)


# -- the shapes relied on


def test_picows_still_has_the_protocol_class_start_websocket_builds() -> None:
    assert picows_handoff.WSProtocol is getattr(picows_internals, "WSProtocol", None), (
        "picows.picows.WSProtocol moved: parley.server.picows_handoff builds it directly"
    )


def test_picows_protocol_takes_the_positional_parameters_in_the_order_assumed() -> None:
    source = Path(picows_internals.__file__).with_name("picows.pyx")
    if not source.exists():
        pytest.fail(
            f"picows {picows.__version__} no longer ships picows.pyx: check by hand that "
            "WSProtocol.__init__ still takes WS_PROTOCOL_PARAMETERS, in this order"
        )
    text = source.read_text()
    cls = text.index("cdef class WSProtocol")
    match = re.compile(r"def __init__\(self,(.*?)\):", re.DOTALL).search(text, cls)
    assert match is not None, "WSProtocol.__init__ not found in picows.pyx"
    names = tuple(
        part.split()[-1] for part in match.group(1).replace("\n", " ").split(",") if part.strip()
    )
    assert names == WS_PROTOCOL_PARAMETERS, (
        f"picows {picows.__version__} changed WSProtocol's parameters: "
        "update parley.server.picows_handoff.start_websocket"
    )


async def test_picows_protocol_still_takes_exactly_15_positional_arguments() -> None:
    arguments: list[object] = [None, None, False, None, picows_handoff._picows_log]
    arguments += [True, None, False, 20.0, 20.0, picows.WSAutoPingStrategy.PING_WHEN_IDLE]
    arguments += [False, MAX_MESSAGE_BYTES, None, picows_handoff.READ_BUFFER_BYTES]
    picows_internals.WSProtocol(*arguments)
    for wrong in (arguments[:-1], [*arguments, None]):
        with pytest.raises(TypeError):
            picows_internals.WSProtocol(*wrong)


def test_aiohttp_request_handler_still_has_what_take_over_uses() -> None:
    slots = {name for cls in RequestHandler.__mro__ for name in getattr(cls, "__slots__", ())}
    # take_over reads it with a default: a rename would silently lose early frames.
    assert "_message_tail" in slots, "aiohttp's RequestHandler lost _message_tail"
    assert "transport" in slots, "aiohttp's RequestHandler.transport is no longer a slot"
    assert list(inspect.signature(RequestHandler.connection_lost).parameters) == ["self", "exc"]
    for name in ("protocol", "transport", "raw_headers", "raw_path", "method"):
        assert hasattr(web.Request, name), f"aiohttp's Request lost {name}"


def test_what_site_and_admission_take_from_aiohttp_and_picows_is_still_there() -> None:
    """parley.server.site fills in aiohttp's BaseSite (its slots, the runner's server);
    parley.server.admission runs picows's own upgrade checks."""
    site_slots = set(web.BaseSite.__slots__)
    assert {"_runner", "_ssl_context", "_backlog", "_server"} <= site_slots, site_slots
    assert isinstance(inspect.getattr_static(web.BaseRunner, "server"), property)
    validate = getattr(picows_internals, "_validate_upgrade_request", None)
    assert callable(validate), "picows.picows._validate_upgrade_request is gone"


# -- real upgrades through both paths


class Echo(WSListener):  # type: ignore[misc]
    """Answers each text frame with "echo: <text>", and a ping with the text "ping": picows
    must hand pings over, not answer them itself."""

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            reply = b"echo: " + frame.get_payload_as_bytes()
            transport.send(WSMsgType.TEXT, reply)
        elif frame.msg_type == WSMsgType.PING:
            transport.send(WSMsgType.TEXT, b"ping")


def echo_for(request: WSUpgradeRequest) -> object:
    return Echo()


def client_frame(opcode: int, payload: bytes) -> bytes:
    mask = b"\x01\x02\x03\x04"
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    else:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    return header + mask + masked


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def head(self) -> bytes:
        return await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), IO_SECONDS)

    async def frame(self) -> tuple[int, bytes]:
        first, second = await asyncio.wait_for(self.reader.readexactly(2), IO_SECONDS)
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", await self.reader.readexactly(2))
        payload = await asyncio.wait_for(self.reader.readexactly(size), IO_SECONDS)
        return first & 0x0F, payload

    async def upgrade_with_an_early_frame(self) -> None:
        # The text frame goes with the request, before the 101 could have arrived.
        await self.send(UPGRADE + client_frame(0x1, b"early"))
        head = await self.head()
        assert head.startswith(b"HTTP/1.1 101 "), head
        _status_line, *lines = head.rstrip(b"\r\n").split(b"\r\n")
        headers = dict(line.lower().split(b": ", 1) for line in lines)
        assert headers.get(b"sec-websocket-accept") == ACCEPT.lower(), head
        assert await self.frame() == (0x1, b"echo: early")

    async def check_the_socket(self) -> None:
        """The socket outlives the hand-off, does not pong by itself, and enforces the frame
        size limit it was given."""
        await asyncio.sleep(0.2)  # nothing left behind (aiohttp's timers) closes it meanwhile
        await self.send(client_frame(0x1, b"later"))
        assert await self.frame() == (0x1, b"echo: later")
        await self.send(client_frame(0x9, b"are you there"))
        assert await self.frame() == (0x1, b"ping")
        await self.send(client_frame(0x1, b"x" * (MAX_MESSAGE_BYTES + 1)))
        opcode, payload = await self.frame()
        assert opcode == 0x8, opcode
        assert struct.unpack("!H", payload[:2])[0] == 1009

    def close(self) -> None:
        self.writer.close()


ConnectRaw = Callable[[int], Awaitable[RawClient]]


@pytest.fixture
async def clients() -> AsyncIterator[ConnectRaw]:
    opened: list[RawClient] = []

    async def connect(port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = RawClient(reader, writer)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()


async def test_take_over_hands_an_aiohttp_upgrade_to_picows(clients: ConnectRaw) -> None:
    """The way an upgrade on a connection aiohttp has already served (a proxy's keep-alive
    connection) reaches picows."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="page")

    async def websocket(request: web.Request) -> web.StreamResponse:
        take_over(request, echo_for, MAX_MESSAGE_BYTES)
        return web.Response(status=101)  # never written: the connection is picows's

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/ws", websocket)
    async with serving_on_loopback(app) as origin:
        client = await clients(URL(origin).port or 0)
        await client.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert (await client.head()).startswith(b"HTTP/1.1 200 ")
        assert await client.reader.readexactly(len(b"page")) == b"page"
        await client.upgrade_with_an_early_frame()
        await client.check_the_socket()


class FirstRequest(asyncio.Protocol):
    """parley.server.site's way, reduced: read the request head, then hand over."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if b"\r\n\r\n" in self.buffer and self.transport is not None:
            start_websocket(self.transport, self.buffer, echo_for, MAX_MESSAGE_BYTES)


async def test_start_websocket_hands_a_fresh_connection_to_picows(clients: ConnectRaw) -> None:
    server = await asyncio.get_running_loop().create_server(FirstRequest, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        client = await clients(port)
        await client.upgrade_with_an_early_frame()
        await client.check_the_socket()
    finally:
        server.close()
