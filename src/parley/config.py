"""Server settings. Every one has an embedded default, so `parley serve` needs no config file."""

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from parley.core.signaling import CoreSettings


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
    # Origins whose pages may open /ws. Empty: the server's own origin only. A request without
    # an Origin header is not a browser page (the Python peer, scripts) and is let in.
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
