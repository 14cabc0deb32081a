"""While a call rings, no address of the callee may reach the caller.

Attack: a caller invites with an offer whose lines end in a bare `\\n` (Chromium accepts it)
and that carries a candidate pointing at a UDP port the caller listens on. The ringing page
cleaned offers by splitting on `\\r\\n` only, so the candidate reached its RTCPeerConnection
and the callee's STUN checks (its addresses) arrived at the caller's port before anyone
answered. The server now refuses such an invite (tests/security/test_ringing_privacy.py);
this is the page's own half, in real Chromium: the offer as the ringing page takes it in.
"""

import socket
from collections.abc import Callable

import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

# Takes `offer` in as the ringing page does (through withoutAddresses, or not), then answers
# it, which starts ICE checks toward every remote candidate it kept.
TAKE_IN_OFFER = """async ([offer, clean]) => {
  const { withoutAddresses } = await import('/static/sdk/sdp.js');
  const pc = new RTCPeerConnection();
  window.keep = (window.keep || []).concat(pc);
  await pc.setRemoteDescription({ type: 'offer', sdp: clean ? withoutAddresses(offer) : offer });
  await pc.setLocalDescription(await pc.createAnswer());
  return pc.remoteDescription.sdp;
}"""

MAKE_OFFER = """async () => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('audio');
  pc.createDataChannel('x');
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === 'complete') done();
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') done();
    });
  });
  return pc.localDescription.sdp;
}"""


def hostile_offer(real_offer: str, port: int) -> str:
    """The browser's own offer, its candidates swapped for one at the attacker's port, every
    line ended by a bare \\n."""
    lines = [line for line in real_offer.split("\r\n") if not line.startswith("a=candidate:")]
    out = []
    for line in lines:
        out.append("c=IN IP4 127.0.0.1" if line.startswith("c=") else line)
        if line.startswith("a=mid:"):
            out.append(f"a=candidate:1 1 udp 2122260223 127.0.0.1 {port} typ host")
    return "\n".join(out)


def stun_packets(listener: socket.socket, seconds: float) -> int:
    listener.settimeout(seconds)
    count = 0
    try:
        while count < 3:
            data, _ = listener.recvfrom(2048)
            if len(data) >= 20 and data[4:8] == b"\x21\x12\xa4\x42":  # STUN magic cookie
                count += 1
    except TimeoutError:
        pass
    return count


def test_a_bare_newline_offer_leaks_no_address_from_the_ringing_page(
    open_page: Callable[..., Page], server_url: str
) -> None:
    page = open_page(server_url + "/")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        offer = hostile_offer(page.evaluate(MAKE_OFFER), listener.getsockname()[1])
        assert "\r\n" not in offer and "a=candidate:" in offer

        taken = page.evaluate(TAKE_IN_OFFER, [offer, True])
        assert "a=candidate" not in taken
        # (The o= line's address is a fixed placeholder that no browser connects to.)
        addressed = [x for x in taken.split("\r\n") if "127.0.0.1" in x and not x.startswith("o=")]
        assert addressed == [], addressed
        assert stun_packets(listener, 3.0) == 0, "the callee's STUN checks reached the caller"

        # Control: taken in without the page's cleaning, the same offer does draw the checks,
        # so the silence above is the cleaning's doing and not a deaf listener.
        page.evaluate(TAKE_IN_OFFER, [offer, False])
        assert stun_packets(listener, 10.0) > 0
