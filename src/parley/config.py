"""Server settings. Every one has an embedded default, so `parley serve` needs no config file.

The defaults, the ranges and the rules between settings live here, once: ServerSettings is
what the server runs with, ServeOptions what an operator gives `parley serve` (its options read
their defaults and ranges from here, and its errors are ServeOptions's).
"""

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from parley.core.signaling import CoreSettings
from parley.protocol.messages import IceServer
from parley.turn.credentials import TurnCredentialIssuer


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "parley"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    core: CoreSettings = field(default_factory=CoreSettings)
    data_dir: Path = field(default_factory=default_data_dir)
    # None: SQLite in data_dir. Otherwise an SQLAlchemy URL (postgresql://…, sqlite:///…).
    database_url: str | None = None
    # None: read from data_dir/secret.key, created on first run.
    secret: bytes | None = None
    # A 1:1 call's signaling is a few KB; 1 MiB queued means the client has stopped reading.
    outbox_max_bytes: int = 1024 * 1024
    heartbeat_seconds: float = 20.0
    # Origins whose pages may open /ws (and frame the pages, load the SDK), besides the
    # server's own. A request without an Origin header is not a browser page (the Python
    # peer, scripts) and is let in.
    allowed_origins: tuple[str, ...] = ()
    connections_per_client: int = 20
    # Reverse proxies (addresses or networks) whose X-Forwarded-* headers are believed.
    trusted_proxies: tuple[str, ...] = ()
    # "none": visitors pick a name (signed guest ids). "jwt": identities only from host-app tokens.
    auth: str = "none"
    jwt_key: str | None = None  # the HS256 secret, or a PEM public key for RS256/ES256
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_audience: str = "parley"
    # Trickle ICE sends bursts of a few dozen candidates; a sustained flood is something else.
    messages_per_second: float = 50.0
    message_burst: float = 200.0
    # When set, /metrics answers only `Authorization: Bearer <token>` (Prometheus: bearer_token).
    metrics_token: str | None = None
    # redis://host:6379/0: run as one node of a cluster sharing rooms, presence and calls.
    redis_url: str | None = None
    # Call history older than this many days is deleted (hourly); 0 keeps it for good. 90 days
    # answers "when did we last talk" and keeps the table bounded.
    history_days: int = 90
    # Where call and room events are POSTed (signed with webhook_secret), at least once each.
    webhook_urls: tuple[str, ...] = ()
    webhook_secret: str | None = None
    # A receiver slower than this counts as down for that attempt: 10 s is what GitHub and
    # Stripe allow theirs.
    webhook_timeout_seconds: float = 10.0
    # The first retry waits this long, each next one twice as long (with jitter), up to an
    # hour between attempts; an event still undelivered after webhook_give_up_seconds is failed.
    webhook_first_retry_seconds: float = 5.0
    webhook_give_up_seconds: float = 24 * 3600.0
    # The bearer token of the app API (/api/v1/); None: the app API is off.
    api_token: str | None = None
    # Requests a minute the app API answers in all: a host app's backend polls a few a second.
    api_requests_per_minute: int = 600

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'parley.db'}"

    def resolved_secret(self) -> bytes:
        """The server's signing secret: given, or kept in the data directory across restarts."""
        if self.secret is not None:
            return self.secret
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
        return bytes.fromhex(path.read_text().strip())


class SettingsError(ValueError):
    """Options out of range, or that contradict each other; the message names the options."""


# What `parley serve` accepts for each bounded option: (lowest, highest or None).
BOUNDS: dict[str, tuple[float, float | None]] = {
    "room_capacity": (2, 16),
    "hello_timeout": (0.1, None),
    "ring_timeout": (1.0, None),
    "heartbeat": (0.2, None),
    "resume_window": (0.0, None),
    "turn_ttl": (60, None),
    "connections_per_client": (1, None),
    "new_guests_per_client": (1, None),
    "invites_per_client": (1, None),
    "sign_ins_per_client": (1, None),
    "messages_per_second": (1.0, None),
    "message_burst": (1.0, None),
    "workers": (1, 64),
    "history_days": (0, None),
    "webhook_timeout": (0.1, 60.0),
    "webhook_retry": (0.1, 3600.0),
    "api_requests_per_minute": (1, None),
}
# Shorter bearer tokens can be guessed; 32 hex digits are 128 bits.
API_TOKEN_MIN_LENGTH = 16
_CORE = CoreSettings()
_SERVER = ServerSettings()


def _default_turn_lifetime() -> int:
    (lifetime,) = (f.default for f in fields(TurnCredentialIssuer) if f.name == "lifetime")
    assert isinstance(lifetime, int)
    return lifetime


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """The options of `parley serve`, one field each (same name), and what they make."""

    host: str = _SERVER.host
    port: int = _SERVER.port  # 0: the OS picks one
    room_capacity: int = _CORE.room_capacity
    hello_timeout: float = _CORE.hello_timeout
    ring_timeout: float = _CORE.ring_timeout
    directory: bool = _CORE.directory
    heartbeat: float = _SERVER.heartbeat_seconds
    resume_window: float = _CORE.resume_window
    data_dir: Path | None = None  # None: default_data_dir(), read when serving starts
    database_url: str | None = _SERVER.database_url
    stun: Sequence[str] = ()
    turn: Sequence[str] = ()
    turn_secret: str | None = None
    turn_ttl: int = field(default_factory=_default_turn_lifetime)
    relay_only: bool = _CORE.relay_only
    allowed_origin: Sequence[str] = _SERVER.allowed_origins
    trusted_proxy: Sequence[str] = _SERVER.trusted_proxies
    connections_per_client: int = _SERVER.connections_per_client
    new_guests_per_client: int = _CORE.new_guests_per_minute_per_client
    invites_per_client: int = _CORE.invites_per_minute_per_client
    sign_ins_per_client: int = _CORE.sign_ins_per_minute_per_client
    auth: str = _SERVER.auth
    jwt_secret: str | None = None
    jwt_public_key: Path | None = None
    jwt_audience: str = _SERVER.jwt_audience
    tls: str | None = None  # "self-signed", or None (then tls_cert and tls_key, if given)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    history_days: int = _SERVER.history_days
    messages_per_second: float = _SERVER.messages_per_second
    message_burst: float = _SERVER.message_burst
    metrics_token: str | None = _SERVER.metrics_token
    webhook_url: Sequence[str] = _SERVER.webhook_urls
    webhook_secret: str | None = _SERVER.webhook_secret
    webhook_timeout: float = _SERVER.webhook_timeout_seconds
    webhook_retry: float = _SERVER.webhook_first_retry_seconds
    api_token: str | None = _SERVER.api_token
    api_requests_per_minute: int = _SERVER.api_requests_per_minute
    redis_url: str | None = _SERVER.redis_url
    workers: int = 1
    log_level: str = "info"
    log_format: str = "text"

    def __post_init__(self) -> None:
        for name, (lowest, highest) in BOUNDS.items():
            value = getattr(self, name)
            if value < lowest or (highest is not None and value > highest):
                within = f"{lowest} to {highest}" if highest is not None else f"at least {lowest}"
                raise SettingsError(f"--{name.replace('_', '-')} is {within}, not {value}")
        for problem in self._contradictions():
            raise SettingsError(problem)

    def _contradictions(self) -> list[str]:
        rules = [
            (self.tls not in (None, "self-signed"),
             "--tls takes 'self-signed' (or use --tls-cert/--tls-key)"),
            (bool(self.tls_cert) != bool(self.tls_key), "--tls-cert and --tls-key go together"),
            (self.auth not in ("none", "jwt"), "--auth is none or jwt"),
            (self.auth == "jwt" and not (self.jwt_secret or self.jwt_public_key),
             "--auth jwt needs --jwt-secret or --jwt-public-key"),
            (bool(self.turn) and not self.turn_secret,
             "--turn needs --turn-secret (coturn's static-auth-secret)"),
            (self.relay_only and not self.turn, "--relay-only needs a TURN server (--turn)"),
            (self.log_format not in ("text", "json"), "--log-format is text or json"),
            (self.workers > 1 and not self.redis_url,
             "--workers above 1 needs --redis-url: workers share state there"),
            (bool(self.webhook_url) and not self.webhook_secret,
             "--webhook-url needs --webhook-secret: receivers verify each event with it"),
            (any(not url.startswith(("http://", "https://")) for url in self.webhook_url),
             "--webhook-url is an http:// or https:// URL"),
            (self.api_token is not None and len(self.api_token) < API_TOKEN_MIN_LENGTH,
             f"--api-token needs at least {API_TOKEN_MIN_LENGTH} characters"),
            (self.workers > 1 and self.port == 0,
             "--workers above 1 needs a fixed --port to share"),
        ]  # fmt: skip
        return [problem for broken, problem in rules if broken]

    def server_settings(self, secret: bytes | None) -> ServerSettings:
        """What the server runs with; `secret` signs guest tokens (None: the data directory's).
        Reads the JWT public key file, if one is given."""
        turn = (
            TurnCredentialIssuer(tuple(self.turn), self.turn_secret.encode(), self.turn_ttl)
            if self.turn and self.turn_secret
            else None
        )
        core = CoreSettings(
            room_capacity=self.room_capacity,
            hello_timeout=self.hello_timeout,
            ring_timeout=self.ring_timeout,
            directory=self.directory,
            ice_servers=tuple(IceServer(urls=[url]) for url in self.stun),
            turn=turn,
            relay_only=self.relay_only,
            resume_window=self.resume_window,
            # A total below one address's allowance would make that allowance a lie: raising
            # the one raises the other with it.
            new_guests_per_minute_per_client=self.new_guests_per_client,
            new_guests_per_minute_in_all=max(
                _CORE.new_guests_per_minute_in_all, self.new_guests_per_client
            ),
            invites_per_minute_per_client=self.invites_per_client,
            invites_per_minute_in_all=max(_CORE.invites_per_minute_in_all, self.invites_per_client),
            sign_ins_per_minute_per_client=self.sign_ins_per_client,
            sign_ins_per_minute_in_all=max(
                _CORE.sign_ins_per_minute_in_all, self.sign_ins_per_client
            ),
        )
        public_key = self.jwt_public_key
        return ServerSettings(
            host=self.host,
            port=self.port,
            core=core,
            heartbeat_seconds=self.heartbeat,
            data_dir=self.data_dir or default_data_dir(),
            allowed_origins=tuple(self.allowed_origin),
            connections_per_client=self.connections_per_client,
            trusted_proxies=tuple(self.trusted_proxy),
            messages_per_second=self.messages_per_second,
            message_burst=self.message_burst,
            auth=self.auth,
            jwt_key=public_key.read_text() if public_key else self.jwt_secret,
            jwt_algorithms=("RS256", "ES256") if public_key else ("HS256",),
            jwt_audience=self.jwt_audience,
            database_url=self.database_url,
            secret=secret,
            metrics_token=self.metrics_token,
            redis_url=self.redis_url,
            history_days=self.history_days,
            webhook_urls=tuple(self.webhook_url),
            webhook_secret=self.webhook_secret,
            webhook_timeout_seconds=self.webhook_timeout,
            webhook_first_retry_seconds=self.webhook_retry,
            api_token=self.api_token,
            api_requests_per_minute=self.api_requests_per_minute,
        )
