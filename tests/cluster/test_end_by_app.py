"""The app API in a cluster: ending a call goes through the log (EndCallByApp), so every
replica ends it at the same point and agrees; on real nodes with Redis, both parties hear it
though they sit on different nodes, the history records it once, and a room link made on one
node is joined on another (its key is the cluster's secret: no shared state)."""

import asyncio
from typing import Any

from parley.cluster.events import Connected, EndCallByApp, NodeJoined, Text
from parley.core.calls import CallState
from parley.core.effects import RecordCall, Send
from parley.core.signaling import CoreSettings
from parley.protocol.messages import CallEnded, Ringing, Welcome
from tests.cluster.helpers import LogFeed, effect_view, frame, make_replica
from tests.cluster.nodes import Cluster
from tests.support.app_api import TOKEN, ApiClient, answer, ring

SETTINGS = CoreSettings(ring_timeout=30.0, resume_window=30.0)


def welcomed(feed: LogFeed, node: str, connection: str, name: str) -> Welcome:
    feed.apply(Connected(node, connection))
    [effects, *_] = feed.apply(Text(connection, frame("hello", v=1, name=name, presence=True)))
    [welcome] = [e.message for e in effects if isinstance(e, Send)]
    assert isinstance(welcome, Welcome), welcome
    return welcome


def test_every_replica_ends_the_call_at_the_same_entry_and_agrees() -> None:
    one, two = make_replica(SETTINGS), make_replica(SETTINGS)
    feed = LogFeed([one, two])
    feed.apply(NodeJoined("A"))
    feed.apply(NodeJoined("B"))
    ana = welcomed(feed, "A", "c-ana", "Ana")
    bo = welcomed(feed, "B", "c-bo", "Bo")
    [invited, *_] = feed.apply(Text("c-ana", frame("invite", to=bo.user.id, media="audio", id=1)))
    [call] = [
        e.message.call for e in invited if isinstance(e, Send) and isinstance(e.message, Ringing)
    ]

    first, second = feed.apply(EndCallByApp("req-1", call))

    assert effect_view(first) == effect_view(second), "the replicas disagree"
    assert one.app_ending == two.app_ending
    assert one.app_ending is not None
    assert (one.app_ending.result, one.app_ending.was) == ("ended", CallState.RINGING)
    told = {e.session: e.message for e in first if isinstance(e, Send)}
    ended = CallEnded(call=call, reason="ended-by-app", by=None)
    assert told == {ana.session: ended, bo.session: ended}
    assert [e.record.end_reason for e in first if isinstance(e, RecordCall)] == ["ended-by-app"]

    # Asked again (a second app request, on any node): over, and nothing happens.
    again = feed.apply(EndCallByApp("req-2", call))
    assert again == [[], []]
    assert one.app_ending.result == two.app_ending.result == "over"


async def sign_in(cluster: Cluster, node: Any, name: str) -> Any:
    return await cluster.sign_in(node, name=name, presence=True)


async def test_ending_a_call_reaches_both_parties_on_different_nodes(cluster: Cluster) -> None:
    one = await cluster.start(api_token=TOKEN)
    two = await cluster.start(api_token=TOKEN)
    ana, bo = await sign_in(cluster, one, "Ana"), await sign_in(cluster, two, "Bo")
    call = await ring(ana, bo)
    await answer(bo, ana, call)

    # Asked of the callee's node; the caller sits on the other one.
    ended = await ApiClient(cluster.http, two.base).post(f"api/v1/calls/{call}/end")

    assert (ended.status, ended.body) == (
        200,
        {"call": call, "reason": "ended-by-app", "was": "answered"},
    )
    told = {"type": "call-ended", "call": call, "reason": "ended-by-app", "by": None}
    assert await ana.next_of("call-ended") == told
    assert await bo.next_of("call-ended") == told
    await cluster.in_step()
    # Recorded once, by the node that took the request.
    ends = [(node, step.record.end_reason) for node, step in cluster.recorded("ended")]
    assert ends == [("n2", "ended-by-app")]
    again = await ApiClient(cluster.http, one.base).post(f"api/v1/calls/{call}/end")
    assert again.status == 409, again


async def test_a_ringing_call_ended_through_the_other_node(cluster: Cluster) -> None:
    one = await cluster.start(api_token=TOKEN)
    two = await cluster.start(api_token=TOKEN)
    ana, bo = await sign_in(cluster, one, "Ana"), await sign_in(cluster, two, "Bo")
    call = await ring(ana, bo)

    ended = await ApiClient(cluster.http, one.base).post(f"api/v1/calls/{call}/end")

    assert (ended.status, ended.body["was"]) == (200, "ringing")
    for tab in (ana, bo):
        assert (await tab.next_of("call-ended"))["reason"] == "ended-by-app"
    # The node that took the request wrote the end: it reads its own write at once.
    listed = await ApiClient(cluster.http, one.base).get(f"api/v1/calls/{call}")
    assert (listed.status, listed.body["reason"]) == (200, "ended-by-app")


async def test_a_room_link_made_on_one_node_is_joined_on_another(cluster: Cluster) -> None:
    one = await cluster.start(api_token=TOKEN)
    two = await cluster.start(api_token=TOKEN)
    made = await ApiClient(cluster.http, one.base).post("api/v1/rooms", body={"expires_in": 600})
    assert made.status == 201, made
    room = made.body["room"]
    ana, bo = await sign_in(cluster, one, "Ana"), await sign_in(cluster, two, "Bo")

    for tab in (ana, bo):
        await tab.send({"type": "join", "room": room, "id": "j"})
        assert (await tab.next_of("joined"))["room"] == room
    nonce, _, mac = room.split("-")
    await bo.send({"type": "leave", "id": "l"})
    await bo.next_of("left")
    await bo.send({"type": "join", "room": f"{nonce}-0-{mac}", "id": "f"})
    assert (await bo.next_of("error", skip=("presence",)))["code"] == "bad-room-link"


async def test_the_api_answers_503_while_the_node_cannot_reach_redis(cluster: Cluster) -> None:
    one = await cluster.start(api_token=TOKEN)
    api = ApiClient(cluster.http, one.base)
    assert (await api.post("api/v1/calls/any/end")).status == 404, "a positive control"

    await asyncio.to_thread(cluster.redis.stop)
    try:
        await cluster.readiness(one, ready=False)
        refused = await api.post("api/v1/calls/any/end")
    finally:
        await asyncio.to_thread(cluster.redis.start)

    assert refused.status == 503, refused
    assert "cluster" in refused.body["error"]
