"""STUN and TURN URLs (RFC 7064, RFC 7065) as clients expect them in RTCIceServer.urls."""

import ipaddress
import re
from dataclasses import dataclass

_SCHEMES = {"stun": 3478, "stuns": 5349, "turn": 3478, "turns": 5349}
_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$")


@dataclass(frozen=True, slots=True)
class IceUrl:
    scheme: str
    host: str
    port: int
    transport: str  # "udp" or "tcp"

    @property
    def is_turn(self) -> bool:
        return self.scheme.startswith("turn")

    @property
    def is_tls(self) -> bool:
        return self.scheme.endswith("s")


def parse_ice_url(url: str) -> IceUrl:
    """Parses and checks a stun:/stuns:/turn:/turns: URL; raises ValueError saying what is wrong."""
    scheme, sep, rest = url.partition(":")
    if not sep or scheme not in _SCHEMES:
        raise ValueError(f"{url!r}: the scheme must be one of stun:, stuns:, turn:, turns:")
    if rest.startswith("//"):
        raise ValueError(f"{url!r}: ICE URLs have no // (write {scheme}:host:port)")
    hostport, _, query = rest.partition("?")
    match = _HOST.match(hostport)
    if not match:
        raise ValueError(f"{url!r}: expected host or host:port")
    host, port_text = match.group(1), match.group(2)
    if host.startswith("["):
        ipaddress.IPv6Address(host[1:-1])
        host = host[1:-1]
    port = int(port_text) if port_text else _SCHEMES[scheme]
    if not 0 < port < 65536:
        raise ValueError(f"{url!r}: port out of range")
    transport = "tcp" if scheme.endswith("s") else "udp"
    if query:
        if not scheme.startswith("turn") or query not in ("transport=udp", "transport=tcp"):
            raise ValueError(f"{url!r}: only turn: URLs take ?transport=udp or ?transport=tcp")
        transport = query.removeprefix("transport=")
    return IceUrl(scheme, host, port, transport)
