"""Attack surface: `parley bot webhooks`, an HTTP receiver anyone who reaches its port can POST
to. Only what Parley signed with the shared secret, recently, and unaltered, is acted on; a
captured event replayed is not acted on twice; names cannot drive the terminal."""

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from parley.protocol.webhooks import SIGNATURE_HEADER, sign
from tests.support.webhook_bot import SECRET, Receiver, ended, post, running_bot, signed


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_bot() as found:
        yield found


async def test_forged_altered_stale_and_unsigned_posts_are_refused_and_not_acted_on(
    receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    event = ended("c-1", answered=False, reason="no-answer", missed=True)
    body, headers = signed(event)
    url = receiver.url
    assert await post(http, url, *signed(event, secret=b"not-the-secret")) == 401
    assert await post(http, url, body.replace(b'"Ana"', b'"Eve"'), headers) == 401, "altered"
    assert await post(http, url, *signed(event, at=time.time() - 3600)) == 401, "stale"
    assert await post(http, url, *signed(event, at=time.time() + 3600)) == 401, "future"
    assert await post(http, url, body, {}) == 400, "unsigned"
    assert await post(http, url, body, {SIGNATURE_HEADER: "sha256=abc"}) == 400
    async with http.post(url, data=b"x" * 100_000, headers=headers) as response:
        assert response.status == 413
    assert receiver.lines == []
    # The positive control: the same event, signed and untouched, is acted on, once.
    assert await post(http, url, body, headers) == 204
    assert await post(http, url, body, headers) == 204, "a replay is acknowledged"
    assert receiver.lines == ["missed call from Ana to Bo"]


async def test_a_name_cannot_drive_the_terminal(
    receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    hostile = ended("c-esc", answered=False, reason="no-answer", missed=True, caller="\x1b[2J")
    assert await post(http, receiver.url, *signed(hostile)) == 204
    assert receiver.lines == ["missed call from ?[2J to Bo"]


async def test_a_genuine_event_of_a_newer_type_is_acknowledged_not_refused(
    receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    # A 4xx would make Parley retry it for a day; a forged one is still refused.
    body = b'{"type":"call.transferred","id":"evt_new","created":1,"data":{}}'
    stamp = int(time.time())
    genuine = {SIGNATURE_HEADER: sign(SECRET, body, stamp)}
    forged = {SIGNATURE_HEADER: sign(b"not-the-secret", body, stamp)}
    assert await post(http, receiver.url, body, forged) == 401
    assert await post(http, receiver.url, body, genuine) == 204
    assert receiver.lines == []
