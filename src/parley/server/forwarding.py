"""X-Forwarded-* from a reverse proxy, believed only when the direct peer is one we trust.

Anyone can send these headers; only a configured proxy (nginx on the same host, say) is allowed
to tell us the client's real address, scheme and host. Everyone else is who their socket says.
"""

import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def forwarded_headers(trusted: tuple[str, ...]) -> Middleware:
    networks = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def is_trusted(address: str | None) -> bool:
        if not address:
            return False
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in networks)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not networks or not is_trusted(request.remote):
            return await handler(request)
        # The right-most address not of a trusted proxy is the client (earlier ones are claims).
        hops = [
            h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()
        ]
        client = next((h for h in reversed(hops) if not is_trusted(h)), request.remote or "")
        scheme = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
        host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
        if scheme not in ("http", "https"):
            scheme = request.scheme
        return await handler(request.clone(remote=client, scheme=scheme, host=host))

    return middleware
