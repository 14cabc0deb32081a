"""The Python peer's signaling connection across a real server restart: a new session counts
its `seq` from 1 again, and the peer reads every one of its messages."""

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from parley.peer.signaling import PeerError, SignalingClient
from tests.parley_server import running_server
from tests.support.raw_client import free_port

RENEWED_SECONDS = 30.0


async def next_event(client: SignalingClient, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(RENEWED_SECONDS):
        for _ in range(1000):
            event = await client.events.get()
            if event["type"] == kind:
                return event
    raise AssertionError(f"no {kind} event")


async def test_after_a_restart_the_new_sessions_messages_count_from_one_and_all_arrive(
    tmp_path: Path,
) -> None:
    port = str(free_port())
    servers = contextlib.ExitStack()
    url = servers.enter_context(running_server("--port", port, data_dir=tmp_path))
    client = await SignalingClient.connect(url, name="Ana", token=None, presence=False)
    try:
        for _ in range(5):  # five replies: seq 1 to 5
            with contextlib.suppress(PeerError):
                await client.request({"type": "hangup", "call": "no-such-call"})
        assert client.last_seq == 5
        first_run = client.welcome["instance"]

        await asyncio.to_thread(servers.close)  # SIGTERM: the server closes with 1012
        servers.enter_context(running_server("--port", port, data_dir=tmp_path))
        renewed = await next_event(client, "renewed")
        assert renewed["welcome"].get("resumed", False) is False, "a new process: a new session"
        assert renewed["restarted"] is True
        assert client.welcome["instance"] != first_run
        assert client.last_seq == 0, "the new session counts from 1"

        # Its first message is seq 1, below the 5 seen before: it must still be read.
        reply = await asyncio.wait_for(client.request({"type": "ice-servers", "to": None}), 5)
        assert reply["type"] == "ice-servers"
        assert client.last_seq == 1
    finally:
        await client.close()
        await asyncio.to_thread(servers.close)
