"""Server settings. Every one has an embedded default, so `parley serve` needs no config file."""

from dataclasses import dataclass, field

from parley.core.signaling import CoreSettings


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    core: CoreSettings = field(default_factory=CoreSettings)
    # A 1:1 call's signaling is a few KB; 1 MiB queued means the client has stopped reading.
    outbox_max_bytes: int = 1024 * 1024
    heartbeat_seconds: float = 20.0
