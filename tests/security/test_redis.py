"""Someone who can write to the cluster's Redis (but does not know the cluster's secret) gets at
most a denial of service: nodes refuse snapshots and log entries that no node of the cluster
sealed, and never unpickle, or otherwise run, anything read from Redis.

The attacker here knows the code (it is open source): it reads the log, decodes what it can,
and writes where the nodes read."""

import asyncio
import logging
import os
import pickle
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from parley.cluster.events import (
    Event,
    NodeJoined,
    Stamped,
    SyncRequest,
    Text,
    decode_entry,
    encode_entry,
)
from parley.cluster.redis_log import PREFIX, Redis, connect, current_generation
from parley.cluster.replica import Replica
from parley.cluster.seal import Refused, Seal
from parley.cluster.snapshot import SNAPSHOT_VERSION, decode_snapshot, encode_snapshot
from parley.core.signaling import CoreSettings
from tests.cluster.helpers import SECRET, Tab, eventually, make_replica, replica_state
from tests.cluster.nodes import Cluster, Node
from tests.support.raw_client import offer, relayed

OTHER_SECRET = b"not-the-cluster-secret-32-bytes!"


class Gadget:
    """Runs a shell command when unpickled (the classic __reduce__ gadget)."""

    def __init__(self, marker: Path) -> None:
        self.command = f"touch {shlex.quote(str(marker))}"

    def __reduce__(self) -> tuple[Callable[[str], int], tuple[str]]:
        return (os.system, (self.command,))


def gadget(marker: Path) -> bytes:
    return pickle.dumps(Gadget(marker))


# Appends as the nodes do (numbered without gaps), so that the nodes read the entry in place.
_ADD_ENTRY = """
local n = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], '*', 'n', n, 'o', ARGV[1], 'e', ARGV[2])
return n
"""


class Attacker:
    def __init__(self, url: str) -> None:
        self.redis: Redis = connect(url)

    async def generation(self) -> str:
        generation = await current_generation(self.redis)
        assert generation is not None
        return generation

    async def entries(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        generation = await self.generation()
        answer: Any = await self.redis.xrange(f"{PREFIX}:{generation}:log")
        return list(answer)

    async def add_entry(self, origin: str, sealed: bytes) -> int:
        generation = await self.generation()
        keys = [f"{PREFIX}:{generation}:log", f"{PREFIX}:{generation}:n"]
        return int(await self.redis.eval(_ADD_ENTRY, 2, *keys, origin, sealed))

    async def answer_sync_requests(self, payload: Callable[[str, str], bytes]) -> None:
        """Pushes `payload(generation, node)` to the sync key of every node that asks for a
        snapshot (SyncRequest entries are sealed, not encrypted: anyone can read them)."""
        generation = await self.generation()
        after = b"0-0"
        while True:
            answer: Any = await self.redis.xread({f"{PREFIX}:{generation}:log": after}, block=200)
            for _stream, items in answer or ():
                for entry_id, fields in items:
                    after = entry_id
                    event = read_event(fields)
                    if isinstance(event, SyncRequest):
                        key = f"{PREFIX}:{generation}:sync:{event.node}"
                        await self.redis.rpush(key, payload(generation, event.node))


def read_event(fields: dict[bytes, bytes]) -> Event:
    """An entry's event, read without the key (the body is not encrypted)."""
    body, _mac = msgspec.msgpack.decode(fields[b"e"], type=tuple[bytes, bytes])
    return decode_entry(body).event


async def join_room(first: Tab, second: Tab) -> None:
    for tab in (first, second):
        await tab.send({"type": "join", "room": "r", "id": "j"})
        assert (await tab.read())["type"] == "joined"
    assert await first.read() == {"type": "peer-joined", "peer": second.session}


def refusals(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records)


# --- the seal, without Redis --------------------------------------------------------------------


def test_a_pickle_gadget_is_refused_without_being_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    pickle.loads(gadget(marker))  # noqa: S301 - the control: the gadget does work
    assert marker.exists()
    marker.unlink()
    seal = Seal(SECRET)
    for purpose in ("entry", "snapshot"):
        with pytest.raises(Refused):
            seal.open(purpose, "gen-1", "node", gadget(marker))
    # Even sealed with the right key, a pickle is no entry and no snapshot.
    for decode in (decode_entry, decode_snapshot):
        with pytest.raises(Refused):
            decode(gadget(marker))
    assert not marker.exists()


def test_a_seal_holds_only_for_its_secret_generation_subject_and_purpose() -> None:
    seal = Seal(SECRET)
    body = encode_entry(1, NodeJoined("A"))
    sealed = seal.seal("entry", "gen-1", "A", body)
    assert seal.open("entry", "gen-1", "A", sealed) == body
    with pytest.raises(Refused):
        Seal(OTHER_SECRET).open("entry", "gen-1", "A", sealed)
    with pytest.raises(Refused):
        seal.open("entry", "gen-2", "A", sealed)
    with pytest.raises(Refused):
        seal.open("entry", "gen-1", "B", sealed)
    with pytest.raises(Refused):
        seal.open("snapshot", "gen-1", "A", sealed)
    envelope = msgspec.msgpack.decode(sealed, type=tuple[bytes, bytes])
    tampered = msgspec.msgpack.encode((encode_entry(1, NodeJoined("X")), envelope[1]))
    with pytest.raises(Refused):
        seal.open("entry", "gen-1", "A", tampered)


def test_a_snapshot_or_entry_of_another_version_is_refused() -> None:
    replica = make_replica(CoreSettings())
    snapshot = msgspec.structs.replace(replica.snapshot(), version=SNAPSHOT_VERSION + 1)
    with pytest.raises(Refused, match="version"):
        decode_snapshot(encode_snapshot(snapshot))
    entry = msgspec.msgpack.encode(Stamped(99, 1, NodeJoined("A")))
    with pytest.raises(Refused, match="version"):
        decode_entry(entry)


def test_a_replayed_entry_is_refused_by_every_replica_alike() -> None:
    replicas: list[Replica] = [make_replica(CoreSettings()) for _ in range(2)]
    for replica in replicas:
        assert replica.admit("A", 1)
        assert replica.admit("A", 2)
        assert not replica.admit("A", 2)
        assert not replica.admit("A", 1)
        assert replica.admit("B", 1)  # each node numbers its own
    assert replica_state(replicas[0]) == replica_state(replicas[1])


# --- nodes on a real Redis ----------------------------------------------------------------------


def pickled(marker: Path) -> Callable[[Node], Callable[[str, str], bytes]]:
    return lambda running: lambda generation, node: gadget(marker)


def other_secret(running: Node) -> Callable[[str, str], bytes]:
    def payload(generation: str, node: str) -> bytes:
        body = encode_snapshot(running.hub.replica.snapshot())
        return Seal(OTHER_SECRET).seal("snapshot", generation, node, body)

    return payload


def other_version(running: Node) -> Callable[[str, str], bytes]:
    """As a node of another release (it has the secret) would hand it."""

    def payload(generation: str, node: str) -> bytes:
        snapshot = running.hub.replica.snapshot()
        later = msgspec.structs.replace(snapshot, version=SNAPSHOT_VERSION + 1)
        return Seal(SECRET).seal("snapshot", generation, node, encode_snapshot(later))

    return payload


@pytest.mark.parametrize("kind", ["pickle", "other-secret", "other-version"])
async def test_a_joining_node_refuses_a_planted_snapshot_and_joins_once_a_node_answers(
    cluster: Cluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    caplog.set_level(logging.WARNING, logger="parley.cluster")
    marker = tmp_path / "pwned"
    one = await cluster.start()
    ana = await cluster.sign_in(one, name="Ana")
    # The running node stays silent for a while: the attacker's snapshot is the only one.
    hand_snapshot = one.hub._hand_snapshot
    monkeypatch.setattr(one.hub, "_hand_snapshot", lambda node: None)
    payloads = {"pickle": pickled(marker), "other-secret": other_secret}
    payloads["other-version"] = other_version
    attacker = Attacker(cluster.redis.url)
    planting = asyncio.create_task(attacker.answer_sync_requests(payloads[kind](one)))
    joining = asyncio.create_task(cluster.start())
    try:
        await eventually(
            lambda: refusals(caplog, "refused the snapshot") >= 2,
            "the joining node refuses the planted snapshots",
        )
        assert not joining.done()  # still trying: neither crashed nor founded a cluster
        assert not marker.exists()
    finally:
        planting.cancel()
        await attacker.redis.aclose()
    # The running node answers again: the joining one gets the real state.
    monkeypatch.setattr(one.hub, "_hand_snapshot", hand_snapshot)
    two = await asyncio.wait_for(joining, 20)
    await cluster.in_step()
    assert replica_state(two.hub.replica) == replica_state(one.hub.replica)
    bo = await cluster.sign_in(two, name="Bo")
    await join_room(ana, bo)
    await ana.send(offer(bo, 1))
    assert await bo.read() == relayed(offer(bo, 1), ana)
    assert not marker.exists()


async def test_planted_and_replayed_log_entries_are_refused_and_the_nodes_go_on(
    cluster: Cluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="parley.cluster")
    marker = tmp_path / "pwned"
    one, two = await cluster.start(), await cluster.start()
    ana = await cluster.sign_in(one, name="Ana")
    bo = await cluster.sign_in(two, name="Bo")
    await join_room(ana, bo)
    await bo.send(offer(ana, 1))
    assert await ana.read() == relayed(offer(ana, 1), bo)
    await bo.round_trip()
    attacker = Attacker(cluster.redis.url)
    try:
        generation = await attacker.generation()
        entries = await attacker.entries()
        # Bo's offer, word for word: sealed by his node, but already in the log.
        (replay,) = [
            fields
            for _id, fields in entries
            if isinstance(text := read_event(fields), Text) and '"offer"' in text.frame
        ]
        forged_text = Text(bo.session, '{"type":"leave","room":"x"}')
        forged = Seal(OTHER_SECRET).seal(
            "entry", generation, two.hub.node, encode_entry(10**9, forged_text)
        )
        planted = [
            (two.hub.node, gadget(marker)),
            (two.hub.node, forged),
            (replay[b"o"].decode(), replay[b"e"]),
            ("nobody", b"\xc1 not msgpack"),
        ]
        for origin, sealed in planted:
            await attacker.add_entry(origin, sealed)
    finally:
        await attacker.redis.aclose()

    await eventually(
        lambda: refusals(caplog, "refused log entry") >= 2 * len(planted),
        "both nodes refuse every planted entry",
    )
    assert refusals(caplog, "replayed") == 2
    assert not marker.exists()
    # Both nodes still follow the log, in step, and Ana got no second offer.
    await ana.round_trip()
    await bo.round_trip()
    await cluster.in_step()
    assert replica_state(one.hub.replica) == replica_state(two.hub.replica)
    await ana.send(offer(bo, 2))
    assert await bo.read() == relayed(offer(bo, 2), ana)
