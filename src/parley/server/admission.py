"""Who may open a signaling socket, and what a socket's end means for its client.

One gate for both ways a socket starts: a connection whose first request is the upgrade
(parley.server.site hands it to picows directly) and an upgrade on a connection aiohttp has
already served (app.websocket). Both refuse with the same HTTP status and text.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from picows import WSUpgradeRequest, WSUpgradeResponse, WSUpgradeResponseWithListener

# Not in picows's stubs: the checks picows itself makes of an upgrade request.
from picows.picows import _validate_upgrade_request  # type: ignore[attr-defined]

from parley.config import ServerSettings
from parley.protocol.close_codes import CloseCode
from parley.server.forwarding import TrustedProxies
from parley.server.headers import security_headers
from parley.server.hub import Hub
from parley.server.limits import ConnectionCounter, FailedAuthThrottle, client_network
from parley.server.websocket import HandshakeTurns, OpenSockets, SignalingSocket, SocketLimits


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    text: str
    headers: dict[str, str] = field(default_factory=dict)


NOT_SERVING = Refusal(503, "this server is not serving yet; try again")


class Admission:
    def __init__(
        self,
        settings: ServerSettings,
        hub: Hub,
        sockets: OpenSockets,
        counter: ConnectionCounter,
        throttle: FailedAuthThrottle,
        turns: HandshakeTurns,
    ) -> None:
        self.settings = settings
        self.hub = hub
        self.sockets = sockets
        self.turns = turns
        self._counter = counter
        self._throttle = throttle
        self._limits = SocketLimits(
            max_message_bytes=settings.core.max_message_bytes,
            max_queued_bytes=settings.outbox_max_bytes,
            messages_per_second=settings.messages_per_second,
            message_burst=settings.message_burst,
        )
        self.open = True  # false once the server shuts down

    def check(
        self, remote: str | None, scheme: str, host: str, origin: str | None
    ) -> Refusal | SignalingSocket:
        """A socket for this client (counted against its allowance), or why not. `remote`,
        `scheme` and `host` are the client's, after a trusted proxy's X-Forwarded-*."""
        # No Origin: not a browser page (cross-site WebSocket hijacking needs one). The
        # server's own pages always; other sites' pages only when the operator listed them
        # (a page cannot forge its Origin: cross-site hijacking fails).
        foreign = origin is not None and origin != f"{scheme}://{host}"
        if foreign and origin not in self.settings.allowed_origins:
            return Refusal(403, "this origin may not use this Parley server")
        client = client_network(remote)
        wait = self._throttle.retry_after(client, asyncio.get_running_loop().time())
        if wait > 0:
            return Refusal(
                429,
                "too many refused sign-ins; try again later",
                {"Retry-After": str(int(wait) + 1)},
            )
        if not self.open or not self.hub.ready:
            return NOT_SERVING
        if not self._counter.admit(client):
            return Refusal(429, "too many connections from your address")
        return SignalingSocket(self.sockets, self.hub, self._limits, self._ender(client), client)

    def _ender(self, client: str) -> Callable[[SignalingSocket, bool], None]:
        counter, throttle, hub = self._counter, self._throttle, self.hub

        def ended(socket: SignalingSocket, resumable: bool) -> None:
            counter.release(client)
            if not socket.connection_id:
                return  # refused or gone before the hub heard of it
            state = hub.core.session_of(socket.connection_id)
            if socket.close_code == CloseCode.AUTH_FAILED:
                throttle.failed(client, asyncio.get_running_loop().time())
            elif state is not None and state.welcomed:
                throttle.succeeded(client)
            hub.close(socket.connection_id, resumable=resumable)

        return ended


def answer_upgrade(
    admission: Admission | None,
    proxies: TrustedProxies,
    request: WSUpgradeRequest,
    peer: str | None,
    scheme: str,
) -> SignalingSocket | WSUpgradeResponseWithListener:
    """picows's answer to an upgrade request read on a socket from `peer`: a signaling socket,
    or an HTTP refusal. The request is checked as picows will check it before the client is
    counted, so a malformed upgrade cannot hold one of its client's connection slots."""
    headers = request.headers
    # RFC 6455 4.2.1: Connection *includes* "Upgrade" (Firefox sends "keep-alive, Upgrade");
    # picows wants exactly "upgrade".
    tokens = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
    if "upgrade" in tokens:
        headers["Connection"] = "upgrade"
    embedders = admission.settings.allowed_origins if admission is not None else ()
    try:
        _validate_upgrade_request(request)
    except RuntimeError as exc:
        return _refuse(Refusal(400, str(exc)), embedders)
    if admission is None:
        return _refuse(NOT_SERVING, embedders)
    remote, scheme, host = proxies.client_view(peer, headers, scheme, headers.get("Host", ""))
    outcome = admission.check(remote, scheme, host, headers.get("Origin"))
    if isinstance(outcome, Refusal):
        return _refuse(outcome, embedders)
    return outcome


def _refuse(refusal: Refusal, embedders: tuple[str, ...]) -> WSUpgradeResponseWithListener:
    """An HTTP refusal of an upgrade, with the headers every page carries."""
    headers = {**security_headers(embedders), **refusal.headers}
    response = WSUpgradeResponse.create_error_response(
        refusal.status, refusal.text.encode(), headers
    )
    return WSUpgradeResponseWithListener(response, None)
