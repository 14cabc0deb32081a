"""The `parley` command."""

import asyncio
import logging
import signal
from typing import Annotated

import typer
from aiohttp import web

from parley.config import ServerSettings
from parley.core.signaling import CoreSettings
from parley.server.app import create_app

app = typer.Typer(help="Parley: self-hosted WebRTC voice and video calls.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Parley: self-hosted WebRTC voice and video calls."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="PARLEY_HOST", help="Address to listen on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(envvar="PARLEY_PORT", help="TCP port; 0 picks one.")] = 8080,
    room_capacity: Annotated[
        int, typer.Option(envvar="PARLEY_ROOM_CAPACITY", min=2, max=16, help="Members per room.")
    ] = 2,
    hello_timeout: Annotated[
        float,
        typer.Option(envvar="PARLEY_HELLO_TIMEOUT", min=0.1, help="Seconds to wait for hello."),
    ] = 10.0,
    log_level: Annotated[str, typer.Option(envvar="PARLEY_LOG_LEVEL")] = "info",
) -> None:
    """Run the signaling server and the browser call page."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = ServerSettings(
        host=host,
        port=port,
        core=CoreSettings(room_capacity=room_capacity, hello_timeout=hello_timeout),
    )
    asyncio.run(_serve(settings))


async def _serve(settings: ServerSettings) -> None:
    runner = web.AppRunner(create_app(settings), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    for host, port, *_ in runner.addresses:
        shown = f"[{host}]" if ":" in host else host
        # The bound port is printed because --port 0 lets the OS choose it.
        print(f"Parley listening on http://{shown}:{port}/", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
