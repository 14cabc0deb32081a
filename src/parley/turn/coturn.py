"""A hardened coturn `turnserver.conf`, written from the same settings Parley serves with.

The point of most lines is what a TURN server must *not* do: relay to the operator's own
network. coturn relays to any peer address by default, so every private, loopback, link-local,
multicast and reserved range is denied. coturn before 4.9.0 also relayed to IPv4-mapped IPv6
addresses (::ffff:10.0.0.1 reaches 10.0.0.1; CVE-2026-27624), so for those versions the whole
mapped range is denied as well.
"""

import ipaddress
import re
import subprocess
from dataclasses import dataclass, field

# Every range a TURN server on the internet has no business relaying to.
DENIED_PEER_NETWORKS = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/3",  # 224/4 multicast and everything above it (240/4 reserved, broadcast)
    "::1/128",
    # Not "::": coturn reads an all-zero IPv6 bound as "no bound", and orders addresses of
    # different families by family number, so any range starting at :: denies every peer,
    # IPv4 included. coturn refuses :: as a peer by itself (the TURN tests check it).
    "fc00::/7",
    # IPv6 prefixes that embed an IPv4 address a gateway may forward to: NAT64, 6to4, Teredo.
    "64:ff9b::/96",
    "64:ff9b:1::/48",
    "2002::/16",
    "2001::/32",
    "fe80::/10",
)
IPV4_MAPPED_NETWORK = "::ffff:0.0.0.0/96"
MAPPED_RANGE_FIXED_IN = (4, 9, 0)

Version = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class CoturnSettings:
    realm: str
    secret: str
    listening_port: int = 3478
    tls_listening_port: int = 5349
    listening_ips: tuple[str, ...] = ()
    external_ip: str | None = None
    relay_ips: tuple[str, ...] = ()
    min_port: int = 49152
    max_port: int = 65535
    user_quota: int = 12
    total_quota: int = 1200
    # coturn's `max-bps` and `bps-capacity` are BYTES a second, whatever the name says (its
    # turnserver.conf: "Max bytes-per-second bandwidth"). Per session 375,000 B/s = 3 Mbit/s:
    # a 720p call with room to spare. Writing 3,000,000 there allowed ~24 Mbit/s a session.
    max_bps: int = 375_000
    # The whole relay, 12,500,000 B/s = 100 Mbit/s: about 30 relayed 720p sessions, and a
    # stolen credential cannot turn the relay into a gigabit proxy. 0 would mean no cap.
    bps_capacity: int = 12_500_000
    cert: str | None = None
    pkey: str | None = None
    # Peers to relay to despite the deny list (e.g. a LAN address, or a test's own peer).
    allowed_peer_ips: tuple[str, ...] = ()
    log_file: str = "stdout"
    extra: tuple[str, ...] = field(default_factory=tuple)


def parse_version(text: str) -> Version | None:
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def installed_coturn_version(binary: str = "turnserver") -> Version | None:
    """The version of the coturn on this machine, or None when there is none."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_version(out.stdout + out.stderr)


def needs_mapped_range_denied(version: Version | None) -> bool:
    """Unknown versions are treated as affected: denying the range costs nothing."""
    return version is None or version < MAPPED_RANGE_FIXED_IN


def denied_ranges(version: Version | None) -> list[str]:
    """The deny list as `first-last` ranges, the one syntax every coturn version reads."""
    networks = list(DENIED_PEER_NETWORKS)
    if needs_mapped_range_denied(version):
        networks.append(IPV4_MAPPED_NETWORK)
    ranges = []
    for text in networks:
        network = ipaddress.ip_network(text)
        ranges.append(f"{_shown(network[0])}-{_shown(network[-1])}")
    return ranges


def _shown(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    # IPv4-mapped addresses read best, and parse everywhere, in their dotted form.
    mapped = getattr(address, "ipv4_mapped", None)
    return f"::ffff:{mapped}" if mapped is not None else str(address)


def render_config(settings: CoturnSettings, version: Version | None) -> str:
    if not settings.secret:
        raise ValueError("a TURN shared secret is required (it must match Parley's)")
    shown = ".".join(map(str, version)) if version else "unknown"
    lines = [
        "# Written by `parley turn-config`. Regenerate rather than edit by hand.",
        f"# coturn version: {shown}",
        "",
        "# Time-limited credentials from Parley (TURN REST API); no static users.",
        "use-auth-secret",
        f"static-auth-secret={settings.secret}",
        f"realm={settings.realm}",
        "fingerprint",
        "stale-nonce=600",
        "",
        "# Listening and relaying.",
        f"listening-port={settings.listening_port}",
    ]
    lines += [f"listening-ip={ip}" for ip in settings.listening_ips]
    lines += [f"relay-ip={ip}" for ip in settings.relay_ips]
    if settings.external_ip:
        lines.append(f"external-ip={settings.external_ip}")
    lines += [f"min-port={settings.min_port}", f"max-port={settings.max_port}"]
    if settings.cert and settings.pkey:
        lines += [
            f"tls-listening-port={settings.tls_listening_port}",
            f"cert={settings.cert}",
            f"pkey={settings.pkey}",
            "no-tlsv1",
            "no-tlsv1_1",
        ]
    else:
        lines += ["no-tls", "no-dtls"]
    lines += [
        "",
        "# Hardening: no admin CLI, no TCP relays, no multicast, no version banner.",
        "no-cli",
        "no-tcp-relay",
        "no-multicast-peers",
        "no-software-attribute",
        "no-rfc5780",
        "no-stun-backward-compatibility",
        "response-origin-only-with-rfc5780",
        "",
        "# Quotas and bandwidth caps (max-bps and bps-capacity are bytes per second).",
        f"user-quota={settings.user_quota}",
        f"total-quota={settings.total_quota}",
        f"max-bps={settings.max_bps}",
        f"bps-capacity={settings.bps_capacity}",
        "",
        "# Never relay into private, loopback, link-local, multicast or reserved space.",
    ]
    if needs_mapped_range_denied(version):
        lines.append("# IPv4-mapped IPv6 too: this coturn predates the fix for CVE-2026-27624.")
    lines += [f"denied-peer-ip={r}" for r in denied_ranges(version)]
    if settings.allowed_peer_ips:
        lines.append("# Explicit exceptions to the deny list.")
        lines += [f"allowed-peer-ip={ip}" for ip in settings.allowed_peer_ips]
    lines += ["", f"log-file={settings.log_file}", "simple-log", *settings.extra, ""]
    return "\n".join(lines)
