"""STUN/TURN URL checking: what operators type into config, and what clients can use."""

import pytest

from parley.turn.urls import IceUrl, parse_ice_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("stun:stun.example.org", IceUrl("stun", "stun.example.org", 3478, "udp")),
        ("stun:198.51.100.1:19302", IceUrl("stun", "198.51.100.1", 19302, "udp")),
        ("turn:turn.example.org", IceUrl("turn", "turn.example.org", 3478, "udp")),
        ("turn:t.example.org:3478?transport=tcp", IceUrl("turn", "t.example.org", 3478, "tcp")),
        ("turns:t.example.org:443?transport=tcp", IceUrl("turns", "t.example.org", 443, "tcp")),
        ("turns:t.example.org", IceUrl("turns", "t.example.org", 5349, "tcp")),
        ("turn:[2001:db8::1]:3478", IceUrl("turn", "2001:db8::1", 3478, "udp")),
    ],
)
def test_valid_urls_parse(url: str, expected: IceUrl) -> None:
    assert parse_ice_url(url) == expected


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://turn.example.org", "scheme"),
        ("turn://turn.example.org", "no //"),
        ("turn:", "host"),
        ("turn:a.example:99999", "port"),
        ("stun:a.example?transport=tcp", "transport"),
        ("turn:a.example?transport=sctp", "transport"),
        ("turn:bad host", "host"),
    ],
)
def test_invalid_urls_are_refused_with_a_reason(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_ice_url(url)


def test_turn_and_tls_flags() -> None:
    assert parse_ice_url("turns:a.example").is_tls
    assert parse_ice_url("turn:a.example").is_turn
    assert not parse_ice_url("stun:a.example").is_turn
