"""`parley serve`: the signaling server and the browser call page, in one process or several.

Nothing here imports the Python peer (aiortc, PyAV): tests/server/test_cli.py runs
`parley serve` and checks.
"""

import asyncio
import os
import signal
import ssl
from collections.abc import Callable

import typer
from aiohttp import web

from parley.assemble import create_app
from parley.cli import options
from parley.cli.options import DEFAULT
from parley.config import ServeOptions, ServerSettings, SettingsError
from parley.logs import configure_logging
from parley.server.collector import CollectorPolicy
from parley.server.descriptors import grow_descriptor_table
from parley.server.site import signaling_site
from parley.server.tls import self_signed_certificate, server_context
from parley.workers import supervise_workers


# One parameter per option (typer reads them from the signature): the list is as long as the
# options are many. Each parameter is the ServeOptions field of the same name, which
# tests/server/test_cli.py checks.
def serve(
    host: options.Host = DEFAULT.host,
    port: options.Port = DEFAULT.port,
    room_capacity: options.RoomCapacity = DEFAULT.room_capacity,
    hello_timeout: options.HelloTimeout = DEFAULT.hello_timeout,
    ring_timeout: options.RingTimeout = DEFAULT.ring_timeout,
    directory: options.Directory = DEFAULT.directory,
    heartbeat: options.Heartbeat = DEFAULT.heartbeat,
    resume_window: options.ResumeWindow = DEFAULT.resume_window,
    data_dir: options.DataDir = DEFAULT.data_dir,
    database_url: options.DatabaseUrl = DEFAULT.database_url,
    stun: options.StunUrls = [],  # noqa: B006 - typer reads defaults, never mutates them
    turn: options.TurnUrls = [],  # noqa: B006
    turn_secret: options.TurnSecret = DEFAULT.turn_secret,
    turn_ttl: options.TurnTtl = DEFAULT.turn_ttl,
    relay_only: options.RelayOnly = DEFAULT.relay_only,
    allowed_origin: options.AllowedOrigin = [],  # noqa: B006
    trusted_proxy: options.TrustedProxy = [],  # noqa: B006
    connections_per_client: options.ConnectionsPerClient = DEFAULT.connections_per_client,
    new_guests_per_client: options.NewGuestsPerClient = DEFAULT.new_guests_per_client,
    invites_per_client: options.InvitesPerClient = DEFAULT.invites_per_client,
    sign_ins_per_client: options.SignInsPerClient = DEFAULT.sign_ins_per_client,
    auth: options.Auth = DEFAULT.auth,
    jwt_secret: options.JwtSecret = DEFAULT.jwt_secret,
    jwt_public_key: options.JwtPublicKey = DEFAULT.jwt_public_key,
    jwt_audience: options.JwtAudience = DEFAULT.jwt_audience,
    tls: options.Tls = DEFAULT.tls,
    tls_cert: options.TlsCert = DEFAULT.tls_cert,
    tls_key: options.TlsKey = DEFAULT.tls_key,
    history_days: options.HistoryDays = DEFAULT.history_days,
    messages_per_second: options.MessagesPerSecond = DEFAULT.messages_per_second,
    message_burst: options.MessageBurst = DEFAULT.message_burst,
    metrics_token: options.MetricsToken = DEFAULT.metrics_token,
    webhook_url: options.WebhookUrl = [],  # noqa: B006
    webhook_secret: options.WebhookSecret = DEFAULT.webhook_secret,
    webhook_timeout: options.WebhookTimeout = DEFAULT.webhook_timeout,
    webhook_retry: options.WebhookRetry = DEFAULT.webhook_retry,
    api_token: options.ApiToken = DEFAULT.api_token,
    api_requests_per_minute: options.ApiRequestsPerMinute = DEFAULT.api_requests_per_minute,
    redis_url: options.RedisUrl = DEFAULT.redis_url,
    workers: options.Workers = DEFAULT.workers,
    log_level: options.LogLevel = DEFAULT.log_level,
    log_format: options.LogFormat = DEFAULT.log_format,
) -> None:
    """Run the signaling server and the browser call page."""
    try:
        chosen = ServeOptions(**locals())
    except SettingsError as error:
        raise typer.BadParameter(str(error)) from None
    run(chosen)


def run(chosen: ServeOptions) -> None:
    """Serves until SIGTERM or SIGINT: in this process, or in `workers` forked ones."""
    configure_logging(chosen.log_level, json_lines=chosen.log_format == "json")
    secret = os.environ.get("PARLEY_SECRET")
    settings = chosen.server_settings(secret.encode() if secret else None)
    context = None
    if chosen.tls == "self-signed":
        cert, key = self_signed_certificate(settings.data_dir / "tls")
        context = server_context(cert, key)
        typer.echo(f"self-signed certificate: {cert}", err=True)
    elif chosen.tls_cert and chosen.tls_key:
        context = server_context(chosen.tls_cert, chosen.tls_key)
    if chosen.workers > 1:
        settings.resolved_secret()  # made once here, not raced for by the workers
        supervise_workers(chosen.workers, lambda: _run_server(settings, context, reuse_port=True))
        return
    _run_server(settings, context)


def _run_server(
    settings: ServerSettings, context: ssl.SSLContext | None, reuse_port: bool = False
) -> None:
    grow_descriptor_table()
    with asyncio.Runner(loop_factory=_fast_loop_factory()) as runner:
        runner.run(_serve(settings, context, reuse_port))


def _fast_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (Linux, macOS): a cheaper event loop per relayed message."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _serve(
    settings: ServerSettings, context: ssl.SSLContext | None, reuse_port: bool = False
) -> None:
    runner = web.AppRunner(create_app(settings), access_log=None, handle_signals=False)
    await runner.setup()
    site = signaling_site(
        runner, settings.host, settings.port, ssl_context=context, reuse_port=reuse_port or None
    )
    await site.start()
    collector = CollectorPolicy()
    collector.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    for host, port, *_ in runner.addresses:
        shown = f"[{host}]" if ":" in host else host
        # The bound port is printed because --port 0 lets the OS choose it.
        scheme = "https" if context else "http"
        print(f"Parley listening on {scheme}://{shown}:{port}/", flush=True)
    try:
        await stop.wait()
    finally:
        collector.stop()
        await runner.cleanup()
