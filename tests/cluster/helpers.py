"""Helpers for the cluster tests: replicas fed a log by hand (no Redis), and clients of real
nodes that check every message's `seq` is exactly the next one."""

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

import aiohttp
import msgspec
import pytest

from parley.cluster.events import Event
from parley.cluster.ids import EventIds
from parley.cluster.replica import Replica
from parley.cluster.seal import Seal
from parley.cluster.snapshot import ReplicaSnapshot, decode_snapshot, encode_snapshot
from parley.core.effects import Effect, Send
from parley.core.signaling import CoreSettings, SignalingCore
from parley.identity import GuestIdentities
from tests.server.helpers import send_json
from tests.support.raw_client import Tab as SessionTab

SECRET = b"cluster-test-secret-of-32-bytes!"
assert len(SECRET) == 32

# --- replicas without Redis -------------------------------------------------------------------


def make_replica(
    settings: CoreSettings, generation: str = "gen-1", secret: bytes = SECRET
) -> Replica:
    """A replica built the way a node builds its own (parley.cluster.app): one EventIds feeds
    session and call ids, guest user ids and resume tokens."""
    ids = EventIds(secret, generation)
    identities = GuestIdentities(secret, new_id=ids)
    core = SignalingCore(
        settings,
        new_id=ids,
        identities=identities,
        instance=generation,
        new_token=ids,
        ticket_key=b"c" * 32,  # every node of a cluster derives the same key from its secret
    )
    return Replica(core, ids)


def as_handed(snapshot: ReplicaSnapshot, node: str = "joining") -> ReplicaSnapshot:
    """`snapshot` as a joining node takes it from Redis: encoded and sealed, then opened and
    decoded."""
    seal = Seal(SECRET)
    sealed = seal.seal("snapshot", "gen-1", node, encode_snapshot(snapshot))
    return decode_snapshot(seal.open("snapshot", "gen-1", node, sealed))


@dataclass
class LogFeed:
    """Plays the part of Redis: numbers events without gaps, stamps each with a time (the
    entry id is Redis's clock, as in a stream), and hands them to every replica alike."""

    replicas: list[Replica]
    now: float = 1_000.0
    number: int = 0
    entries: list[tuple[int, bytes, Event, float]] = field(default_factory=list)

    def apply(self, event: Event, *, at: float | None = None) -> list[list[Effect]]:
        """Appends `event` (at time `at`, default the feed's clock) and returns each replica's
        effects, in the replicas' order."""
        if at is not None:
            assert at >= self.now, "the log's clock does not go back"
            self.now = at
        self.number += 1
        entry = f"{int(self.now * 1000)}-{self.number}".encode()
        self.entries.append((self.number, entry, event, self.now))
        return [r.apply(self.number, entry, event, self.now) for r in self.replicas]


def effect_view(effects: Iterable[Effect]) -> list[Any]:
    """Effects as comparable values: a Send's `seq` is left out of its equality, so it is
    spelled out here."""
    view: list[Any] = []
    for effect in effects:
        if isinstance(effect, Send):
            view.append(("send", effect.session, effect.message, effect.seq))
        else:
            view.append(effect)
    return view


def plain(value: Any, _seen: frozenset[int] = frozenset()) -> Any:
    """A deep copy of `value` in plain data (dicts, lists, tuples, scalars), naming each
    object's type, so that two replicas' states compare with ==, and pytest shows where they
    differ. Callables (id sources, configuration) are reduced to their type's name."""
    if value is None or isinstance(value, str | bytes | int | float | bool):
        return value
    if isinstance(value, msgspec.Raw):  # a relayed payload, kept as the client's JSON
        return ("Raw", bytes(value))
    if id(value) in _seen:
        return ("<cycle>", type(value).__name__)
    seen = _seen | {id(value)}
    if isinstance(value, EventIds):
        # An id source: its counters restart with every entry; what it is keyed by matters.
        return ("EventIds", value._generation)
    if isinstance(value, dict):
        return {"<dict>": [(plain(k, seen), plain(v, seen)) for k, v in value.items()]}
    if isinstance(value, list | tuple) or type(value).__name__ == "deque":
        return [type(value).__name__, [plain(v, seen) for v in value]]
    if isinstance(value, set | frozenset):
        return ["set", sorted((plain(v, seen) for v in value), key=repr)]
    if hasattr(value, "__struct_fields__"):  # msgspec messages
        names = value.__struct_fields__
        return (type(value).__name__, {f: plain(getattr(value, f), seen) for f in names})
    if is_dataclass(value) and not isinstance(value, type):
        names = [f.name for f in fields(value)]
        return (type(value).__name__, {f: plain(getattr(value, f), seen) for f in names})
    attributes: dict[str, Any] = {}
    for klass in type(value).__mro__:
        for name in getattr(klass, "__slots__", ()):
            if hasattr(value, name):
                attributes[name] = getattr(value, name)
    attributes.update(getattr(value, "__dict__", {}))
    if attributes:
        return (type(value).__name__, {k: plain(v, seen) for k, v in sorted(attributes.items())})
    if callable(value):
        return ("<callable>", type(value).__name__)
    return (type(value).__name__, repr(value))


def replica_state(replica: Replica, *, position: bool = True) -> Any:
    """Everything a replica knows, as plain data (with how far into the log it is, unless
    `position` is false)."""
    state: dict[str, Any] = {
        "core": replica.core.export_state(),
        "nodes": replica.nodes,
        "connections": replica.connections,
        "deadlines": replica.deadlines,
    }
    if position:
        state["position"] = replica.position
    return plain(state)


def frame(message_type: str, **fields_: Any) -> str:
    return json.dumps({"type": message_type, **fields_})


# --- clients of real nodes --------------------------------------------------------------------


@dataclass
class Tab(SessionTab):
    """A client of a node (see tests/support/raw_client.py), with a round trip of its own."""

    async def round_trip(self) -> None:
        """A request answered at once (`ice-servers` with an id is refused or answered; a
        second hello is refused): every frame sent before it was handled once the answer is
        here, and nothing unexpected came in between."""
        await send_json(self.ws, {"type": "hello", "v": 1, "id": "sync"})
        reply = await self.read()
        assert (reply["type"], reply.get("code"), reply.get("id")) == (
            "error",
            "already-welcomed",
            "sync",
        ), reply


def tab_of(ws: aiohttp.ClientWebSocketResponse, welcome: dict[str, Any], token: str = "") -> Tab:
    return Tab(
        ws,
        welcome["session"],
        welcome["user"]["id"],
        welcome.get("token") or token,
        welcome["resume"],
        welcome["instance"],
    )


async def eventually(
    check: Any,
    what: str,
    seconds: float = 10.0,
) -> None:
    """Polls `check()` (sync) until it is true; fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {seconds} s")
        await asyncio.sleep(0.02)
