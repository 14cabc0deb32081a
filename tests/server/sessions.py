"""Messages for clients that hold the server to its numbering (`tests.support.raw_client.Tab`
reads every message and checks its `seq` is exactly the next one, as a page does before it can
resume with `lastSeq`)."""

from typing import Any

from tests.support.raw_client import Tab


def offer(to: Tab, n: int) -> dict[str, Any]:
    return {"type": "offer", "to": to.session, "sdp": f"v=0 offer-{n}"}


def candidate(to: Tab, n: int) -> dict[str, Any]:
    return {
        "type": "candidate",
        "to": to.session,
        "candidate": {"candidate": f"candidate:{n} 1 udp 1 192.0.2.1 {5000 + n} typ host"},
    }


def relayed(message: dict[str, Any], sender: Tab) -> dict[str, Any]:
    """What the recipient of `message` gets: the same, from the sender, without `to`."""
    out = {k: v for k, v in message.items() if k != "to"}
    out["from"] = sender.session
    return out
