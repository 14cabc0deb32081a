"""The options of `parley serve`, as typer declares them: the flag, its environment variable
and its help. Defaults and ranges are parley.config's (ServeOptions, BOUNDS)."""

from pathlib import Path
from typing import Annotated, Any

import typer

from parley.config import BOUNDS, ServeOptions
from parley.turn.urls import parse_ice_url

# Every option's default, as parley.config has it.
DEFAULT = ServeOptions()


def _checked_ice_urls(urls: list[str]) -> list[str]:
    for url in urls:
        try:
            parse_ice_url(url)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return urls


def _bounded(name: str, **option: Any) -> Any:
    """An option checked against its range in parley.config.BOUNDS as it is parsed."""
    lowest, highest = BOUNDS[name]
    return typer.Option(min=lowest, max=highest, **option)


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
    int, _bounded("turn_ttl", envvar="PARLEY_TURN_TTL", help="Seconds TURN credentials stay valid.")
]

Host = Annotated[str, typer.Option(envvar="PARLEY_HOST", help="Address to listen on.")]
Port = Annotated[int, typer.Option(envvar="PARLEY_PORT", help="TCP port; 0 picks one.")]
RoomCapacity = Annotated[
    int, _bounded("room_capacity", envvar="PARLEY_ROOM_CAPACITY", help="Members per room.")
]
HelloTimeout = Annotated[
    float,
    _bounded("hello_timeout", envvar="PARLEY_HELLO_TIMEOUT", help="Seconds to wait for hello."),
]
RingTimeout = Annotated[
    float,
    _bounded("ring_timeout", envvar="PARLEY_RING_TIMEOUT", help="Seconds a call rings unanswered."),
]
Directory = Annotated[
    bool, typer.Option(envvar="PARLEY_DIRECTORY", help="List online users to each other.")
]
Heartbeat = Annotated[
    float,
    _bounded(
        "heartbeat",
        envvar="PARLEY_HEARTBEAT",
        help="Seconds between WebSocket pings; a socket silent for 1.5x this is dropped.",
    ),
]
ResumeWindow = Annotated[
    float,
    _bounded(
        "resume_window",
        envvar="PARLEY_RESUME_WINDOW",
        help="Seconds a dropped session waits to be resumed before its peers are told "
        "(0: no resume).",
    ),
]
HistoryDays = Annotated[
    int,
    _bounded(
        "history_days",
        envvar="PARLEY_HISTORY_DAYS",
        help="Days call history is kept (0: for good).",
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        envvar="PARLEY_DATA_DIR", help="Where the database and secret live. [~/.local/share/parley]"
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        envvar="PARLEY_DATABASE_URL",
        help="postgresql://user:pass@host/db; default: SQLite in the data directory.",
    ),
]
RelayOnly = Annotated[
    bool,
    typer.Option(
        envvar="PARLEY_RELAY_ONLY",
        help="Relay every call through TURN, so that no one learns the other's IP address.",
    ),
]
AllowedOrigin = Annotated[
    list[str],
    typer.Option(
        envvar="PARLEY_ALLOWED_ORIGINS",
        help="A web origin (https://chat.example.org) whose pages may use /ws, load the SDK "
        "and frame Parley's pages; repeatable. This server's own origin always may.",
    ),
]
TrustedProxy = Annotated[
    list[str],
    typer.Option(
        envvar="PARLEY_TRUSTED_PROXIES",
        help="A reverse proxy (address or network) whose X-Forwarded-* headers to believe.",
    ),
]
ConnectionsPerClient = Annotated[
    int,
    _bounded(
        "connections_per_client",
        envvar="PARLEY_CONNECTIONS_PER_CLIENT",
        help="Sockets per IP (IPv6: per /64).",
    ),
]
NewGuestsPerClient = Annotated[
    int,
    _bounded(
        "new_guests_per_client",
        envvar="PARLEY_NEW_GUESTS_PER_CLIENT",
        help="New guests a minute per IP (IPv6: per /64).",
    ),
]
InvitesPerClient = Annotated[
    int,
    _bounded(
        "invites_per_client",
        envvar="PARLEY_INVITES_PER_CLIENT",
        help="Invites a minute per IP (IPv6: per /64), all its users together.",
    ),
]
SignInsPerClient = Annotated[
    int,
    _bounded(
        "sign_ins_per_client",
        envvar="PARLEY_SIGN_INS_PER_CLIENT",
        help="Sign-ins online for calls a minute per IP (IPv6: per /64); more are not listed.",
    ),
]
Auth = Annotated[
    str,
    typer.Option(
        envvar="PARLEY_AUTH",
        help="none: visitors pick a name. jwt: identities only from your app's tokens.",
    ),
]
JwtSecret = Annotated[
    str | None, typer.Option(envvar="PARLEY_JWT_SECRET", help="HS256 secret shared with your app.")
]
JwtPublicKey = Annotated[
    Path | None,
    typer.Option(envvar="PARLEY_JWT_PUBLIC_KEY", help="PEM public key (RS256/ES256 tokens)."),
]
JwtAudience = Annotated[
    str, typer.Option(envvar="PARLEY_JWT_AUDIENCE", help="The `aud` tokens must carry.")
]
Tls = Annotated[
    str | None,
    typer.Option(
        envvar="PARLEY_TLS",
        help="'self-signed': serve https with a certificate for this machine (LAN use).",
    ),
]
TlsCert = Annotated[
    Path | None, typer.Option(envvar="PARLEY_TLS_CERT", help="PEM certificate (chain).")
]
TlsKey = Annotated[Path | None, typer.Option(envvar="PARLEY_TLS_KEY", help="PEM key.")]
MessagesPerSecond = Annotated[
    float,
    _bounded(
        "messages_per_second",
        envvar="PARLEY_MESSAGES_PER_SECOND",
        help="Average messages a second one socket may send; a sustained flood gets 1008.",
    ),
]
MessageBurst = Annotated[
    float, _bounded("message_burst", envvar="PARLEY_MESSAGE_BURST", help="Burst size allowed.")
]
MetricsToken = Annotated[
    str | None,
    typer.Option(
        envvar="PARLEY_METRICS_TOKEN",
        help="Require this bearer token on /metrics (otherwise keep /metrics internal).",
    ),
]
WebhookUrl = Annotated[
    list[str],
    typer.Option(
        envvar="PARLEY_WEBHOOK_URLS",
        help="POST signed call and room events here (at least once each); repeatable.",
    ),
]
WebhookSecret = Annotated[
    str | None,
    typer.Option(
        envvar="PARLEY_WEBHOOK_SECRET",
        help="Signs each webhook (Parley-Signature header); receivers verify with it.",
    ),
]
WebhookTimeout = Annotated[
    float,
    _bounded(
        "webhook_timeout",
        envvar="PARLEY_WEBHOOK_TIMEOUT",
        help="Seconds a webhook receiver has to answer an attempt.",
    ),
]
WebhookRetry = Annotated[
    float,
    _bounded(
        "webhook_retry",
        envvar="PARLEY_WEBHOOK_RETRY",
        help="Seconds before the first retry; each next waits twice as long, for up to 24 h.",
    ),
]
ApiToken = Annotated[
    str | None,
    typer.Option(
        envvar="PARLEY_API_TOKEN",
        help="Bearer token of the app API (/api/v1/) for your app's backend; unset: API off.",
    ),
]
ApiRequestsPerMinute = Annotated[
    int,
    _bounded(
        "api_requests_per_minute",
        envvar="PARLEY_API_REQUESTS_PER_MINUTE",
        help="Requests a minute the app API answers in all; more get 429.",
    ),
]
RedisUrl = Annotated[
    str | None,
    typer.Option(
        envvar="PARLEY_REDIS_URL",
        help="redis://host:6379/0: run as one node of a cluster; every node given the same "
        "Redis shares rooms, presence and calls.",
    ),
]
Workers = Annotated[
    int,
    _bounded(
        "workers",
        envvar="PARLEY_WORKERS",
        help="Processes sharing the port (SO_REUSEPORT); more than one needs --redis-url.",
    ),
]
LogLevel = Annotated[str, typer.Option(envvar="PARLEY_LOG_LEVEL")]
LogFormat = Annotated[
    str, typer.Option(envvar="PARLEY_LOG_FORMAT", help="text, or json: one JSON object per line.")
]
