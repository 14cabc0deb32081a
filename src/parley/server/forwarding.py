"""X-Forwarded-* from a reverse proxy, believed only when the direct peer is one we trust.

Anyone can send these headers; only a configured proxy (nginx on the same host, say) is allowed
to tell us the client's real address, scheme and host. Everyone else is who their socket says.
"""

import ipaddress
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TrustedProxies:
    def __init__(self, trusted: tuple[str, ...]) -> None:
        self._networks = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def __bool__(self) -> bool:
        return bool(self._networks)

    def is_trusted(self, address: str | None) -> bool:
        if not address:
            return False
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in self._networks)

    def client_view(
        self, remote: str | None, headers: Mapping[str, str], scheme: str, host: str
    ) -> tuple[str | None, str, str]:
        """The client's address, scheme and host: the socket's own, or what a trusted proxy
        in front of it says."""
        if not self._networks or not self.is_trusted(remote):
            return remote, scheme, host
        # The right-most address not of a trusted proxy is the client (earlier ones are claims).
        hops = [h.strip() for h in headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        client = next((h for h in reversed(hops) if not self.is_trusted(h)), remote or "")
        claimed_scheme = headers.get("X-Forwarded-Proto", scheme).split(",")[0].strip()
        host = headers.get("X-Forwarded-Host", host).split(",")[0].strip()
        if claimed_scheme in ("http", "https"):
            scheme = claimed_scheme
        return client, scheme, host


def forwarded_headers(proxies: TrustedProxies) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not proxies.is_trusted(request.remote):
            return await handler(request)
        client, scheme, host = proxies.client_view(
            request.remote, request.headers, request.scheme, request.host
        )
        return await handler(request.clone(remote=client or "", scheme=scheme, host=host))

    return middleware
