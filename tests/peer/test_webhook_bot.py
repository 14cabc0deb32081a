"""`parley bot webhooks`: each signed `call.ended` gives its line once, other events are
acknowledged, and the command runs as users run it, without parley[peer]. (Forged, altered and
stale posts: tests/security/test_webhook_bot.py.)"""

import select
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from parley.protocol.webhooks import CallRinging, event_id
from tests.support.webhook_bot import SECRET, Receiver, ended, post, running_bot, signed
from tests.support.without_peer_extra import command_without_peer_extra

LINE_SECONDS = 20.0


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_bot() as found:
        yield found


async def test_each_signed_call_ended_gives_its_line_once(
    receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    events = [
        ended("c-missed", answered=False, reason="no-answer", missed=True),
        ended("c-talked", answered=True, reason="hangup"),
        ended("c-declined", answered=False, reason="declined"),
    ]
    for event in events:
        assert await post(http, receiver.url, *signed(event)) == 204
    assert await post(http, receiver.url, *signed(events[0])) == 204, "a repeat is delivered"
    rang = event_id("call.ringing", "c-x")
    ringing = CallRinging(id=rang, created=time.time(), data=events[0].data)
    assert await post(http, receiver.url, *signed(ringing)) == 204, "acknowledged, no line"
    assert receiver.lines == [
        "missed call from Ana to Bo",
        "call from Ana to Bo, 4 min",
        "call from Ana to Bo, not answered (declined)",
    ]


# --- the command, as users run it --------------------------------------------------------------


@pytest.fixture
def bot_process() -> Iterator[subprocess.Popen[str]]:
    """`parley bot webhooks` on a free port, on an install without aiortc and PyAV."""
    process = subprocess.Popen(
        command_without_peer_extra("bot", "webhooks", "--port", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={"PARLEY_WEBHOOK_SECRET": SECRET.decode(), "PATH": "/usr/bin:/bin"},
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def next_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], LINE_SECONDS)
    assert ready, f"no line from the bot within {LINE_SECONDS} s"
    return process.stdout.readline().strip()


def send(url: str, body: bytes, headers: dict[str, str]) -> int:
    assert url.startswith("http://127.0.0.1:"), url  # the bot's own loopback address
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def test_the_command_prints_the_signed_event_and_not_the_forged_one(
    bot_process: subprocess.Popen[str],
) -> None:
    listening = next_line(bot_process)
    assert listening.startswith("listening on http://127.0.0.1:"), listening
    url = listening.removeprefix("listening on ")
    forged = ended("c-forged", answered=True, reason="hangup")
    assert send(url, *signed(forged, secret=b"wrong")) == 401
    assert send(url, *signed(ended("c-real", answered=True, reason="hangup"))) == 204
    assert next_line(bot_process) == "call from Ana to Bo, 4 min", "the forged one printed nothing"
