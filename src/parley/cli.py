"""The `parley` command."""

import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Annotated

import typer
from aiohttp import web

from parley.config import ServerSettings, default_data_dir
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
    ring_timeout: Annotated[
        float,
        typer.Option(
            envvar="PARLEY_RING_TIMEOUT", min=1.0, help="Seconds a call rings unanswered."
        ),
    ] = 30.0,
    directory: Annotated[
        bool,
        typer.Option(envvar="PARLEY_DIRECTORY", help="List online users to each other."),
    ] = True,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            envvar="PARLEY_DATA_DIR",
            help="Where the database and secret live. [~/.local/share/parley]",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="PARLEY_DATABASE_URL",
            help="postgresql://user:pass@host/db; default: SQLite in the data directory.",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(envvar="PARLEY_LOG_LEVEL")] = "info",
) -> None:
    """Run the signaling server and the browser call page."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    secret = os.environ.get("PARLEY_SECRET")
    settings = ServerSettings(
        host=host,
        port=port,
        core=CoreSettings(
            room_capacity=room_capacity,
            hello_timeout=hello_timeout,
            ring_timeout=ring_timeout,
            directory=directory,
        ),
        data_dir=data_dir or default_data_dir(),
        database_url=database_url,
        secret=secret.encode() if secret else None,
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
