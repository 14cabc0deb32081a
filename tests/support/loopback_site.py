"""A test's own aiohttp app served on loopback: a free port (or a given one), and never another
interface, since the tests send traffic only to loopback or to namespaces they make."""

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web


@asynccontextmanager
async def serving_on_loopback(
    app: web.Application, address: str = "127.0.0.1", port: int = 0, *, shutdown_timeout: float = 60
) -> AsyncIterator[str]:
    """Serves `app` on `address`, which must be a loopback address; yields `http://host:port`.
    A short `shutdown_timeout` lets a test end while a handler still hangs on purpose."""
    assert ipaddress.ip_address(address).is_loopback, f"{address} is not a loopback address"
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, address, port).start()
        host, bound = runner.addresses[0][:2]
        assert port in (0, bound), f"asked for port {port}, bound {bound}"
        yield f"http://{host}:{bound}"
    finally:
        await runner.cleanup()
