"""A bounded fuzz run against a live server: 100,000 frames of garbage and near-misses.

Several WebSocket clients send random bytes as text, real protocol messages with characters
flipped, inserted or deleted, huge strings just under the frame limit, deep nesting and random
unicode, mixed with valid hello/join/relay/call traffic, while reading every reply. The run is
bounded by a frame count and a time budget; the frames are seeded, so a failure replays.

"Strict" clients never join a room or go online, so each of their frames gets exactly one reply:
they check it is the very error the codec gives for that frame, in order. "Free" clients send
valid traffic too and check every reply is a documented message. Afterwards every socket must
still be open and answering, a fresh pair of clients must still get a room call going, no
`internal-error` may have been sent and nothing may have been logged at ERROR.
"""

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from parley.config import ServerSettings
from parley.core.signaling import CoreSettings
from parley.protocol.codec import DecodeFailure, decode_client_frame
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import SERVER_MESSAGE_TYPES, message_type

from .helpers import (
    Client,
    ConnectWs,
    StartServer,
    join,
    receive_json,
    send_json,
    without_seq,
)

SEED = 0x9A7 + 2026
FRAMES = 100_000
TIME_BUDGET = 50.0  # seconds for the whole fuzz phase; the test fails if it runs out
STRICT_CLIENTS = 4
FREE_CLIENTS = 3
IN_FLIGHT = 400  # frames a strict client may have sent but not yet had answered
SYNC_EVERY = 250  # a free client's frames between two round trips
MAX_FRAME_BYTES = 64 * 1024
ROOMS = ("fuzz-a", "fuzz-b")
# No rate limit ends the run early: not the socket's, nor the per-user ones on calls.
UNLIMITED = ServerSettings(
    messages_per_second=1e9,
    message_burst=1e9,
    core=CoreSettings(invites_per_minute=10**9, ice_requests_per_minute=10**9),
)

SERVER_TYPES = frozenset(message_type(cls) for cls in SERVER_MESSAGE_TYPES)
ERROR_CODES = frozenset(code.value for code in ErrorCode)

SDP = (
    "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
)
CANDIDATE = {
    "candidate": "candidate:842163049 1 udp 1677729535 192.0.2.7 46154 typ srflx raddr 0.0.0.0",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
    "usernameFragment": "a1b2",
}
# Real protocol messages, the raw material for mutations.
CORPUS = [
    json.dumps(message)
    for message in (
        {"type": "hello", "v": 1, "name": "Fuzzy", "presence": True, "id": 1},
        {"type": "hello", "v": 1, "token": "g1.AAAAAAAAAAAAAAAAAAAAAA.bm90LWEtbWFj", "id": "h"},
        {"type": "join", "room": "blue-fox", "id": 2},
        {"type": "ready"},
        {"type": "offer", "to": "AAAAAAAAAAAAAAAAAAAAAA", "sdp": SDP, "id": 3},
        {"type": "answer", "to": "AAAAAAAAAAAAAAAAAAAAAA", "sdp": SDP},
        {"type": "candidate", "to": "AAAAAAAAAAAAAAAAAAAAAA", "candidate": CANDIDATE},
        {"type": "candidate", "to": "AAAAAAAAAAAAAAAAAAAAAA", "candidate": None, "id": 4},
        {"type": "leave", "id": "bye"},
        {"type": "ice-servers", "id": 5},
        {"type": "invite", "to": "AAAAAAAAAAAAAAAAAAAAAA", "media": "video", "id": 6},
        {"type": "accept", "call": "AAAAAAAAAAAAAAAAAAAAAA", "media": "audio", "id": 7},
        {"type": "reject", "call": "AAAAAAAAAAAAAAAAAAAAAA"},
        {"type": "cancel", "call": "AAAAAAAAAAAAAAAAAAAAAA", "id": 8},
        {"type": "hangup", "call": "AAAAAAAAAAAAAAAAAAAAAA", "id": 9},
    )
]
JSON_CHARS = '{}[]":,\\ 0123456789.-+eEtrufalsn'
FIELD_NAMES = ["type", "id", "v", "room", "to", "sdp", "candidate", "call", "media", "name"]
TYPES = ["hello", "join", "ready", "offer", "answer", "candidate", "leave", "ice-servers"]
TYPES += ["invite", "accept", "reject", "cancel", "hangup", "welcome", "error", "", "HELLO"]


# --- frame generators -------------------------------------------------------------------------


def random_unicode(rng: random.Random, length: int) -> str:
    chars = []
    for _ in range(length):
        point = rng.choice(
            (rng.randrange(0x20, 0x7F), rng.randrange(0x80, 0x800), rng.randrange(0x110000))
        )
        if 0xD800 <= point <= 0xDFFF:  # lone surrogates cannot travel as UTF-8
            point = 0xFFFD
        chars.append(chr(point))
    return "".join(chars)


def short_length(rng: random.Random, mean: float = 40.0, cap: int = 4000) -> int:
    return min(int(rng.expovariate(1 / mean)), cap)


def random_bytes_as_text(rng: random.Random) -> str:
    data = rng.randbytes(short_length(rng))
    return data.decode("latin-1") if rng.random() < 0.5 else data.decode("utf-8", "replace")


def mutate(rng: random.Random, text: str) -> str:
    """Flips, inserts or deletes a few characters, or cuts the message short."""
    for _ in range(rng.randint(1, 4)):
        where = rng.randrange(len(text) + 1)
        char = rng.choice(JSON_CHARS) if rng.random() < 0.7 else random_unicode(rng, 1)
        match rng.randrange(4):
            case 0:
                text = text[:where] + char + text[where + 1 :]
            case 1:
                text = text[:where] + char + text[where:]
            case 2:
                text = text[:where] + text[where + 1 :]
            case _:
                text = text[:where]
    return text


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 7)
    match kind:
        case 0:
            return None
        case 1:
            return rng.random() < 0.5
        case 2:
            return rng.choice([0, -1, 1, 2**53 - 1, 2**53, 2**64, rng.randrange(-(10**6), 10**6)])
        case 3:
            return rng.uniform(-1e9, 1e9)
        case 4:
            return random_unicode(rng, short_length(rng, 10))
        case 5:
            return rng.choice(["", "x" * 65, "audio", "video", "blue-fox", "a b", "\u0000"])
        case 6:
            return rng.choice(TYPES)
        case 7:
            return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
        case _:
            keys = rng.sample(FIELD_NAMES, rng.randrange(4))
            return {k: random_value(rng, depth + 1) for k in keys}


def random_object(rng: random.Random) -> str:
    """A JSON object with protocol field names and values of any kind; `type` often valid."""
    obj = {k: random_value(rng) for k in rng.sample(FIELD_NAMES, rng.randrange(1, 6))}
    if rng.random() < 0.6:
        obj["type"] = rng.choice(TYPES)
    return json.dumps(obj, ensure_ascii=rng.random() < 0.5)


def deep_nesting(rng: random.Random) -> str:
    depth = rng.choice(
        [rng.randrange(1, 200), rng.randrange(200, 5000), rng.randrange(5000, 30000)]
    )
    opener, closer = rng.choice([("[", "]"), ('{"a":', "}"), ('[{"x":', "}]")])
    depth = min(depth, (MAX_FRAME_BYTES - 64) // len(opener + closer))  # stay under the limit
    inner = "1" if opener != "[" else ""
    nested = opener * depth + inner + closer * depth
    if rng.random() < 0.3:
        nested = nested[: rng.randrange(len(nested) + 1)]  # unbalanced
    if rng.random() < 0.5:
        return f'{{"type": "ready", "id": {rng.randrange(100)}, "deep": {nested}}}'
    return nested


def huge_frame(rng: random.Random) -> str:
    """Between 32 KiB and the 64 KiB limit: long strings where short ones belong."""
    size = rng.randrange(32 * 1024, MAX_FRAME_BYTES - 64)
    match rng.randrange(5):
        case 0:
            frame = '{"type": "offer", "to": "x", "sdp": "' + "s" * size + '"}'
        case 1:
            frame = '{"type": "' + "t" * size + '", "id": "huge"}'
        case 2:
            frame = '{"type": "join", "room": "' + "r" * size + '", "id": 11}'
        case 3:
            frame = '{"type": "hello", "v": 1, "name": "' + "\u00e9" * (size // 2) + '"}'
        case _:
            frame = random_unicode(rng, 64) * (size // 256)
    encoded = frame.encode()
    if len(encoded) > MAX_FRAME_BYTES:
        frame = encoded[:MAX_FRAME_BYTES].decode("utf-8", "ignore")
    return frame


def fuzz_frame(rng: random.Random) -> tuple[str, str]:
    """(category, frame) for one frame of garbage or near-miss, never over the frame limit
    (a larger frame rightly closes the socket with 1009, which would end the run)."""
    category, frame = any_fuzz_frame(rng)
    assert len(frame.encode()) <= MAX_FRAME_BYTES, (category, len(frame.encode()))
    return category, frame


def any_fuzz_frame(rng: random.Random) -> tuple[str, str]:
    roll = rng.random()
    if roll < 0.20:
        return "random-bytes", random_bytes_as_text(rng)
    if roll < 0.55:
        return "mutated", mutate(rng, rng.choice(CORPUS))
    if roll < 0.70:
        return "unicode", random_unicode(rng, short_length(rng))
    if roll < 0.92:
        return "random-object", random_object(rng)
    if roll < 0.995:
        return "deep", deep_nesting(rng)
    return "huge", huge_frame(rng)


# --- clients ----------------------------------------------------------------------------------


@dataclass
class FuzzClient:
    name: str
    ws: aiohttp.ClientWebSocketResponse
    session: str
    user: str
    strict: bool
    sent: int = 0
    received: int = 0
    synced: int = -1
    expected: deque[dict[str, Any]] = field(default_factory=deque)
    replies: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    closed: str | None = None
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, frame: str) -> bool:
        """Sends one frame; False when the socket turned out to be closed."""
        try:
            await self.ws.send_str(frame)
        except ConnectionError as exc:
            self.closed = self.closed or f"{exc!r} (close code {self.ws.close_code})"
            return False
        self.sent += 1
        return True

    def problem(self, text: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(text)


async def open_client(connect_ws: ConnectWs, base_url: str, name: str, strict: bool) -> FuzzClient:
    ws = await connect_ws(base_url)
    hello = {"type": "hello", "v": 1, "name": name, "presence": not strict}
    await send_json(ws, hello)
    welcome = await receive_json(ws)
    assert welcome["type"] == "welcome", welcome
    return FuzzClient(name, ws, welcome["session"], welcome["user"]["id"], strict)


def expected_error(frame: str) -> dict[str, Any] | None:
    """The reply the codec's verdict on `frame` makes, or None when it is a valid message."""
    decoded = decode_client_frame(frame)
    if not isinstance(decoded, DecodeFailure):
        return None
    reply: dict[str, Any] = {"type": "error", "code": decoded.code.value, "message": decoded.detail}
    if decoded.request_id is not None:
        reply["id"] = decoded.request_id
    return reply


async def read_replies(client: FuzzClient, free_sessions: set[str]) -> None:
    """Reads every frame the server sends `client` and checks it, until the socket closes."""
    try:
        await check_replies(client, free_sessions)
    except Exception as exc:  # a broken reader must fail the run, not stall it
        client.problem(f"reader failed: {exc!r}")
        client.closed = client.closed or "reader failed"
        client.progress.set()


async def check_replies(client: FuzzClient, free_sessions: set[str]) -> None:
    while True:
        message = await client.ws.receive()
        if message.type is not aiohttp.WSMsgType.TEXT:
            client.closed = (
                f"{message.type.name} {message.data!r} {message.extra!r} "
                f"(close code {client.ws.close_code}, {client.ws.exception()!r})"
            )
            client.progress.set()
            return
        client.received += 1
        client.progress.set()
        try:
            reply = json.loads(message.data)
        except ValueError:
            client.problem(f"not JSON: {message.data[:200]!r}")
            continue
        if not isinstance(reply, dict) or reply.get("type") not in SERVER_TYPES:
            client.problem(f"not a server message: {message.data[:200]!r}")
            continue
        try:
            reply = without_seq(client.ws, reply)
        except AssertionError as exc:
            client.problem(str(exc))
            continue
        kind = reply["type"]
        client.replies[kind if kind != "error" else f"error:{reply.get('code')}"] += 1
        if kind == "error" and (
            reply.get("code") not in ERROR_CODES or reply["code"] == ErrorCode.INTERNAL_ERROR
        ):
            client.problem(f"error reply: {reply}")
        if client.strict:
            expected = client.expected.popleft() if client.expected else None
            if reply != expected:
                client.problem(f"expected {expected}, got {reply}")
            continue
        request_id = str(reply.get("id", ""))
        if kind == "error" and request_id.startswith("sync-") and request_id[5:].isdigit():
            client.synced = int(request_id[5:])
        elif kind in ("offer", "answer", "candidate"):
            sender = reply.get("from")
            if sender not in free_sessions or sender == client.session:
                client.problem(f"relayed from {sender!r}: {str(reply)[:200]}")
        elif kind in ("ringing", "incoming-call"):
            client.calls = [*client.calls[-3:], reply["call"]]


async def wait_for(client: FuzzClient, ready: Callable[[], bool], deadline: float) -> None:
    """Waits until `ready()` holds or the socket closes; fails once the deadline passes."""
    while not ready() and client.closed is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(
                f"{client.name} ran out of time: {client.sent} sent, {client.received} read"
            )
        client.progress.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(client.progress.wait(), timeout=remaining)


async def run_strict(
    client: FuzzClient, quota: int, rng: random.Random, deadline: float, tally: Counter[str]
) -> None:
    while client.sent < quota and client.closed is None and time.monotonic() < deadline:
        category, frame = fuzz_frame(rng)
        expected = expected_error(frame)
        if expected is None:
            continue  # a valid message: the free clients send those
        await wait_for(client, lambda: client.sent - client.received < IN_FLIGHT, deadline)
        client.expected.append(expected)
        if await client.send(frame):
            tally[category] += 1
    await wait_for(client, lambda: client.received >= client.sent, deadline)


def valid_frame(client: FuzzClient, rng: random.Random, others: list[FuzzClient]) -> str:
    """Valid traffic between the free clients: rooms, relays, calls."""
    other = rng.choice(others)
    call = rng.choice(client.calls or ["no-call"])
    match rng.randrange(12):
        case 0 | 1:
            message: dict[str, Any] = {
                "type": "join",
                "room": rng.choice(ROOMS),
                "id": rng.randrange(9),
            }
        case 2:
            message = {"type": "ready"}
        case 3:
            message = {"type": "leave", "id": "l"}
        case 4 | 5:
            sdp = SDP * rng.choice([1, 1, 1, 20, 600])
            message = {"type": rng.choice(["offer", "answer"]), "to": other.session, "sdp": sdp}
        case 6 | 7:
            message = {
                "type": "candidate",
                "to": other.session,
                "candidate": rng.choice([CANDIDATE, None]),
            }
        case 8:
            message = {"type": "invite", "to": other.user, "media": rng.choice(["audio", "video"])}
        case 9:
            message = {"type": "accept", "call": call, "media": rng.choice(["audio", "video"])}
        case 10:
            message = {"type": rng.choice(["reject", "cancel", "hangup"]), "call": call}
        case _:
            message = {"type": rng.choice(["ice-servers", "hello"]), "v": 1}
    return json.dumps(message)


async def run_free(
    client: FuzzClient,
    quota: int,
    rng: random.Random,
    deadline: float,
    tally: Counter[str],
    others: list[FuzzClient],
) -> None:
    batch = 0
    while client.sent < quota and client.closed is None and time.monotonic() < deadline:
        if client.sent % SYNC_EVERY == SYNC_EVERY - 1:
            # A round trip: wait for the one before, so at most two batches are in flight.
            if await client.send(sync_frame(batch)):
                tally["sync"] += 1
            await wait_for(client, lambda b=batch: client.synced >= b - 1, deadline)
            batch += 1
            continue
        if rng.random() < 0.3:
            category, frame = "valid", valid_frame(client, rng, others)
        else:
            category, frame = fuzz_frame(rng)
        if await client.send(frame):
            tally[category] += 1
    if await client.send(sync_frame(batch)):
        tally["sync"] += 1
    await wait_for(client, lambda: client.synced >= batch, deadline)


def sync_frame(batch: int) -> str:
    """A request every server answers at once, echoing its id: unknown-type."""
    return json.dumps({"type": "fuzz-sync", "id": f"sync-{batch}"})


async def test_fuzzed_server_keeps_serving(
    start_server: StartServer,
    connect_ws: ConnectWs,
    client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="parley")
    caplog.set_level(logging.ERROR, logger="aiohttp")
    base_url = await start_server(UNLIMITED)
    rng = random.Random(SEED)

    free = [
        await open_client(connect_ws, base_url, f"free-{i}", strict=False)
        for i in range(FREE_CLIENTS)
    ]
    strict = [
        await open_client(connect_ws, base_url, f"strict-{i}", strict=True)
        for i in range(STRICT_CLIENTS)
    ]
    clients = free + strict
    free_sessions = {c.session for c in free}
    readers = [asyncio.create_task(read_replies(c, free_sessions)) for c in clients]
    quotas = [FRAMES // len(clients) + (i < FRAMES % len(clients)) for i in range(len(clients))]
    tally: Counter[str] = Counter()

    try:
        started = time.monotonic()
        deadline = started + TIME_BUDGET
        senders = [
            run_free(
                c, q, random.Random(rng.random()), deadline, tally, [o for o in free if o is not c]
            )
            if not c.strict
            else run_strict(c, q, random.Random(rng.random()), deadline, tally)
            for c, q in zip(clients, quotas, strict=True)
        ]
        async with asyncio.TaskGroup() as group:
            for sender in senders:
                group.create_task(sender)
        elapsed = time.monotonic() - started
        total = sum(c.sent for c in clients)
        replies = sum((c.replies for c in clients), Counter[str]())
        print(f"fuzz: {total} frames from {len(clients)} clients in {elapsed:.1f} s (seed {SEED})")
        print(f"fuzz: sent {dict(sorted(tally.items()))}")
        print(f"fuzz: replies {dict(sorted(replies.items()))}")

        for c in clients:
            assert c.closed is None, f"{c.name} was disconnected: {c.closed}"
            assert c.problems == [], f"{c.name}: {c.problems}"
        assert total >= FRAMES, f"only {total} of {FRAMES} frames in {TIME_BUDGET} s"
        assert replies["error:internal-error"] == 0
        # Every strict frame got exactly the codec's refusal, in order, and the mix was broad.
        assert all(c.received == c.sent and not c.expected for c in strict)
        assert all(
            tally[kind] > 0 for kind in ("random-bytes", "mutated", "unicode", "deep", "huge")
        )
        assert replies["offer"] + replies["answer"] + replies["candidate"] > 0, (
            "no relay got through"
        )
        assert replies["joined"] > 0
        assert replies["call-accepted"] > 0

        # Every fuzzed socket is still open and answers.
        probe = sync_frame(1_000_000)
        probe_deadline = time.monotonic() + 10
        for c in clients:
            if c.strict:
                c.expected.append(expected_error(probe))  # type: ignore[arg-type]
            assert await c.send(probe), c.closed
        for c in clients:
            if c.strict:
                await wait_for(c, lambda c=c: c.received >= c.sent, probe_deadline)
            else:
                await wait_for(c, lambda c=c: c.synced >= 1_000_000, probe_deadline)
            assert c.closed is None, f"{c.name} was disconnected: {c.closed}"
            assert c.problems == [], f"{c.name}: {c.problems}"

    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)

    # A fresh pair still gets a room call going.
    alice, bob = await client(base_url), await client(base_url)
    joined = await join(alice, "after-the-fuzz")
    assert joined["created"] is True
    joined = await join(bob, "after-the-fuzz")
    assert joined["peers"] == [{"id": alice.session, "ready": False}]
    assert await receive_json(alice.ws) == {"type": "peer-joined", "peer": bob.session}
    await send_json(alice.ws, {"type": "offer", "to": bob.session, "sdp": SDP})
    assert await receive_json(bob.ws) == {"type": "offer", "from": alice.session, "sdp": SDP}
    await send_json(bob.ws, {"type": "candidate", "to": alice.session, "candidate": CANDIDATE})
    assert await receive_json(alice.ws) == {
        "type": "candidate",
        "from": bob.session,
        "candidate": CANDIDATE,
    }

    # Nothing failed inside the server: no handler exception, no traceback from the core.
    logged = [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno >= logging.ERROR and record.name.startswith(("parley", "aiohttp"))
    ]
    assert logged == []
