"""Webhooks from a cluster: two nodes on one Redis and one database, each with the same
endpoint, deliver each event exactly once, whichever node's client caused it."""

import asyncio
from collections import Counter

from parley.core.signaling import CoreSettings
from tests.cluster.nodes import CORE, Cluster
from tests.support.webhook_receiver import webhook_receiver

SECRET = b"whsec-cluster-0123456789"
DELIVERY_SECONDS = 20.0
ROOM_NEWS = ("presence", "peer-joined", "peer-left")


async def test_each_event_is_delivered_by_exactly_one_node(
    cluster: Cluster, database_url: str
) -> None:
    cluster.database_url = database_url
    async with webhook_receiver(SECRET) as receiver:
        hooks = {
            "webhook_urls": (receiver.url,),
            "webhook_secret": SECRET.decode(),
            "webhook_first_retry_seconds": 0.2,
        }
        core = CoreSettings(resume_window=CORE.resume_window, ring_timeout=1.0)
        one, two = await cluster.start(core, **hooks), await cluster.start(core, **hooks)
        ana = await cluster.sign_in(one, name="Ana", presence=True)
        bo = await cluster.sign_in(two, name="Bo", presence=True)
        calls = []
        for caller, callee, ending in ((ana, bo, "hangup"), (bo, ana, "reject"), (ana, bo, None)):
            await caller.send({"type": "invite", "to": callee.user, "media": "audio"})
            call = (await caller.next_of("ringing"))["call"]
            await callee.next_of("incoming-call")
            if ending == "hangup":
                await callee.send({"type": "accept", "call": call, "media": "audio"})
                await callee.next_of("call-accepted")
                await caller.next_of("call-accepted")
                await caller.send({"type": "hangup", "call": call})
            elif ending == "reject":
                await callee.send({"type": "reject", "call": call})
            for tab in (caller, callee):  # None: the ring timeout ends it
                await tab.next_of("call-ended")
            calls.append(call)
        for tab in (ana, bo):
            await tab.send({"type": "join", "room": "standup"})
            await tab.next_of("joined", skip=ROOM_NEWS)
        for tab in (bo, ana):
            await tab.send({"type": "leave"})
            await tab.next_of("left", skip=ROOM_NEWS)

        expected = 3 + 1 + 3 + 2  # ringing×3, answered, ended×3, room started and ended
        await receiver.wait_for(expected, DELIVERY_SECONDS)
        await asyncio.sleep(1.5)  # more than a poll of both senders: a duplicate would be in
        ids = Counter(event.id for event in receiver.events())
        assert len(ids) == expected, receiver.counts()
        assert set(ids.values()) == {1}, receiver.counts()
        # Both nodes caused events (the callers were on different nodes).
        origins = {node for node, _ in cluster.steps}
        assert origins == {one.name, two.name}, origins
