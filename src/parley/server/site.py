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
from typing import cast

from aiohttp import web
from picows import WSUpgradeRequest

from parley.server.admission import Admission, answer_upgrade
from parley.server.app import ADMISSION_KEY, PROXIES_KEY
from parley.server.forwarding import TrustedProxies
from parley.server.limits import client_network
from parley.server.websocket import HandshakeTurns, start_websocket

# A request head larger than this is not ours to read: aiohttp answers it (431).
MAX_HEAD_BYTES = 16 * 1024
# Every connection's first request head must be complete within this, page or socket: a
# browser sends it in one packet right after connecting; 120 header-tricklers from one
# address once held their connections for an hour.
HEAD_TIMEOUT_SECONDS = 5.0
# aiohttp keeps an idle keep-alive connection 3,630 s by default. Browsers reuse one within
# seconds (a page's scripts load together) and reconnect cheaply after: 15 s is plenty.
KEEPALIVE_SECONDS = 15.0
# Connections to pages and the API from one client network (IPv4 address or IPv6 /64), on
# top of its /ws sockets (capped by admission). A browser opens at most 6 per host; 40 leaves
# room for a few people behind one NAT while 120 idle ones from one address are refused.
# A trusted proxy's connections carry many clients and are not capped here.
HTTP_CONNECTIONS_PER_CLIENT = 40
_WS_TARGETS = (b"GET /ws ", b"GET /ws?")
# Client networks tracked before the first sweep of their closed connections.
_FIRST_SWEEP = 1024


def parley_runner(app: web.Application, **kwargs: object) -> web.AppRunner:
    """The runner to serve a Parley app with: aiohttp's, with a short keep-alive."""
    kwargs.setdefault("keepalive_timeout", KEEPALIVE_SECONDS)
    kwargs.setdefault("handle_signals", False)
    return web.AppRunner(app, **kwargs)  # type: ignore[arg-type]


class _FirstRequest(asyncio.Protocol):
    """Reads a new connection's first request head, then hands the connection on."""

    __slots__ = ("_buffer", "_client", "_closed", "_deadline", "_site", "_transport", "_waiting")

    def __init__(self, site: "SignalingSite") -> None:
        self._site = site
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._closed = False
        self._waiting = False  # for a handshake turn (HandshakeTurns)
        self._deadline: asyncio.TimerHandle | None = None
        self._client: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (asyncio's or uvloop's, which is not an asyncio.Transport subclass).
        self._transport = cast(asyncio.Transport, transport)
        self._client = self._site.admit_connection(transport)
        if self._client is None:
            self._transport.abort()  # over the per-address cap: nothing is read from it
            self._closed = True
            return
        # A client that never finishes its first request head is cut (aiohttp has no deadline
        # for a request head, and only starts its own timeouts once it has the connection).
        self._deadline = asyncio.get_running_loop().call_later(HEAD_TIMEOUT_SECONDS, self._too_slow)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        buffer = self._buffer
        buffer += data
        if self._waiting:
            # Frames sent right after the request wait with it, within a bound.
            if len(buffer) > MAX_HEAD_BYTES + self._site.max_message_bytes():
                self._cut()
            return
        if b"\r\n\r\n" in buffer:
            # The whole head is here (within the deadline): now it goes where it belongs.
            if buffer[:8] in _WS_TARGETS:
                self._waiting = True
                self._site.turns().run(self._to_websocket)
            else:
                self._to_http()
        elif len(buffer) > MAX_HEAD_BYTES:
            self._to_http()  # aiohttp answers 431

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
        # A signaling socket counts against admission's per-address cap instead.
        self._site.release_connection(self._client, transport)
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
        # client network -> its open connections not (yet) handed to a signaling socket
        self._http_connections: dict[str, list[asyncio.BaseTransport]] = {}
        self._sweep_at = _FIRST_SWEEP

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

    def admit_connection(self, transport: asyncio.BaseTransport) -> str | None:
        """The client network a new connection counts against, or None when it already has
        HTTP_CONNECTIONS_PER_CLIENT open. Closed connections are forgotten lazily, here: once
        a connection is aiohttp's, its end is not reported to us, but its transport knows."""
        peer = transport.get_extra_info("peername")
        address = peer[0] if peer else None
        if self._proxies.is_trusted(address):
            return ""
        client = client_network(address)
        open_now = [t for t in self._http_connections.get(client, ()) if not t.is_closing()]
        if len(open_now) >= HTTP_CONNECTIONS_PER_CLIENT:
            self._http_connections[client] = open_now
            return None
        open_now.append(transport)
        self._http_connections[client] = open_now
        if len(self._http_connections) > self._sweep_at:
            self._forget_closed()
        return client

    def release_connection(self, client: str | None, transport: asyncio.BaseTransport) -> None:
        connections = self._http_connections.get(client or "")
        if connections and transport in connections:
            connections.remove(transport)
            if not connections:
                del self._http_connections[client or ""]

    def _forget_closed(self) -> None:
        for client in list(self._http_connections):
            still_open = [t for t in self._http_connections[client] if not t.is_closing()]
            if still_open:
                self._http_connections[client] = still_open
            else:
                del self._http_connections[client]
        # The next sweep waits until the table has doubled: each connection pays O(1) on average.
        self._sweep_at = max(_FIRST_SWEEP, 2 * len(self._http_connections))

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
