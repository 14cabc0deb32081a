"""The generated coturn configuration: hardening lines, the deny list, version handling."""

import ipaddress

import pytest

from parley.turn.coturn import (
    CoturnSettings,
    denied_ranges,
    installed_coturn_version,
    parse_version,
    render_config,
)

SETTINGS = CoturnSettings(realm="calls.example.org", secret="s3cret", external_ip="203.0.113.5")
REQUIRED_LINES = [
    "use-auth-secret",
    "static-auth-secret=s3cret",
    "realm=calls.example.org",
    "fingerprint",
    "no-cli",
    "no-tcp-relay",
    "no-multicast-peers",
    "no-software-attribute",
    "external-ip=203.0.113.5",
    "min-port=49152",
    "max-port=65535",
    "user-quota=12",
    "total-quota=1200",
    "max-bps=375000",
    "bps-capacity=12500000",
]
# The list, as networks; every address in each must be covered by a denied range.
MUST_DENY = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
    "240.0.0.0/4", "::1/128", "fc00::/7", "fe80::/10",
]  # fmt: skip
MAPPED = "::ffff:0.0.0.0-::ffff:255.255.255.255"


def lines(config: str) -> set[str]:
    return {line.strip() for line in config.splitlines()}


def covered(network: str, ranges: list[str]) -> bool:
    net = ipaddress.ip_network(network)
    for text in ranges:
        first, last = (ipaddress.ip_address(x) for x in text.split("-"))
        if first.version == net.version and first <= net[0] and net[-1] <= last:
            return True
    return False


def test_hardening_lines_are_all_there() -> None:
    config = lines(render_config(SETTINGS, (4, 6, 1)))
    missing = [line for line in REQUIRED_LINES if line not in config]
    assert missing == []
    assert any(line.startswith("stale-nonce") for line in config)


@pytest.mark.parametrize("network", MUST_DENY)
def test_every_internal_range_is_denied(network: str) -> None:
    assert covered(network, denied_ranges((4, 6, 1)))


def test_ipv4_mapped_range_is_denied_before_4_9_and_for_unknown_versions() -> None:
    assert MAPPED in denied_ranges((4, 6, 1))
    assert MAPPED in denied_ranges(None)
    assert f"denied-peer-ip={MAPPED}" in lines(render_config(SETTINGS, (4, 8, 9)))
    assert MAPPED not in denied_ranges((4, 9, 0))


def test_no_ipv6_range_starts_at_the_unspecified_address() -> None:
    # coturn reads an all-zero IPv6 bound as open and compares families by number: "::-::" and
    # even "::-::1" denied every IPv4 peer. coturn refuses "::" as a peer by itself.
    for text in denied_ranges((4, 6, 1)):
        first = ipaddress.ip_address(text.split("-")[0])
        assert not (first.version == 6 and int(first) == 0), text


def test_public_addresses_are_not_denied() -> None:
    ranges = denied_ranges((4, 6, 1))
    for public in ("203.0.113.7/32", "8.8.8.8/32", "2001:db8::7/128"):
        assert not covered(public, ranges)


def test_allowed_peers_and_tls_are_written_when_given() -> None:
    config = render_config(
        CoturnSettings(
            realm="r", secret="s", allowed_peer_ips=("192.168.1.20",), cert="/c.pem", pkey="/k.pem"
        ),
        (4, 6, 1),
    )
    assert "allowed-peer-ip=192.168.1.20" in lines(config)
    assert {"cert=/c.pem", "pkey=/k.pem", "tls-listening-port=5349"} <= lines(config)
    assert "no-tls" not in lines(config)


def test_without_a_certificate_tls_listeners_are_off() -> None:
    assert {"no-tls", "no-dtls"} <= lines(render_config(SETTINGS, (4, 6, 1)))


def test_a_secret_is_required() -> None:
    with pytest.raises(ValueError, match="secret"):
        render_config(CoturnSettings(realm="r", secret=""), (4, 6, 1))


def test_version_parsing_and_detection() -> None:
    assert parse_version("Coturn-4.6.1 'Gorst'") == (4, 6, 1)
    assert parse_version("no version here") is None
    assert installed_coturn_version("/nonexistent/turnserver") is None
    detected = installed_coturn_version()
    assert detected is not None and detected >= (4, 0, 0), "make test installs coturn"


def test_bandwidth_caps_are_bytes_per_second_and_the_relay_has_a_total() -> None:
    """coturn reads both caps as bytes a second: the defaults are 3 Mbit/s a session and
    100 Mbit/s for the whole relay, never unlimited."""
    config = lines(render_config(CoturnSettings(realm="r", secret="s"), (4, 6, 1)))
    per_session = next(int(x.split("=")[1]) for x in config if x.startswith("max-bps="))
    total = next(int(x.split("=")[1]) for x in config if x.startswith("bps-capacity="))
    assert per_session * 8 == 3_000_000
    assert total * 8 == 100_000_000
