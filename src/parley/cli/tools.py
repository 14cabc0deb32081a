"""`parley turn-config`, `parley ice-test` and `parley token`: setting up TURN and JWT sign-in,
and checking them."""

import asyncio
import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from parley.cli.options import DEFAULT, StunUrls, TurnSecret, TurnUrls
from parley.identity import mint_token
from parley.turn.coturn import (
    CoturnSettings,
    installed_coturn_version,
    parse_version,
    render_config,
)
from parley.turn.credentials import TurnCredentialIssuer

# The defaults of `turn-config` are CoturnSettings' own: one place to change them.
_TURN = CoturnSettings(realm="", secret="")


# Over 60 lines: one typer option per coturn setting, then one call that passes them on.
def turn_config(
    realm: Annotated[str, typer.Option(envvar="PARLEY_TURN_REALM", help="e.g. your domain.")],
    turn_secret: TurnSecret = None,
    external_ip: Annotated[
        str | None, typer.Option(help="The public address, when coturn is behind NAT.")
    ] = None,
    listening_ip: Annotated[list[str], typer.Option(help="Addresses to listen on.")] = [],  # noqa: B006
    relay_ip: Annotated[list[str], typer.Option(help="Addresses to relay from.")] = [],  # noqa: B006
    port: Annotated[int, typer.Option(help="STUN/TURN port (UDP and TCP).")] = _TURN.listening_port,
    tls_port: Annotated[
        int, typer.Option(help="TURN over TLS port (with --cert).")
    ] = _TURN.tls_listening_port,
    min_port: Annotated[int, typer.Option(help="First relay port.")] = _TURN.min_port,
    max_port: Annotated[int, typer.Option(help="Last relay port.")] = _TURN.max_port,
    user_quota: Annotated[int, typer.Option(help="Allocations per user.")] = _TURN.user_quota,
    total_quota: Annotated[int, typer.Option(help="Allocations in all.")] = _TURN.total_quota,
    max_bps: Annotated[
        int, typer.Option(help="BYTES/s per session, as coturn reads it (375000 = 3 Mbit/s).")
    ] = _TURN.max_bps,
    bps_capacity: Annotated[
        int, typer.Option(help="BYTES/s for the whole relay (12500000 = 100 Mbit/s; 0: no cap).")
    ] = _TURN.bps_capacity,
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
    # Loaded here: the probe brings aioice, which no other command needs.
    from parley.turn.ice_probe import probe

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


def token(
    user: Annotated[str, typer.Option(help="The user id (the token's `sub`).")],
    name: Annotated[str, typer.Option(help="The display name.")] = "",
    jwt_secret: Annotated[
        str | None, typer.Option(envvar="PARLEY_JWT_SECRET", help="The HS256 secret.")
    ] = None,
    jwt_audience: Annotated[str, typer.Option(envvar="PARLEY_JWT_AUDIENCE")] = DEFAULT.jwt_audience,
    ttl: Annotated[int, typer.Option(min=1, help="Seconds the token is valid.")] = 3600,
) -> None:
    """Mint a test token as a host app would (HS256), to try `--auth jwt`."""
    if not jwt_secret:
        raise typer.BadParameter("give --jwt-secret (or PARLEY_JWT_SECRET)")
    typer.echo(mint_token(jwt_secret, user, name or user, jwt_audience, ttl, time.time()))
