"""Parley's listening socket: signaling sockets straight to picows, everything else to aiohttp.

A connection whose first request is `GET /ws` never becomes an aiohttp request: its upgrade is
checked (parley.server.admission) and answered by picows, a fraction of the work per connect.
Any other first request goes to aiohttp, which serves pages and the API and still takes an
upgrade on a connection it already served (app.websocket), so nothing depends on which way a
client came in.
"""

import asyncio
import ssl
from collections.abc import Callable

from aiohttp import web
from picows import WSUpgradeRequest

from parley.server.admission import Admission, answer_upgrade
from parley.server.app import ADMISSION_KEY, PROXIES_KEY
from parley.server.forwarding import TrustedProxies
from parley.server.websocket import HandshakeTurns, start_websocket

# A request head larger than this is not ours to read: aiohttp answers it (431).
MAX_HEAD_BYTES = 16 * 1024
HEAD_TIMEOUT_SECONDS = 10.0
_WS_TARGETS = (b"GET /ws ", b"GET /ws?")


class _FirstRequest(asyncio.Protocol):
    """Reads a new connection's first request head, then hands the connection on."""

    __slots__ = ("_buffer", "_closed", "_deadline", "_site", "_transport", "_waiting")

    def __init__(self, site: "SignalingSite") -> None:
        self._site = site
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._closed = False
        self._waiting = False  # for a handshake turn (HandshakeTurns)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        # A client that never finishes its first request head is cut (aiohttp's own timeouts
        # only start once it has the connection).
        self._deadline = asyncio.get_running_loop().call_later(HEAD_TIMEOUT_SECONDS, self._too_slow)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if self._waiting:
            # Frames sent right after the request wait with it, within a bound.
            if len(buffer) > MAX_HEAD_BYTES + self._site.max_message_bytes():
                self._cut()
            return
        if buffer[:8] not in _WS_TARGETS and len(buffer) >= 8:
            self._to_http()
        elif b"\r\n\r\n" in buffer:
            self._waiting = True
            self._site.turns().run(self._to_websocket)
        elif len(buffer) > MAX_HEAD_BYTES:
            self._to_http()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._stop_deadline()

    def _too_slow(self) -> None:
        self._deadline = None
        self._cut()

    def _cut(self) -> None:
        self._stop_deadline()
        if self._transport is not None:
            self._transport.abort()

    def _stop_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _to_http(self) -> None:
        self._stop_deadline()
        transport = self._transport
        assert transport is not None
        protocol = self._site.http_protocol()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(bytes(self._buffer))
        self._buffer = bytearray()

    def _to_websocket(self) -> None:
        self._stop_deadline()
        transport = self._transport
        if self._closed or transport is None or transport.is_closing():
            return
        received, self._buffer = bytes(self._buffer), bytearray()
        peer = transport.get_extra_info("peername")
        remote = peer[0] if peer else None
        scheme = "https" if transport.get_extra_info("sslcontext") is not None else "http"
        site = self._site
        max_message_bytes = site.max_message_bytes()

        def listener_for(request: WSUpgradeRequest) -> object:
            return site.answer(request, remote, scheme)

        start_websocket(transport, received, listener_for, max_message_bytes)


class SignalingSite(web.BaseSite):
    """aiohttp's TCPSite, with `/ws` connections handed to picows at the first request."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str | None,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        reuse_port: bool | None = None,
        admission: Callable[[], Admission | None],
        trusted_proxies: TrustedProxies,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self._host = host
        self._port = port
        self._reuse_port = reuse_port
        self._admission = admission
        self._proxies = trusted_proxies

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self._host or '*'}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _FirstRequest(self),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=None,
            reuse_port=self._reuse_port,
        )

    def http_protocol(self) -> asyncio.Protocol:
        server = self._runner.server
        assert server is not None
        return server()

    def turns(self) -> "HandshakeTurns | _NoWaiting":
        admission = self._admission()
        # Not serving (starting or stopped): the refusal needs no turn.
        return admission.turns if admission is not None else _NO_WAITING

    def max_message_bytes(self) -> int:
        admission = self._admission()
        return admission.settings.core.max_message_bytes if admission is not None else 65536

    def answer(self, request: WSUpgradeRequest, peer: str | None, scheme: str) -> object:
        return answer_upgrade(self._admission(), self._proxies, request, peer, scheme)


class _NoWaiting:
    def run(self, start: Callable[[], None]) -> None:
        start()


_NO_WAITING = _NoWaiting()


def signaling_site(
    runner: web.AppRunner,
    host: str | None,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    reuse_port: bool | None = None,
) -> SignalingSite:
    """The site to serve a Parley app (app.create_app) on."""
    app = runner.app
    return SignalingSite(
        runner,
        host,
        port,
        ssl_context=ssl_context,
        reuse_port=reuse_port,
        admission=lambda: app.get(ADMISSION_KEY),
        trusted_proxies=app[PROXIES_KEY],
    )
