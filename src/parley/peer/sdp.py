"""What of an SDP blob the Python peer shows to whom (as the browser's static/js/sdp.js).

aiortc gathers its candidates inside setLocalDescription, so its SDP holds every address it has.
An offer that rides the invite must hold none (the callee's devices take it in before anyone
answers): `without_addresses` strips them, and `candidates` lists them, to trickle once the call
is answered.
"""

import re
from typing import Any

_LINES = re.compile(r"\r\n|\r|\n")
_ADDRESS_LINES = re.compile(r"^a=(candidate|end-of-candidates|remote-candidates)\b", re.I)
_PORT = re.compile(r"^(m=\S+) \d+")


def without_addresses(sdp: str) -> str:
    """`sdp` with no candidates, and the default address and ports put back to the "none yet"
    of a fresh offer (RFC 8839: 0.0.0.0, port 9)."""
    kept = []
    for raw in _LINES.split(sdp):
        line = raw.strip()
        if _ADDRESS_LINES.match(line):
            continue
        if line.startswith("m="):
            line = _PORT.sub(r"\1 9", line)
        elif line.startswith("c="):
            line = "c=IN IP4 0.0.0.0"
        elif line.startswith("a=rtcp:"):
            line = "a=rtcp:9 IN IP4 0.0.0.0"
        kept.append(line)
    return "\r\n".join(kept)


def candidates(sdp: str) -> list[dict[str, Any]]:
    """The ICE candidates in `sdp`, as `candidate` messages carry them (RTCIceCandidateInit):
    each with the `a=mid` and index of its media section."""
    found: list[dict[str, Any]] = []
    index, mid = -1, None
    pending: list[str] = []

    def flush() -> None:
        for line in pending:
            found.append({"candidate": line, "sdpMid": mid, "sdpMLineIndex": index})
        pending.clear()

    for raw in _LINES.split(sdp):
        line = raw.strip()
        if line.startswith("m="):
            flush()
            index, mid = index + 1, None
        elif line.startswith("a=mid:") and index >= 0:
            mid = line.removeprefix("a=mid:")
        elif line.startswith("a=candidate:") and index >= 0:
            pending.append(line.removeprefix("a="))
    flush()
    return found
