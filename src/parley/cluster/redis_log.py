"""The cluster's log in Redis: one stream per generation, every entry numbered without gaps.

A generation is one life of the log. It starts when the first node finds none (or finds only a
dead one: no node heartbeats), and ends if Redis loses it (restarted without its data). Keys:

    parley:generation            the current generation's id
    parley:{gen}:log             the stream; entries {n, o (origin node), e (sealed event)}
    parley:{gen}:n               the last entry's number
    parley:{gen}:node:{node}     a node's heartbeat (expires when the node stops beating)
    parley:{gen}:sync:{node}     the (sealed) snapshot handed to a joining node

Anyone who can write to Redis can write these keys: what a node reads from the log and the sync
keys is sealed (parley.cluster.seal) and refused unless another node of the cluster wrote it.
"""

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from parley.cluster.events import Event, Stamped, decode_entry, encode_entry
from parley.cluster.seal import Seal
from parley.cluster.snapshot import ReplicaSnapshot, decode_snapshot, encode_snapshot

# Created with decode_responses off: every answer is bytes.
Redis = redis.Redis

PREFIX = "parley"
GENERATION_KEY = f"{PREFIX}:generation"
SECRET_CHECK_KEY = f"{PREFIX}:secret-check"
# How far back the log is kept (by its entries' time, so the memory it takes follows the traffic:
# a count would let 64-KiB frames pile up). A node further behind cannot catch up and starts over.
LOG_SECONDS = 30
HEARTBEAT_SECONDS = 1.0
# A node that missed this many beats is gone.
HEARTBEAT_TTL_SECONDS = 3.0
SNAPSHOT_TTL_SECONDS = 30


def connect(url: str) -> Redis:
    """A client for the cluster's Redis. A blocking read waits up to a second, so a Redis that
    stops answering is noticed in a few. No automatic retries: an append retried after Redis ran
    it (the answer lost) would put the same events in the log twice. The node retries itself,
    knowing where the log stands."""
    client: Redis = redis.Redis.from_url(
        url, socket_timeout=5.0, socket_connect_timeout=2.0, retry=Retry(NoBackoff(), 0)
    )
    return client


# Numbers and appends a batch atomically, and only to the generation the node belongs to: after
# Redis lost its data a stale node must not start a stream of its own under the old name. A batch
# the node sends again (its first append got no answer) enters once: nodes number their batches.
_APPEND = """
if redis.call('GET', KEYS[3]) ~= ARGV[1] then
  return redis.error_reply('PARLEY_GENERATION gone')
end
local batch = tonumber(ARGV[4])
if batch > 0 then
  if tonumber(redis.call('HGET', KEYS[4], ARGV[3]) or '0') >= batch then
    return -1
  end
  redis.call('HSET', KEYS[4], ARGV[3], batch)
end
local count = #ARGV - 4
local n = redis.call('INCRBY', KEYS[2], count) - count
local now = redis.call('TIME')
local oldest = now[1] * 1000 + math.floor(now[2] / 1000) - ARGV[2] * 1000
for i = 5, #ARGV do
  n = n + 1
  redis.call('XADD', KEYS[1], 'MINID', '~', oldest, '*', 'n', n, 'o', ARGV[3], 'e', ARGV[i])
end
return n
"""

# The founder's heartbeat is set with the generation: a node looking a moment later must not
# take the new generation for a dead one (and replace it in turn).
# Decides a batch whose append got no answer: if it is not in the log, it never will be (its
# number is taken), and the node can tell its senders so.
_SETTLE = """
if tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') >= tonumber(ARGV[2]) then
  return 1
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 0
"""

_FOUND_GENERATION = """
local current = redis.call('GET', KEYS[1])
if (current == false and ARGV[1] == '') or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return 1
end
return 0
"""


class GenerationGone(Exception):
    """The log this node followed no longer exists (Redis lost it, or a new one replaced it)."""


class SecretMismatch(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Entry:
    """An entry as Redis holds it: its event still sealed (RedisLog.open)."""

    number: int
    id: bytes
    origin: str
    sealed: bytes

    @property
    def time(self) -> float:
        """Redis's clock when the entry was added: the one clock every replica agrees on."""
        return int(self.id.split(b"-", 1)[0]) / 1000


class RedisLog:
    """One generation's log. `seqs` numbers the entries this node appends (see
    parley.cluster.events.Stamped): one count for all of a node's logs, never going back."""

    def __init__(self, client: Redis, generation: str, seal: Seal, seqs: Iterator[int]) -> None:
        self._redis = client
        self.generation = generation
        self._seal = seal
        self._seqs = seqs
        self._append = client.register_script(_APPEND)

    def _key(self, name: str) -> str:
        return f"{PREFIX}:{self.generation}:{name}"

    async def append(self, origin: str, events: Sequence[Event], batch: int = 0) -> int:
        """Adds events in this order; returns the number of the last one (-1: `batch` was
        appended before). `batch` numbers the origin's appends, from 1; 0: unnumbered."""
        try:
            return int(
                await self._append(
                    keys=[self._key("log"), self._key("n"), GENERATION_KEY, self._key("batches")],
                    args=[
                        self.generation,
                        LOG_SECONDS,
                        origin,
                        batch,
                        *(self._sealed(origin, event) for event in events),
                    ],
                )
            )
        except redis.ResponseError as exc:
            if "PARLEY_GENERATION" in str(exc):
                raise GenerationGone(self.generation) from None
            raise

    def _sealed(self, origin: str, event: Event) -> bytes:
        body = encode_entry(next(self._seqs), event)
        return self._seal.seal("entry", self.generation, origin, body)

    def open(self, entry: Entry) -> Stamped:
        """The entry's event; raises parley.cluster.seal.Refused."""
        body = self._seal.open("entry", self.generation, entry.origin, entry.sealed)
        return decode_entry(body)

    async def settle(self, origin: str, batch: int) -> bool:
        """Whether batch number `batch` of `origin` entered the log; if not, it never will."""
        entered = self._redis.eval(_SETTLE, 1, self._key("batches"), origin, batch)
        return bool(await entered)

    async def read(self, after: bytes, block_ms: int, count: int = 1000) -> list[Entry]:
        answer: Any = await self._redis.xread(
            {self._key("log"): after}, count=count, block=block_ms
        )
        return [
            _entry(entry_id, fields)
            for _stream, items in answer or ()
            for entry_id, fields in items
        ]

    async def still_current(self, number: int) -> bool:
        """Whether this generation still holds every entry after `number` (after Redis came
        back: it may have restarted empty, or from an older save)."""
        current, last = await self._redis.mget(GENERATION_KEY, self._key("n"))
        return current == self.generation.encode() and last is not None and int(last) >= number

    async def beat(self, node: str) -> None:
        await self._redis.set(self._key(f"node:{node}"), b"1", px=int(HEARTBEAT_TTL_SECONDS * 1000))

    async def forget_node(self, node: str) -> None:
        await self._redis.delete(self._key(f"node:{node}"))

    async def beating(self, nodes: Sequence[str]) -> list[bool]:
        if not nodes:
            return []
        found = await self._redis.mget([self._key(f"node:{node}") for node in nodes])
        return [value is not None for value in found]

    async def any_node_beating(self) -> bool:
        async for _key in self._redis.scan_iter(match=self._key("node:*"), count=1000):
            return True
        return False

    def seal_snapshot(self, node: str, snapshot: ReplicaSnapshot) -> bytes:
        """The snapshot for `node`, encoded now: the replica goes on changing after this."""
        return self._seal.seal("snapshot", self.generation, node, encode_snapshot(snapshot))

    async def hand_snapshot(self, node: str, sealed: bytes) -> None:
        key = self._key(f"sync:{node}")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, sealed)
            pipe.expire(key, SNAPSHOT_TTL_SECONDS)
            await pipe.execute()

    async def take_snapshot(self, node: str, *, wait: float) -> ReplicaSnapshot | None:
        """Waits up to `wait` seconds (Redis blocks, not this process) for the snapshot meant
        for `node`; raises parley.cluster.seal.Refused for one no node of the cluster sealed."""
        answer: Any = await self._redis.blpop([self._key(f"sync:{node}")], timeout=wait)
        if answer is None:
            return None
        body = self._seal.open("snapshot", self.generation, node, bytes(answer[1]))
        return decode_snapshot(body)

    async def drop(self) -> None:
        """Deletes this (dead) generation's log."""
        await self._redis.delete(self._key("log"), self._key("n"), self._key("batches"))


def _entry(entry_id: bytes, fields: dict[bytes, bytes]) -> Entry:
    """Anyone with access to Redis may have written the entry: a malformed one gets a number no
    entry has (the node then takes the log for broken and starts over), or an origin its seal
    cannot match (the entry is refused)."""
    try:
        number = int(fields.get(b"n", b""))
    except ValueError:
        number = -1
    origin = fields.get(b"o", b"").decode(errors="replace")
    return Entry(number, entry_id, origin, bytes(fields.get(b"e", b"")))


async def current_generation(client: Redis) -> str | None:
    value: Any = await client.get(GENERATION_KEY)
    return None if value is None else value.decode()


async def found_generation(client: Redis, replacing: str | None, new: str, node: str) -> bool:
    """Makes `new` the current generation, with `node` beating in it, if the current one is
    still `replacing` (None: if there is none). Of nodes racing to found one, one wins."""
    heartbeat = f"{PREFIX}:{new}:node:{node}"
    ttl = int(HEARTBEAT_TTL_SECONDS * 1000)
    found = client.eval(_FOUND_GENERATION, 2, GENERATION_KEY, heartbeat, replacing or "", new, ttl)
    return bool(await found)


async def check_secret(client: Redis, secret: bytes) -> None:
    """Every node must sign guest tokens with the same secret, or a guest who lands on another
    node becomes someone else. Only a digest of it is kept in Redis."""
    digest = hashlib.sha256(b"parley-secret-check:" + secret).hexdigest()
    await client.set(SECRET_CHECK_KEY, digest, nx=True)
    stored: Any = await client.get(SECRET_CHECK_KEY)
    if stored is not None and stored.decode() != digest:
        raise SecretMismatch(
            "this node's secret differs from the cluster's: give every node the same "
            "PARLEY_SECRET (or the same data directory)"
        )
