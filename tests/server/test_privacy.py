"""What the server does with addresses: relays them untouched, never keeps them."""

from .helpers import Client, join_pair, receive_json, send_json

MDNS = "candidate:1 1 udp 2122260223 3f1b0e1a-7f0e-4a8f-9a1e-6b6f2a7c1d2e.local 54321 typ host"


async def test_mdns_candidates_are_relayed_untouched(server: str, client: Client) -> None:
    alice, bob = await client(server), await client(server)
    await join_pair(alice, bob, "mdns")
    candidate = {"candidate": MDNS, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "ab"}
    await send_json(alice.ws, {"type": "candidate", "to": bob.session, "candidate": candidate})
    relayed = await receive_json(bob.ws)
    assert relayed == {"type": "candidate", "from": alice.session, "candidate": candidate}
