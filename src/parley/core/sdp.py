"""What an SDP blob reveals: the addresses in it, whatever its line endings.

A ringing device takes the caller's offer into its RTCPeerConnection before anyone answers.
Any address in that offer would draw the device's connectivity checks (its own addresses) to
wherever the caller pointed, so the invite's offer must carry none (protocol `invite`).
"""

import re

# Every line ending a browser's SDP parser accepts: Chromium takes a bare \n too.
_LINES = re.compile(r"\r\n|\r|\n")
# "Not yet known": what an offer made before gathering says (RFC 8839 section 4.2.2).
_UNSPECIFIED = frozenset({"0.0.0.0", "::"})  # noqa: S104 - compared with, never bound


def _names_an_address(line: str) -> bool:
    attribute = line.lower()
    if attribute.startswith(("a=candidate", "a=remote-candidates")):
        return True
    if attribute.startswith("c="):
        # c=IN IP4 192.0.2.1[/ttl]
        parts = line[2:].split()
        return len(parts) < 3 or parts[2].split("/")[0] not in _UNSPECIFIED
    if attribute.startswith("a=rtcp:"):
        # a=rtcp:9 [IN IP4 0.0.0.0]: the port alone names no address
        parts = line[len("a=rtcp:") :].split()
        return len(parts) >= 4 and parts[3] not in _UNSPECIFIED
    return False


def has_addresses(sdp: str) -> bool:
    """Whether `sdp` names any address a peer could send to."""
    return any(_names_an_address(raw.strip()) for raw in _LINES.split(sdp))
