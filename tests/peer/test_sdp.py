"""The Python peer's offer for the invite holds no address (the server would refuse it), and its
candidates, trickled once answered, are exactly the ones its SDP held."""

from parley.core.sdp import has_addresses
from parley.peer.sdp import candidates, without_addresses

# As aiortc writes an offer after gathering (shortened): every address of this host is in it.
GATHERED = "\r\n".join(
    [
        "v=0",
        "o=- 3912 3912 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "m=audio 40123 UDP/TLS/RTP/SAVPF 96 0",
        "c=IN IP4 198.51.100.20",
        "a=sendrecv",
        "a=mid:0",
        "a=rtcp:40123 IN IP4 198.51.100.20",
        "a=candidate:1 1 udp 2130706431 198.51.100.20 40123 typ host",
        "a=candidate:2 1 udp 1694498815 203.0.113.9 40123 typ srflx"
        " raddr 198.51.100.20 rport 40123",
        "a=end-of-candidates",
        "a=ice-ufrag:abcd",
        "m=video 40124 UDP/TLS/RTP/SAVPF 97",
        "c=IN IP4 198.51.100.20",
        "a=mid:1",
        "a=candidate:3 1 udp 2130706431 198.51.100.20 40124 typ host",
        "a=end-of-candidates",
        "",
    ]
)


def test_the_offer_for_the_invite_holds_no_address_and_keeps_the_rest() -> None:
    assert has_addresses(GATHERED), "the positive control: gathered, it names addresses"
    stripped = without_addresses(GATHERED)
    assert not has_addresses(stripped)
    lines = stripped.split("\r\n")
    assert "m=audio 9 UDP/TLS/RTP/SAVPF 96 0" in lines
    assert "m=video 9 UDP/TLS/RTP/SAVPF 97" in lines
    assert lines.count("c=IN IP4 0.0.0.0") == 2
    assert "a=rtcp:9 IN IP4 0.0.0.0" in lines
    assert "a=ice-ufrag:abcd" in lines and "a=group:BUNDLE 0 1" in lines
    assert not any("198.51.100.20" in line or "203.0.113.9" in line for line in lines)


def test_whatever_the_line_endings() -> None:
    for ending in ("\n", "\r"):
        assert not has_addresses(without_addresses(GATHERED.replace("\r\n", ending)))


def test_the_candidates_to_trickle_are_the_sdps_with_their_media_section() -> None:
    assert candidates(GATHERED) == [
        {
            "candidate": "candidate:1 1 udp 2130706431 198.51.100.20 40123 typ host",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
        },
        {
            "candidate": (
                "candidate:2 1 udp 1694498815 203.0.113.9 40123 typ srflx"
                " raddr 198.51.100.20 rport 40123"
            ),
            "sdpMid": "0",
            "sdpMLineIndex": 0,
        },
        {
            "candidate": "candidate:3 1 udp 2130706431 198.51.100.20 40124 typ host",
            "sdpMid": "1",
            "sdpMLineIndex": 1,
        },
    ]
    assert candidates(without_addresses(GATHERED)) == []
