"""Parley nodes sharing a real Redis: two or three apps in this process, each on its own
loopback port, clients on different nodes talking to each other as if to one server. Rooms,
presence, calls, timers, resumes, a node joining late, and Redis going away and coming back
empty."""

import asyncio
import dataclasses
import itertools
import time
from typing import Any

import aiohttp
import pytest

import parley.cluster.local as cluster_local
from parley.cluster.events import TimerFired
from parley.cluster.redis_log import RedisLog, connect, current_generation
from parley.cluster.seal import Seal
from parley.core.calls import RING_TIMER
from parley.core.effects import RecordCall, RecordQuality
from parley.core.presence import PRESENCE_WINDOW_SECONDS
from parley.server.api import HISTORY_KEY
from tests.cluster.helpers import SECRET, Tab, eventually, replica_state
from tests.cluster.nodes import CORE, Cluster
from tests.server.helpers import send_json
from tests.support.raw_client import candidate, cut, offer, read_frame, relayed, say_hello


async def join(tab: Tab, room: str, request_id: str = "j") -> dict[str, Any]:
    await send_json(tab.ws, {"type": "join", "room": room, "id": request_id})
    joined = await tab.read()
    assert joined["type"] == "joined", joined
    return joined


async def ring(caller: Tab, callee: Tab, request_id: int = 1) -> str:
    await send_json(
        caller.ws,
        {
            "type": "invite",
            "to": callee.user,
            "media": "video",
            "id": request_id,
            "caller_offers": True,
        },
    )
    ringing = await caller.next_of("ringing")
    assert ringing["id"] == request_id
    incoming = await callee.next_of("incoming-call")
    assert incoming["call"] == ringing["call"]
    assert incoming["caller"]["id"] == caller.user
    return str(ringing["call"])


async def accept(callee: Tab, caller: Tab, call: str, request_id: int) -> None:
    """The callee answers with video; both hear `call-accepted`, naming the other's session,
    as the next thing they read."""
    accept = {"type": "accept", "call": call, "media": "video", "id": request_id}
    await send_json(callee.ws, {**accept, "caller_offers": True})
    to_callee, to_caller = await callee.read(), await caller.read()
    # Whichever node signed it, both sides hold the same proof of the call (resume-call).
    ticket = to_callee.get("ticket")
    assert isinstance(ticket, str) and to_caller.get("ticket") == ticket
    assert to_callee == {
        "type": "call-accepted",
        "id": request_id,
        "call": call,
        "media": "video",
        "peer": caller.session,
        "polite": True,
        "ticket": ticket,
    }
    assert to_caller == {
        "type": "call-accepted",
        "call": call,
        "media": "video",
        "peer": callee.session,
        "polite": False,
        "ticket": ticket,
    }


async def no_timer_left(cluster: Cluster, key: tuple[str, str]) -> None:
    """Waits until no node holds a timer for `key` (a late report included)."""

    def done() -> bool:
        return all(
            key not in n.hub._timers and key not in n.hub.replica.deadlines for n in cluster.nodes
        )

    await eventually(done, f"every node forgets the timer {key}")


# --- rooms ------------------------------------------------------------------------------------


async def test_a_room_spans_two_nodes_and_relays_both_ways(cluster: Cluster) -> None:
    one, two = await cluster.start(), await cluster.start()
    ana = await cluster.sign_in(one)
    bo = await cluster.sign_in(two)
    assert ana.instance == bo.instance  # one server, as clients see it

    assert await join(ana, "across") == {
        "type": "joined",
        "id": "j",
        "room": "across",
        "created": True,
        "capacity": 2,
        "peers": [],
    }
    joined = await join(bo, "across")
    assert (joined["created"], joined["peers"]) == (False, [{"id": ana.session, "ready": False}])
    assert await ana.read() == {"type": "peer-joined", "peer": bo.session}
    await send_json(ana.ws, {"type": "ready"})
    assert await bo.read() == {"type": "peer-ready", "peer": ana.session}

    exchange = [
        (ana, bo, offer(bo, 1)),
        (bo, ana, {"type": "answer", "to": ana.session, "sdp": "v=0 answer"}),
        (ana, bo, candidate(bo, 2)),
        (bo, ana, candidate(ana, 3)),
        (bo, ana, candidate(ana, 4)),
        (ana, bo, candidate(bo, 5)),
    ]
    for sender, receiver, message in exchange:
        await send_json(sender.ws, message)
        assert await receiver.read() == relayed(message, sender)

    await send_json(ana.ws, {"type": "leave", "id": "bye"})
    assert await ana.read() == {"type": "left", "id": "bye", "room": "across"}
    assert await bo.read() == {"type": "peer-left", "peer": ana.session, "reason": "left"}


async def test_room_capacity_holds_across_three_nodes_under_simultaneous_joins(
    cluster: Cluster,
) -> None:
    nodes = [await cluster.start() for _ in range(3)]
    rooms = [f"race-{n}" for n in range(10)]
    tabs = {
        room: [await cluster.sign_in(nodes[(i + k) % 3]) for k in range(3)]
        for i, room in enumerate(rooms)
    }
    everyone = [(room, tab) for room in rooms for tab in tabs[room]]
    await asyncio.gather(
        *(
            send_json(tab.ws, {"type": "join", "room": room, "id": f"{room}/{tab.session}"})
            for room, tab in everyone
        )
    )
    replies = await asyncio.gather(*(tab.read() for _, tab in everyone))

    for room in rooms:
        answers = {
            tab.session: reply
            for (r, tab), reply in zip(everyone, replies, strict=True)
            if r == room
        }
        joined = {s: a for s, a in answers.items() if a["type"] == "joined"}
        refused = {s: a for s, a in answers.items() if a["type"] == "error"}
        assert len(joined) == 2 and len(refused) == 1, answers
        for session, error in refused.items():
            assert (error["code"], error["id"]) == ("room-full", f"{room}/{session}"), error
        (first,) = [s for s, a in joined.items() if a["created"]]
        (second,) = [s for s, a in joined.items() if not a["created"]]
        assert joined[first]["peers"] == []
        assert joined[second]["peers"] == [{"id": first, "ready": False}]
        first_tab = next(t for t in tabs[room] if t.session == first)
        assert await first_tab.read() == {"type": "peer-joined", "peer": second}

    # Every node's replica holds the same members in every room.
    await cluster.in_step()
    members = [
        {room: list(n.hub.core.rooms.get(room).members) for room in rooms}  # type: ignore[union-attr]
        for n in nodes
    ]
    assert members[0] == members[1] == members[2]


# --- direct calls -----------------------------------------------------------------------------


async def test_a_direct_call_across_nodes_rings_connects_hangs_up_and_leaves_one_row(
    cluster: Cluster,
) -> None:
    one, two = await cluster.start(), await cluster.start()
    ana = await cluster.sign_in(one, name="Ana", presence=True)
    bo = await cluster.sign_in(two, name="Bo", presence=True)
    # Ana (on node 1) hears that Bo (on node 2) came online.
    assert await ana.read() == {
        "type": "presence",
        "user": {"id": bo.user, "name": "Bo"},
        "online": True,
    }

    call = await ring(ana, bo)
    await accept(bo, ana, call, request_id=2)
    sdp = offer(bo, 1)
    await send_json(ana.ws, sdp)
    assert await bo.read() == relayed(sdp, ana)
    await send_json(bo.ws, candidate(ana, 2))
    assert await ana.read() == relayed(candidate(ana, 2), bo)

    await send_json(ana.ws, {"type": "hangup", "call": call, "id": 3})
    assert await ana.read() == {
        "type": "call-ended",
        "id": 3,
        "call": call,
        "reason": "hangup",
        "by": ana.user,
    }
    assert await bo.read() == {
        "type": "call-ended",
        "call": call,
        "reason": "hangup",
        "by": ana.user,
    }

    # Each step was written once, by the node whose client caused it.
    await cluster.in_step()
    assert [(n, s.record.id) for n, s in cluster.recorded("created")] == [(one.name, call)]
    assert [(n, s.record.id) for n, s in cluster.recorded("answered")] == [(two.name, call)]
    assert [(n, s.record.end_reason) for n, s in cluster.recorded("ended")] == [
        (one.name, "hangup")
    ]

    # Both users see the one call, from either node.
    async def finished(node: Any, tab: Tab) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 5
        while True:
            rows = await cluster.history(node, tab.token)
            if rows and all(r["ended"] and r["answered"] for r in rows):
                return rows
            if time.monotonic() > deadline:
                pytest.fail(f"the call's row is not answered and ended: {rows}")
            await asyncio.sleep(0.05)

    for node, tab, peer, direction in ((two, ana, bo, "outgoing"), (one, bo, ana, "incoming")):
        rows = await finished(node, tab)
        assert len(rows) == 1, rows
        (row,) = rows
        assert (row["id"], row["direction"], row["peer"]) == (call, direction, peer.user)
        assert (row["end_reason"], row["ended_by"], row["missed"]) == ("hangup", ana.user, False)


async def test_a_calls_row_is_complete_when_the_callers_node_writes_its_step_last(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each node writes the steps its own clients caused, through its own queue: the caller's
    node inserts the row (`created`), the callee's node records `answered` and, here, `ended`.
    Nothing orders one node's writes after another's, so when the caller's node is the slower
    one (a backlog, a slower link to the database) its insert lands last. The row must still
    end up answered and ended: one complete row per call."""
    one, two = await cluster.start(), await cluster.start()
    history = one.app[HISTORY_KEY]
    write = history.write

    async def backlogged(step: RecordCall | RecordQuality) -> None:
        if isinstance(step, RecordCall) and step.step == "created":
            await asyncio.sleep(0.5)  # node 1's writer is behind
        await write(step)

    monkeypatch.setattr(history, "write", backlogged)
    ana = await cluster.sign_in(one, name="Ana", presence=True)
    bo = await cluster.sign_in(two, name="Bo", presence=True)
    call = await ring(ana, bo)
    await send_json(bo.ws, {"type": "accept", "call": call, "media": "audio", "id": 2})
    await bo.next_of("call-accepted")
    await ana.next_of("call-accepted")
    await send_json(bo.ws, {"type": "hangup", "call": call, "id": 3})
    await bo.next_of("call-ended")
    await ana.next_of("call-ended")

    deadline = time.monotonic() + 5
    while True:
        rows = await cluster.history(one, ana.token)
        if len(rows) == 1 and rows[0]["ended"] is not None:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"the call's row never ended: {rows}")
        await asyncio.sleep(0.05)
    (row,) = rows
    assert row["id"] == call
    assert row["answered"] is not None, row
    assert (row["end_reason"], row["ended_by"]) == ("hangup", bo.user)
    assert row["duration_seconds"] is not None and row["duration_seconds"] >= 0


@pytest.mark.parametrize("oldest_reports", [True, False], ids=["oldest-reports", "takeover"])
async def test_a_ring_timeout_across_nodes_ends_the_call_once(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, oldest_reports: bool
) -> None:
    # Another node takes over a timer sooner than 2 s late: the test waits for that moment.
    monkeypatch.setattr(cluster_local, "TIMER_TAKEOVER_SECONDS", 1.0 if oldest_reports else 0.3)
    core = dataclasses.replace(CORE, ring_timeout=1.0)
    oldest, two, three = [await cluster.start(core) for _ in range(3)]
    if not oldest_reports:
        # The oldest node stalls: it never reports the timers that fall due. Another one
        # must take over.
        enqueue = oldest.hub._enqueue

        def silent(event: Any) -> None:
            if not isinstance(event, TimerFired):
                enqueue(event)

        monkeypatch.setattr(oldest.hub, "_enqueue", silent)
    ana = await cluster.sign_in(two, name="Ana", presence=True)
    bo = await cluster.sign_in(three, name="Bo", presence=True)
    call = await ring(ana, bo)

    for tab in (ana, bo):
        ended = await tab.next_of("call-ended")
        assert ended == {"type": "call-ended", "call": call, "reason": "no-answer", "by": None}
    # Once no node may report the timer any more, each side's next message is the answer to
    # its next request: no second call-ended came in between (Tab.read checks seq too).
    await no_timer_left(cluster, (RING_TIMER, call))
    for tab in (ana, bo):
        await tab.round_trip()
    await cluster.in_step()
    ended_steps = cluster.recorded("ended")
    assert [s.record.end_reason for _, s in ended_steps] == ["no-answer"]
    reporters = await timer_reports(cluster, call)
    if oldest_reports:
        assert reporters == [oldest.hub.node]
        assert ended_steps[0][0] == oldest.name
    else:
        assert reporters and oldest.hub.node not in reporters
        assert ended_steps[0][0] in (two.name, three.name)


async def test_a_silent_socket_on_a_younger_node_is_closed_by_the_hello_timeout(
    cluster: Cluster,
) -> None:
    """The oldest node reports the hello timer of a socket another node holds; that node
    closes it with 4408."""
    core = dataclasses.replace(CORE, hello_timeout=0.5)
    one, two = await cluster.start(core), await cluster.start(core)
    silent = await cluster.connect(two)
    closing = await silent.receive(timeout=5)
    assert closing.type is aiohttp.WSMsgType.CLOSE, closing
    assert silent.close_code == 4408
    # Its session is forgotten everywhere once the close is in the log.
    await eventually(
        lambda: one.hub.core.session_count == two.hub.core.session_count == 0,
        "every replica forgets the silent socket's session",
    )


async def timer_reports(cluster: Cluster, call: str) -> list[str]:
    """The nodes that reported `call`'s ring timer, read from the log in Redis, in order."""
    client = connect(cluster.redis.url)
    try:
        generation = await current_generation(client)
        assert generation is not None
        redis_log = RedisLog(client, generation, Seal(SECRET), itertools.count(1))
        entries = await redis_log.read(b"0-0", 1, count=100_000)
    finally:
        await client.aclose()
    events = [(entry.origin, redis_log.open(entry).event) for entry in entries]
    return [
        origin
        for origin, event in events
        if isinstance(event, TimerFired) and event.subject == call
    ]


# --- resume -----------------------------------------------------------------------------------


async def test_a_session_dropped_on_one_node_resumes_on_another_with_every_message_once(
    cluster: Cluster,
) -> None:
    one, two = await cluster.start(), await cluster.start()
    ana = await cluster.sign_in(one)
    bo = await cluster.sign_in(two)
    await join(ana, "resume")
    await join(bo, "resume")
    assert await ana.read() == {"type": "peer-joined", "peer": bo.session}

    sent = [offer(ana, 1), candidate(ana, 2), candidate(ana, 3)]
    for message in sent:
        await send_json(bo.ws, message)
    assert await ana.read() == relayed(sent[0], bo)
    cut(ana.ws)  # the rest may sit in the dead socket: written, never read
    while_away = [candidate(ana, n) for n in range(4, 9)] + [offer(ana, 9)]
    for message in while_away:
        await send_json(bo.ws, message)
    await bo.round_trip()

    ws = await cluster.connect(two)
    welcome = await say_hello(ws, token=ana.token, resume=ana.resume, lastSeq=ana.last_seq)
    assert (welcome["resumed"], welcome["session"]) == (True, ana.session)
    assert welcome["instance"] == ana.instance
    ana.ws = ws
    # Tab.read checks each seq is exactly the next one: nothing skipped, nothing twice.
    for message in sent[1:] + while_away:
        assert await ana.read() == relayed(message, bo)
    await ana.round_trip()

    # The session goes on from its new node, both ways; Bo never heard it was gone.
    answer = {"type": "answer", "to": bo.session, "sdp": "v=0 answer"}
    await send_json(ana.ws, answer)
    assert await bo.read() == relayed(answer, ana)
    await send_json(bo.ws, candidate(ana, 10))
    assert await ana.read() == relayed(candidate(ana, 10), bo)


async def test_a_resume_on_another_node_while_the_old_socket_looks_open_takes_it_over(
    cluster: Cluster,
) -> None:
    one, two = await cluster.start(), await cluster.start()
    ana = await cluster.sign_in(one)
    bo = await cluster.sign_in(two)
    await join(ana, "takeover")
    await join(bo, "takeover")
    assert await ana.read() == {"type": "peer-joined", "peer": bo.session}
    old = ana.ws

    ws = await cluster.connect(two)
    welcome = await say_hello(ws, token=ana.token, resume=ana.resume, lastSeq=ana.last_seq)
    assert (welcome["resumed"], welcome["session"]) == (True, ana.session)
    ana.ws = ws
    # Node 1 closes the socket that lost its session, with 4409; nobody was told she left.
    closing = await old.receive(timeout=5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), closing
    assert old.close_code == 4409
    await send_json(bo.ws, candidate(ana, 1))
    assert await ana.read() == relayed(candidate(ana, 1), bo)
    await send_json(ana.ws, candidate(bo, 2))
    assert await bo.read() == relayed(candidate(bo, 2), ana)


async def test_a_node_stopping_in_good_order_hands_its_clients_to_the_others(
    cluster: Cluster,
) -> None:
    """SIGTERM on one node of two: its sockets close with 1012, their sessions wait, and a
    call ringing across it rings on; the clients resume on the node still running."""
    one, two = await cluster.start(), await cluster.start()
    ana = await cluster.sign_in(one, name="Ana", presence=True)
    bo = await cluster.sign_in(two, name="Bo", presence=True)
    assert (await ana.read())["type"] == "presence"
    call = await ring(ana, bo)

    # Bo's client reads on while the node stops, as a client does.
    _, closing = await asyncio.gather(cluster.stop(two), bo.ws.receive(timeout=10))
    assert closing.type is aiohttp.WSMsgType.CLOSE, closing
    assert bo.ws.close_code == 1012

    ws = await cluster.connect(one)
    welcome = await say_hello(ws, token=bo.token, resume=bo.resume, lastSeq=bo.last_seq)
    assert (welcome["resumed"], welcome["session"]) == (True, bo.session)
    bo.ws = ws
    # Nothing was missed, Ana heard nothing, and the call is still there to answer.
    await accept(bo, ana, call, request_id=9)


async def test_a_node_started_later_joins_the_running_cluster_and_serves_earlier_sessions(
    cluster: Cluster,
) -> None:
    one, two = await cluster.start(), await cluster.start()
    ana = await cluster.sign_in(one, name="Ana", presence=True)
    # Presence news go out in windows (PRESENCE_WINDOW_SECONDS): Ana's goes before Bo comes,
    # so Bo finds her in his welcome and only Ana is told (of Bo).
    await asyncio.sleep(PRESENCE_WINDOW_SECONDS + 0.2)
    bo = await cluster.sign_in(two, name="Bo", presence=True)
    assert (await ana.read())["type"] == "presence"
    await join(ana, "late")
    await join(bo, "late")
    assert await ana.read() == {"type": "peer-joined", "peer": bo.session}
    await send_json(bo.ws, offer(ana, 1))
    assert await ana.read() == relayed(offer(ana, 1), bo)
    cut(ana.ws)
    await send_json(bo.ws, candidate(ana, 2))
    await bo.round_trip()

    # Node 3 starts while Bo keeps sending: its snapshot is taken at one point of the log
    # and it reads on from exactly there.
    chatter = [candidate(ana, n) for n in range(3, 63)]

    async def keep_sending() -> None:
        for message in chatter:
            await send_json(bo.ws, message)
            await asyncio.sleep(0.002)

    three, _ = await asyncio.gather(cluster.start(), keep_sending())
    await bo.round_trip()
    # Its replica took over everything the others know: sessions, rooms, replay logs, which
    # node holds which socket, timers.
    await cluster.in_step()
    states = [replica_state(n.hub.replica) for n in (one, two, three)]
    assert states[2] == states[0] == states[1]

    # Ana, whose session is older than node 3, resumes there and misses nothing.
    ws = await cluster.connect(three)
    welcome = await say_hello(ws, token=ana.token, resume=ana.resume, lastSeq=ana.last_seq)
    assert (welcome["resumed"], welcome["session"]) == (True, ana.session)
    ana.ws = ws
    for message in [candidate(ana, 2), *chatter]:
        assert await ana.read() == relayed(message, bo)
    await send_json(ana.ws, {"type": "answer", "to": bo.session, "sdp": "v=0 from three"})
    assert await bo.read() == relayed({"type": "answer", "sdp": "v=0 from three"}, ana)

    # A newcomer on node 3 calls Bo, whose presence predates node 3.
    cy = await cluster.sign_in(three, name="Cy", presence=True)
    await send_json(cy.ws, {"type": "invite", "to": bo.user, "media": "audio", "id": 1})
    ringing = await cy.next_of("ringing")
    assert ringing["callee"] == {"id": bo.user, "name": "Bo"}
    incoming = await bo.next_of("incoming-call")
    assert incoming["call"] == ringing["call"]

    # Bo's socket (opened before node 3 existed) drops: every replica, node 3's too, knows
    # which node held it and keeps his session waiting for a resume.
    cut(bo.ws)

    def bo_away() -> bool:
        return all(
            (session := n.hub.core.session(bo.session)) is not None and session.connection is None
            for n in (one, two, three)
        )

    await eventually(bo_away, "every replica sees Bo's socket gone")
    await cluster.in_step()
    states = [replica_state(n.hub.replica) for n in (one, two, three)]
    assert states[2] == states[0] == states[1]


# --- Redis going away -------------------------------------------------------------------------


async def test_redis_lost_and_back_empty_answers_unavailable_then_starts_over_cleanly(
    cluster: Cluster,
) -> None:
    one, two = await cluster.start(), await cluster.start()
    ana = await cluster.sign_in(one, name="Ana", presence=True)
    bo = await cluster.sign_in(two, name="Bo", presence=True)
    assert (await ana.read())["type"] == "presence"
    call = await ring(ana, bo)
    old_instance = ana.instance

    await asyncio.to_thread(cluster.redis.stop)
    for node in (one, two):
        await cluster.readiness(node, ready=False)

    # New sockets are refused while the node cannot reach the cluster.
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await cluster.http.ws_connect(one.base.replace("http://", "ws://", 1) + "ws")
    assert refused.value.status == 503

    # Said while Redis is away: answered at once, without a seq, never silence.
    for tab, rid in ((ana, "while-down"), (bo, 77)):
        await send_json(tab.ws, {"type": "hangup", "call": call, "id": rid})
        error = await read_frame(tab.ws)
        assert error["type"] == "error" and "seq" not in error, error
        assert (error["code"], error["id"]) == ("unavailable", rid), error

    await asyncio.to_thread(cluster.redis.start)

    # The log is gone: the ringing call ends for both, then every socket closes with 1012.
    for tab in (ana, bo):
        assert await tab.read(timeout=15) == {
            "type": "call-ended",
            "call": call,
            "reason": "connection-lost",
            "by": None,
        }
        closing = await tab.ws.receive(timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), closing
        assert tab.ws.close_code == 1012

    # The clients come back: a new life of the cluster, the same users.
    ana2 = await cluster.sign_in_again(one, name="Ana", presence=True, token=ana.token)
    bo2 = await cluster.sign_in_again(two, name="Bo", presence=True, token=bo.token)
    assert (ana2.user, bo2.user) == (ana.user, bo.user)
    assert ana2.instance != old_instance
    assert bo2.instance == ana2.instance
    # No call is stuck: they can call each other again, and talk.
    again = await ring(ana2, bo2)
    assert again != call
    await send_json(bo2.ws, {"type": "accept", "call": again, "media": "audio", "id": 5})
    assert (await bo2.next_of("call-accepted"))["peer"] == ana2.session
    assert (await ana2.next_of("call-accepted"))["peer"] == bo2.session


async def test_a_redis_blip_with_the_log_whole_goes_on_where_it_stopped(
    cluster: Cluster,
) -> None:
    """Redis stays up with its data but the nodes lose it for a while (their connections cut,
    new ones refused): they answer `unavailable`, remember the sockets that close meanwhile,
    and when Redis answers again they read on in the same generation: no socket is closed,
    numbering goes on, and the closes are reported."""
    one, two = await cluster.start(), await cluster.start()
    ana = await cluster.sign_in(one)
    bo = await cluster.sign_in(two)
    await join(ana, "blip")
    await join(bo, "blip")
    assert await ana.read() == {"type": "peer-joined", "peer": bo.session}

    admin = connect(cluster.redis.url)
    try:
        await admin.config_set("requirepass", "blip-password")
        await admin.client_kill_filter(_type="normal", skipme=True)
        for node in (one, two):
            await cluster.readiness(node, ready=False)

        await send_json(ana.ws, {**offer(bo, 1), "id": "lost"})
        error = await read_frame(ana.ws)
        assert error["type"] == "error" and "seq" not in error, error
        assert (error["code"], error["id"]) == ("unavailable", "lost"), error
        # Bo says goodbye while his node cannot tell the cluster.
        await asyncio.wait_for(bo.ws.close(), 5)
        assert bo.ws.close_code == 1000

        await admin.config_set("requirepass", "")
    finally:
        await admin.aclose()
    for node in (one, two):
        await cluster.readiness(node, ready=True)

    # Bo's goodbye reaches Ana once Redis is back; her socket and numbering went on.
    assert await ana.read(timeout=10) == {
        "type": "peer-left",
        "peer": bo.session,
        "reason": "disconnected",
    }
    await ana.round_trip()
    cy = await cluster.sign_in(two)
    assert cy.instance == ana.instance  # the same generation
    joined = await join(cy, "blip")
    assert joined["peers"] == [{"id": ana.session, "ready": False}]
    assert await ana.read() == {"type": "peer-joined", "peer": cy.session}
    await send_json(ana.ws, offer(cy, 2))
    assert await cy.read() == relayed(offer(cy, 2), ana)
