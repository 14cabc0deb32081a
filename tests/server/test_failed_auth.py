"""Guessing tokens gets slower and slower, per client network."""

import time

import aiohttp
import pytest

from parley.config import ServerSettings
from parley.identity import mint_token
from parley.server.limits import FailedAuthThrottle

from .helpers import StartServer, receive_close, receive_json, send_json, ws_url

SECRET = "host-app-shared-secret-of-enough-length"
JWT_BEHIND_PROXY = ServerSettings(
    auth="jwt", jwt_key=SECRET, jwt_algorithms=("HS256",), trusted_proxies=("127.0.0.1",)
)


def test_backoff_doubles_after_the_free_failures_and_success_forgets() -> None:
    throttle = FailedAuthThrottle(free_failures=2, first_wait=1.0, max_wait=8.0)
    throttle.failed("a", 100.0)
    assert throttle.retry_after("a", 100.0) == 0.0, "the first free failure costs nothing"
    waits = []
    for _ in range(5):
        throttle.failed("a", 100.0)
        waits.append(throttle.retry_after("a", 100.0))
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0], "after the 2nd free failure the next one waits"
    assert throttle.retry_after("b", 100.0) == 0.0, "other clients are not affected"
    throttle.succeeded("a")
    assert throttle.retry_after("a", 100.0) == 0.0


async def refused_hello(http: aiohttp.ClientSession, server: str, client: str) -> None:
    ws = await http.ws_connect(ws_url(server), headers={"X-Forwarded-For": client})
    await send_json(ws, {"type": "hello", "v": 1, "token": "guess"})
    assert (await receive_json(ws))["code"] == "auth-failed"
    assert await receive_close(ws) == 4401


async def test_repeated_refused_tokens_get_429_with_retry_after_for_that_client_only(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start_server(JWT_BEHIND_PROXY)
    for _ in range(5):  # 5 free failures: the 6th attempt waits (README, Security)
        await refused_hello(http, server, "2001:db8:aa:1::1")
    with pytest.raises(aiohttp.WSServerHandshakeError) as throttled:
        # Another address in the same /64 is the same subscriber.
        await http.ws_connect(ws_url(server), headers={"X-Forwarded-For": "2001:db8:aa:1::99"})
    assert throttled.value.status == 429
    assert int(throttled.value.headers["Retry-After"]) >= 1

    good = mint_token(SECRET, "u-1", "Ana", "parley", 600, time.time())
    ws = await http.ws_connect(ws_url(server), headers={"X-Forwarded-For": "2001:db8:bb:1::1"})
    await send_json(ws, {"type": "hello", "v": 1, "token": good})
    assert (await receive_json(ws))["type"] == "welcome", "other networks sign in as usual"
    await ws.close()
