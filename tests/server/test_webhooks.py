"""Webhooks from a real server to a real receiver: every event of every kind of call arrives
once, signed; a receiver down or slow, and a restart of Parley, lose nothing and delay no
signaling."""

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from parley.config import ServerSettings
from parley.core.signaling import CoreSettings
from parley.protocol.webhooks import (
    CallAnswered,
    CallEnded,
    CallRinging,
    RoomEnded,
    RoomStarted,
    SignatureError,
    verify,
)
from parley.server.app import create_app
from parley.server.site import parley_runner, signaling_site
from tests.support.fixtures import loopback_crowd
from tests.support.raw_client import Tab, free_port, offer, relayed, sign_in
from tests.support.webhook_bot import SECRET as BOT_SECRET
from tests.support.webhook_bot import running_bot
from tests.support.webhook_receiver import Receiver, webhook_receiver

from .helpers import ConnectWs, StartServer

SECRET = b"whsec-test-secret-0123456789"
DELIVERY_SECONDS = 15.0
ROOM_NEWS = ("presence", "peer-joined", "peer-left")


def hooked(receiver_url: str, **changes: object) -> ServerSettings:
    settings = ServerSettings(
        core=CoreSettings(ring_timeout=1.0),
        webhook_urls=(receiver_url,),
        webhook_secret=SECRET.decode(),
        webhook_first_retry_seconds=0.2,
        webhook_timeout_seconds=2.0,
    )
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


async def ring(caller: Tab, callee: Tab, media: str = "audio") -> str:
    await caller.send({"type": "invite", "to": callee.user, "media": media, "id": "inv"})
    call = str((await caller.next_of("ringing"))["call"])
    assert (await callee.next_of("incoming-call"))["call"] == call
    return call


async def both_ended(caller: Tab, callee: Tab, reason: str) -> None:
    for tab in (caller, callee):
        assert (await tab.next_of("call-ended"))["reason"] == reason


async def test_every_event_of_each_kind_of_call_arrives_once_and_signed(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    async with webhook_receiver(SECRET) as receiver:
        base = await start_server(hooked(receiver.url))
        ana = await sign_in(connect_ws, base, name="Ana", presence=True)
        bo = await sign_in(connect_ws, base, name="Bo", presence=True)
        answered = await ring(ana, bo, "video")
        await bo.send({"type": "accept", "call": answered, "media": "video"})
        await ana.next_of("call-accepted")
        await bo.next_of("call-accepted")
        await bo.send({"type": "hangup", "call": answered})
        await both_ended(ana, bo, "hangup")
        declined = await ring(ana, bo)
        await bo.send({"type": "reject", "call": declined})
        await both_ended(ana, bo, "declined")
        missed = await ring(bo, ana)
        await both_ended(bo, ana, "no-answer")  # the 1 s ring timeout
        for tab in (ana, bo):
            await tab.send({"type": "join", "room": "standup"})
            await tab.next_of("joined", skip=ROOM_NEWS)
        for tab in (ana, bo):
            await tab.send({"type": "leave"})
            await tab.next_of("left", skip=ROOM_NEWS)

        await receiver.wait_for(9, DELIVERY_SECONDS)
        await asyncio.sleep(0.5)  # nothing more comes: no event is sent twice
        counts = receiver.counts()
        assert counts == {
            ("CallRinging", answered): 1,
            ("CallAnswered", answered): 1,
            ("CallEnded", answered): 1,
            ("CallRinging", declined): 1,
            ("CallEnded", declined): 1,
            ("CallRinging", missed): 1,
            ("CallEnded", missed): 1,
            ("RoomStarted", "standup"): 1,
            ("RoomEnded", "standup"): 1,
        }, counts
        events = receiver.events()  # each verified with the secret
        assert len({event.id for event in events}) == 9
        ended = {e.data.call: e.data for e in events if isinstance(e, CallEnded)}
        assert (ended[answered].reason, ended[answered].by) == ("hangup", bo.user)
        assert ended[answered].duration is not None and not ended[answered].missed
        assert (ended[declined].reason, ended[declined].missed) == ("declined", False)
        assert (ended[missed].reason, ended[missed].missed) == ("no-answer", True)
        assert ended[missed].caller.name == "Bo" and ended[missed].callee.id == ana.user
        assert [type(e) for e in events if getattr(e.data, "call", "") == answered] == [
            CallRinging,
            CallAnswered,
            CallEnded,
        ]
        room = [e for e in events if isinstance(e, RoomStarted | RoomEnded)]
        assert room[0].data.started == room[1].data.started


async def test_a_wrong_secret_or_an_altered_body_fails_verification(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    async with webhook_receiver(SECRET) as receiver:
        base = await start_server(hooked(receiver.url))
        ana = await sign_in(connect_ws, base, name="Ana", presence=True)
        bo = await sign_in(connect_ws, base, name="Bo", presence=True)
        call = await ring(ana, bo)
        await ana.send({"type": "cancel", "call": call})
        await both_ended(ana, bo, "cancelled")
        await receiver.wait_for(2, DELIVERY_SECONDS)
        got = receiver.got[-1]
        assert isinstance(verify(SECRET, got.signature, got.body, time.time()), CallEnded)
        with pytest.raises(SignatureError):
            verify(b"not-the-secret", got.signature, got.body, time.time())
        with pytest.raises(SignatureError):
            verify(SECRET, got.signature, got.body.replace(b"cancelled", b"hangup"), time.time())
        with pytest.raises(SignatureError):  # replayed an hour later
            verify(SECRET, got.signature, got.body, time.time() + 3600)


async def test_a_receiver_down_for_a_while_gets_everything_in_the_end(
    start_server: StartServer, connect_ws: ConnectWs, http: aiohttp.ClientSession
) -> None:
    async with webhook_receiver(SECRET) as receiver:
        receiver.mode = "down"
        base = await start_server(hooked(receiver.url))
        ana = await sign_in(connect_ws, base, name="Ana", presence=True)
        bo = await sign_in(connect_ws, base, name="Bo", presence=True)
        calls = []
        for _ in range(3):
            call = await ring(ana, bo)
            await bo.send({"type": "reject", "call": call})
            await both_ended(ana, bo, "declined")
            calls.append(call)
        await retried_at_least(receiver, 3)
        receiver.mode = "up"
        await receiver.wait_for(6, DELIVERY_SECONDS)
        assert receiver.counts() == {
            (kind, call): 1 for call in calls for kind in ("CallRinging", "CallEnded")
        }
        # The sender counts a delivery once the receiver's answer is in: a moment after.
        delivered = 'parley_webhook_attempts_total{outcome="delivered"}'
        text = await metrics_once(http, base, lambda text: metric(text, delivered) == 6)
        assert metric(text, delivered) == 6
        assert metric(text, 'parley_webhook_attempts_total{outcome="retried"}') >= 3
        assert metric(text, "parley_webhook_queue_depth") == 0


async def retried_at_least(receiver: Receiver, attempts: int) -> None:
    for _ in range(int(DELIVERY_SECONDS / 0.05)):
        if receiver.refused >= attempts:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"{receiver.refused} attempts in {DELIVERY_SECONDS} s, not {attempts}")


async def metrics_once(http: aiohttp.ClientSession, base: str, done: Callable[[str], bool]) -> str:
    """/metrics, polled (bounded) until `done` holds; the last text either way."""
    text = ""
    for _ in range(50):
        async with http.get(base + "metrics") as response:
            text = await response.text()
        if done(text):
            break
        await asyncio.sleep(0.1)
    return text


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


@asynccontextmanager
async def serving(settings: ServerSettings) -> AsyncIterator[str]:
    """A server the test stops itself (the restart test stops one and starts another)."""
    runner = parley_runner(create_app(loopback_crowd(settings)))
    await runner.setup()
    try:
        await signaling_site(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/"
    finally:
        await runner.cleanup()


async def test_events_pending_at_a_restart_are_delivered_after_it(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    port = free_port()  # nothing listens there yet: every attempt fails
    settings = hooked(
        f"http://127.0.0.1:{port}/hooks",
        data_dir=tmp_path,
        webhook_first_retry_seconds=0.1,
    )
    connect = _connector(http)
    async with serving(settings) as base:
        ana = await sign_in(connect, base, name="Ana", presence=True)
        bo = await sign_in(connect, base, name="Bo", presence=True)
        call = await ring(ana, bo)
        await bo.send({"type": "reject", "call": call})
        await both_ended(ana, bo, "declined")
        await ana.ws.close()
        await bo.ws.close()
    async with webhook_receiver(SECRET, port=port) as receiver, serving(settings):
        await receiver.wait_for(2, DELIVERY_SECONDS)
        assert receiver.counts() == {("CallRinging", call): 1, ("CallEnded", call): 1}


def _connector(
    http: aiohttp.ClientSession,
) -> Callable[[str], Awaitable[aiohttp.ClientWebSocketResponse]]:
    async def connect(base: str) -> aiohttp.ClientWebSocketResponse:
        return await http.ws_connect(base.replace("http://", "ws://") + "ws")

    return connect


async def test_a_receiver_that_hangs_never_delays_signaling(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    async with webhook_receiver(SECRET) as receiver:
        receiver.mode = "hang"
        timeout = 5.0
        base = await start_server(hooked(receiver.url, webhook_timeout_seconds=timeout))
        ana = await sign_in(connect_ws, base, name="Ana", presence=True)
        bo = await sign_in(connect_ws, base, name="Bo", presence=True)
        call = await ring(ana, bo)  # its call.ringing now hangs in the receiver
        await bo.send({"type": "accept", "call": call, "media": "audio"})
        await ana.next_of("call-accepted")
        await bo.next_of("call-accepted")
        slowest = 0.0
        for n in range(50):
            sent = time.monotonic()
            message = offer(bo, n)
            await ana.send(message)
            assert await bo.next_of("offer") == relayed(message, ana)
            slowest = max(slowest, time.monotonic() - sent)
        # Were the sender in the signaling path, relays would wait for the receiver's timeout.
        assert slowest < timeout / 5, f"a relay took {slowest:.3f} s while a webhook hung"


async def test_the_example_bot_tells_a_missed_call_from_the_real_server(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    async with running_bot() as bot:
        settings = hooked(bot.url, webhook_secret=BOT_SECRET.decode())
        base = await start_server(settings)
        ana = await sign_in(connect_ws, base, name="Ana", presence=True)
        bo = await sign_in(connect_ws, base, name="Bo", presence=True)
        await ring(ana, bo)
        await both_ended(ana, bo, "no-answer")
        for _ in range(int(DELIVERY_SECONDS / 0.05)):
            if bot.lines:
                break
            await asyncio.sleep(0.05)
        assert bot.lines == ["missed call from Ana to Bo"]
