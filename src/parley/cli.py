"""The `parley` command."""

import asyncio
import os
import signal
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from aiohttp import web
from rich.console import Console
from rich.table import Table

from parley.config import ServerSettings, default_data_dir
from parley.core.signaling import CoreSettings
from parley.identity import mint_token
from parley.logs import configure_logging
from parley.peer.cli import register as register_peer_commands
from parley.protocol.messages import IceServer
from parley.server.app import create_app
from parley.server.collector import CollectorPolicy
from parley.server.descriptors import grow_descriptor_table
from parley.server.site import signaling_site
from parley.server.tls import self_signed_certificate, server_context
from parley.turn.coturn import (
    CoturnSettings,
    installed_coturn_version,
    parse_version,
    render_config,
)
from parley.turn.credentials import TurnCredentialIssuer
from parley.turn.ice_probe import probe
from parley.turn.urls import parse_ice_url
from parley.workers import supervise_workers

app = typer.Typer(help="Parley: self-hosted WebRTC voice and video calls.", no_args_is_help=True)


def _checked_ice_urls(urls: list[str]) -> list[str]:
    for url in urls:
        try:
            parse_ice_url(url)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return urls


# Shared by `serve` and `ice-test`, so the tester checks exactly what clients will be given.
StunUrls = Annotated[
    list[str],
    typer.Option(
        "--stun",
        envvar="PARLEY_STUN_URLS",
        callback=_checked_ice_urls,
        help="A STUN server (stun:host:port); repeat for more. None by default.",
    ),
]
TurnUrls = Annotated[
    list[str],
    typer.Option(
        "--turn",
        envvar="PARLEY_TURN_URLS",
        callback=_checked_ice_urls,
        help="A TURN server (turn:host:3478?transport=udp, turns:host:443); repeat for more.",
    ),
]
TurnSecret = Annotated[
    str | None,
    typer.Option(
        envvar="PARLEY_TURN_SECRET",
        help="coturn's static-auth-secret: Parley issues time-limited credentials with it.",
    ),
]
TurnTtl = Annotated[
    int,
    typer.Option(envvar="PARLEY_TURN_TTL", min=60, help="Seconds TURN credentials stay valid."),
]


@app.callback()
def main() -> None:
    """Parley: self-hosted WebRTC voice and video calls."""


register_peer_commands(app)


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
    heartbeat: Annotated[
        float,
        typer.Option(
            envvar="PARLEY_HEARTBEAT",
            min=0.2,
            help="Seconds between WebSocket pings; a socket silent for 1.5x this is dropped.",
        ),
    ] = 20.0,
    resume_window: Annotated[
        float,
        typer.Option(
            envvar="PARLEY_RESUME_WINDOW",
            min=0.0,
            help="Seconds a dropped session waits to be resumed before its peers are told "
            "(0: no resume).",
        ),
    ] = 30.0,
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
    stun: StunUrls = [],  # noqa: B006 - typer reads defaults, never mutates them
    turn: TurnUrls = [],  # noqa: B006
    turn_secret: TurnSecret = None,
    turn_ttl: TurnTtl = 3600,
    relay_only: Annotated[
        bool,
        typer.Option(
            envvar="PARLEY_RELAY_ONLY",
            help="Relay every call through TURN, so that no one learns the other's IP address.",
        ),
    ] = False,
    allowed_origin: Annotated[
        list[str],
        typer.Option(
            envvar="PARLEY_ALLOWED_ORIGINS",
            help="A web origin (https://chat.example.org) whose pages may use /ws; repeatable. "
            "Default: only this server's own.",
        ),
    ] = [],  # noqa: B006
    trusted_proxy: Annotated[
        list[str],
        typer.Option(
            envvar="PARLEY_TRUSTED_PROXIES",
            help="A reverse proxy (address or network) whose X-Forwarded-* headers to believe.",
        ),
    ] = [],  # noqa: B006
    connections_per_client: Annotated[
        int,
        typer.Option(
            envvar="PARLEY_CONNECTIONS_PER_CLIENT", min=1, help="Sockets per IP (IPv6: per /64)."
        ),
    ] = 20,
    auth: Annotated[
        str,
        typer.Option(
            envvar="PARLEY_AUTH",
            help="none: visitors pick a name. jwt: identities only from your app's tokens.",
        ),
    ] = "none",
    jwt_secret: Annotated[
        str | None,
        typer.Option(envvar="PARLEY_JWT_SECRET", help="HS256 secret shared with your app."),
    ] = None,
    jwt_public_key: Annotated[
        Path | None,
        typer.Option(envvar="PARLEY_JWT_PUBLIC_KEY", help="PEM public key (RS256/ES256 tokens)."),
    ] = None,
    jwt_audience: Annotated[
        str, typer.Option(envvar="PARLEY_JWT_AUDIENCE", help="The `aud` tokens must carry.")
    ] = "parley",
    tls: Annotated[
        str | None,
        typer.Option(
            envvar="PARLEY_TLS",
            help="'self-signed': serve https with a certificate for this machine (LAN use).",
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(envvar="PARLEY_TLS_CERT", help="PEM certificate (chain).")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(envvar="PARLEY_TLS_KEY", help="PEM key.")] = None,
    messages_per_second: Annotated[
        float,
        typer.Option(
            envvar="PARLEY_MESSAGES_PER_SECOND",
            min=1.0,
            help="Average messages a second one socket may send; a sustained flood gets 1008.",
        ),
    ] = 50.0,
    message_burst: Annotated[
        float, typer.Option(envvar="PARLEY_MESSAGE_BURST", min=1.0, help="Burst size allowed.")
    ] = 200.0,
    metrics_token: Annotated[
        str | None,
        typer.Option(
            envvar="PARLEY_METRICS_TOKEN",
            help="Require this bearer token on /metrics (otherwise keep /metrics internal).",
        ),
    ] = None,
    redis_url: Annotated[
        str | None,
        typer.Option(
            envvar="PARLEY_REDIS_URL",
            help="redis://host:6379/0: run as one node of a cluster; every node given the same "
            "Redis shares rooms, presence and calls.",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            envvar="PARLEY_WORKERS",
            min=1,
            max=64,
            help="Processes sharing the port (SO_REUSEPORT); more than one needs --redis-url.",
        ),
    ] = 1,
    log_level: Annotated[str, typer.Option(envvar="PARLEY_LOG_LEVEL")] = "info",
    log_format: Annotated[
        str,
        typer.Option(envvar="PARLEY_LOG_FORMAT", help="text, or json: one JSON object per line."),
    ] = "text",
) -> None:
    """Run the signaling server and the browser call page."""
    if tls not in (None, "self-signed"):
        raise typer.BadParameter("--tls takes 'self-signed' (or use --tls-cert/--tls-key)")
    if bool(tls_cert) != bool(tls_key):
        raise typer.BadParameter("--tls-cert and --tls-key go together")
    if auth not in ("none", "jwt"):
        raise typer.BadParameter("--auth is none or jwt")
    if auth == "jwt" and not (jwt_secret or jwt_public_key):
        raise typer.BadParameter("--auth jwt needs --jwt-secret or --jwt-public-key")
    if turn and not turn_secret:
        raise typer.BadParameter("--turn needs --turn-secret (coturn's static-auth-secret)")
    if relay_only and not turn:
        raise typer.BadParameter("--relay-only needs a TURN server (--turn)")
    if log_format not in ("text", "json"):
        raise typer.BadParameter("--log-format is text or json")
    if workers > 1 and not redis_url:
        raise typer.BadParameter("--workers above 1 needs --redis-url: workers share state there")
    if workers > 1 and port == 0:
        raise typer.BadParameter("--workers above 1 needs a fixed --port to share")
    configure_logging(log_level, json_lines=log_format == "json")
    secret = os.environ.get("PARLEY_SECRET")
    settings = ServerSettings(
        host=host,
        port=port,
        core=CoreSettings(
            room_capacity=room_capacity,
            hello_timeout=hello_timeout,
            ring_timeout=ring_timeout,
            directory=directory,
            ice_servers=tuple(IceServer(urls=[url]) for url in stun),
            turn=(
                TurnCredentialIssuer(tuple(turn), turn_secret.encode(), turn_ttl)
                if turn and turn_secret
                else None
            ),
            relay_only=relay_only,
            resume_window=resume_window,
        ),
        heartbeat_seconds=heartbeat,
        data_dir=data_dir or default_data_dir(),
        allowed_origins=tuple(allowed_origin),
        connections_per_client=connections_per_client,
        trusted_proxies=tuple(trusted_proxy),
        messages_per_second=messages_per_second,
        message_burst=message_burst,
        auth=auth,
        jwt_key=jwt_public_key.read_text() if jwt_public_key else jwt_secret,
        jwt_algorithms=("RS256", "ES256") if jwt_public_key else ("HS256",),
        jwt_audience=jwt_audience,
        database_url=database_url,
        secret=secret.encode() if secret else None,
        metrics_token=metrics_token,
        redis_url=redis_url,
    )
    context = None
    if tls == "self-signed":
        cert, key = self_signed_certificate(settings.data_dir / "tls")
        context = server_context(cert, key)
        typer.echo(f"self-signed certificate: {cert}", err=True)
    elif tls_cert and tls_key:
        context = server_context(tls_cert, tls_key)
    if workers > 1:
        settings.resolved_secret()  # made once here, not raced for by the workers
        supervise_workers(workers, lambda: _run_server(settings, context, reuse_port=True))
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


@app.command("turn-config")
def turn_config(
    realm: Annotated[str, typer.Option(envvar="PARLEY_TURN_REALM", help="e.g. your domain.")],
    turn_secret: TurnSecret = None,
    external_ip: Annotated[
        str | None, typer.Option(help="The public address, when coturn is behind NAT.")
    ] = None,
    listening_ip: Annotated[list[str], typer.Option(help="Addresses to listen on.")] = [],  # noqa: B006
    relay_ip: Annotated[list[str], typer.Option(help="Addresses to relay from.")] = [],  # noqa: B006
    port: Annotated[int, typer.Option(help="STUN/TURN port (UDP and TCP).")] = 3478,
    tls_port: Annotated[int, typer.Option(help="TURN over TLS port (with --cert).")] = 5349,
    min_port: Annotated[int, typer.Option(help="First relay port.")] = 49152,
    max_port: Annotated[int, typer.Option(help="Last relay port.")] = 65535,
    user_quota: Annotated[int, typer.Option(help="Allocations per user.")] = 12,
    total_quota: Annotated[int, typer.Option(help="Allocations in all.")] = 1200,
    max_bps: Annotated[int, typer.Option(help="Bits/s per session.")] = 3_000_000,
    bps_capacity: Annotated[int, typer.Option(help="Bits/s in all (0: no cap).")] = 0,
    cert: Annotated[str | None, typer.Option(help="TLS certificate for turns:.")] = None,
    pkey: Annotated[str | None, typer.Option(help="TLS private key for turns:.")] = None,
    allow_peer: Annotated[
        list[str], typer.Option(help="A peer address to relay to despite the deny list.")
    ] = [],  # noqa: B006
    coturn_version: Annotated[
        str | None, typer.Option(help="Write for this coturn version instead of the installed one.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
) -> None:
    """Write a hardened coturn turnserver.conf that matches Parley's TURN settings."""
    if not turn_secret:
        raise typer.BadParameter(
            "give --turn-secret (or PARLEY_TURN_SECRET); e.g. from `openssl rand -hex 32`, "
            "and the same secret to `parley serve`"
        )
    version = parse_version(coturn_version) if coturn_version else installed_coturn_version()
    config = render_config(
        CoturnSettings(
            realm=realm,
            secret=turn_secret,
            listening_port=port,
            tls_listening_port=tls_port,
            listening_ips=tuple(listening_ip),
            external_ip=external_ip,
            relay_ips=tuple(relay_ip),
            min_port=min_port,
            max_port=max_port,
            user_quota=user_quota,
            total_quota=total_quota,
            max_bps=max_bps,
            bps_capacity=bps_capacity,
            cert=cert,
            pkey=pkey,
            allowed_peer_ips=tuple(allow_peer),
        ),
        version,
    )
    if out is None:
        typer.echo(config, nl=False)
    else:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the secret
        with os.fdopen(fd, "w") as handle:
            handle.write(config)
        typer.echo(f"wrote {out}", err=True)
    if version is None:
        typer.echo("coturn not found: wrote the config for an unknown (old) version", err=True)


@app.command("ice-test")
def ice_test(
    stun: StunUrls = [],  # noqa: B006
    turn: TurnUrls = [],  # noqa: B006
    turn_secret: TurnSecret = None,
    username: Annotated[
        str | None, typer.Option(help="A fixed TURN username (instead of --turn-secret).")
    ] = None,
    password: Annotated[str | None, typer.Option(help="The password for --username.")] = None,
    step_seconds: Annotated[float, typer.Option(help="Time allowed for each step.")] = 5.0,
) -> None:
    """Gather ICE candidates with the configured servers and say what is wrong, if anything."""
    if turn and turn_secret and not username:
        issued = TurnCredentialIssuer(tuple(turn), turn_secret.encode(), 600).issue(
            "ice-test", time.time()
        )
        username, password = issued.username, issued.credential
    report = asyncio.run(probe(stun, turn, username, password, step_seconds))
    table = Table("type", "protocol", "address", "port", "priority", "time", "via")
    for c in report.candidates:
        table.add_row(
            c.type, c.protocol, c.address, str(c.port), str(c.priority), f"{c.after_ms} ms", c.via
        )
    console = Console()
    console.print(table)
    for problem in report.problems:
        console.print(f"[red]✗[/red] {problem}")
    kinds = sorted({c.type for c in report.candidates})
    if report.problems:
        raise typer.Exit(1)
    console.print(f"[green]✓[/green] candidates found: {', '.join(kinds) or 'none'}")


@app.command("token")
def token(
    user: Annotated[str, typer.Option(help="The user id (the token's `sub`).")],
    name: Annotated[str, typer.Option(help="The display name.")] = "",
    jwt_secret: Annotated[
        str | None, typer.Option(envvar="PARLEY_JWT_SECRET", help="The HS256 secret.")
    ] = None,
    jwt_audience: Annotated[str, typer.Option(envvar="PARLEY_JWT_AUDIENCE")] = "parley",
    ttl: Annotated[int, typer.Option(min=1, help="Seconds the token is valid.")] = 3600,
) -> None:
    """Mint a test token as a host app would (HS256), to try `--auth jwt`."""
    if not jwt_secret:
        raise typer.BadParameter("give --jwt-secret (or PARLEY_JWT_SECRET)")
    typer.echo(mint_token(jwt_secret, user, name or user, jwt_audience, ttl, time.time()))
