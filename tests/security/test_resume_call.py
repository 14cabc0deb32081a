"""Attack surface: `resume-call`, the message that takes an answered call back after a restart.

Attack: a stranger sends `resume-call` with an invented call id and a victim's user id. Before
the fix the server made a call of it: the victim's history showed a call that never happened
(missed or outgoing), and the answer told the stranger whether the victim was busy. Now only
the ticket that `call-accepted` gave the two parties of a real answered call takes a call
back; anything else gets `call-not-found`, writes nothing, and says nothing of the victim.
"""

import asyncio
import dataclasses
from typing import Any

import aiohttp
import pytest

from parley.config import ServerSettings
from tests.server.helpers import ConnectWs, StartServer, receive_json, send_json

SETTINGS = ServerSettings(secret=b"s" * 32)


@dataclasses.dataclass
class Person:
    ws: aiohttp.ClientWebSocketResponse
    user: str
    token: str

    async def next_of(self, kind: str) -> dict[str, Any]:
        while True:
            message = await receive_json(self.ws)
            if message["type"] == kind:
                return message


async def online(connect_ws: ConnectWs, server: str, name: str, token: str | None = None) -> Person:
    ws = await connect_ws(server)
    hello: dict[str, Any] = {"type": "hello", "v": 1, "name": name, "presence": True}
    if token:
        hello["token"] = token
    await send_json(ws, hello)
    welcome = await receive_json(ws)
    assert welcome["type"] == "welcome", welcome
    return Person(ws, welcome["user"]["id"], welcome.get("token") or token or "")


async def answered_call(caller: Person, callee: Person) -> tuple[str, str]:
    """A real call from `caller`, answered by `callee`: its id and its ticket."""
    await send_json(caller.ws, {"type": "invite", "to": callee.user, "media": "audio"})
    call = (await caller.next_of("ringing"))["call"]
    await callee.next_of("incoming-call")
    await send_json(callee.ws, {"type": "accept", "call": call, "media": "audio"})
    ticket = (await callee.next_of("call-accepted"))["ticket"]
    assert (await caller.next_of("call-accepted"))["ticket"] == ticket
    return call, ticket


async def history(http: aiohttp.ClientSession, server: str, person: Person) -> list[str]:
    headers = {"Authorization": f"Bearer {person.token}"}
    async with http.get(server + "api/calls", headers=headers) as response:
        assert response.status == 200
        return [call["id"] for call in (await response.json())["calls"]]


async def wait_for_history(
    http: aiohttp.ClientSession, server: str, person: Person, call: str
) -> list[str]:
    for _ in range(50):
        calls = await history(http, server, person)
        if call in calls:
            return calls
        await asyncio.sleep(0.1)
    raise AssertionError(f"{call} never reached the history")


CLAIMS = {
    "no-ticket": {},
    "forged-ticket": {"ticket": "0" * 32},
    "another-calls-ticket": None,  # a real ticket, of the attacker's own call
}


@pytest.mark.parametrize("shown", CLAIMS.values(), ids=CLAIMS.keys())
@pytest.mark.parametrize("role", ["caller", "callee"])
@pytest.mark.parametrize("victim_busy", [False, True], ids=["victim-idle", "victim-busy"])
async def test_an_invented_claim_writes_nothing_and_says_nothing_of_the_victim(
    start_server: StartServer,
    connect_ws: ConnectWs,
    http: aiohttp.ClientSession,
    shown: dict[str, str] | None,
    role: str,
    victim_busy: bool,
) -> None:
    server = await start_server(SETTINGS)
    victim = await online(connect_ws, server, "Victim")
    friend = await online(connect_ws, server, "Friend")
    mallory = await online(connect_ws, server, "Mallory")
    accomplice = await online(connect_ws, server, "Accomplice")
    _, own_ticket = await answered_call(mallory, accomplice)
    busy_with = (await answered_call(friend, victim))[0] if victim_busy else None

    claim = {"type": "resume-call", "id": 5, "call": "invented-call-id-0001", "media": "audio"}
    claim |= {"peer": victim.user, "role": role}
    claim |= shown if shown is not None else {"ticket": own_ticket}
    await send_json(mallory.ws, claim)
    refusal = await mallory.next_of("error")
    # Without a ticket the message is malformed (`ticket` is required); with any ticket that
    # is not this call's, the call does not exist. Neither depends on the victim.
    expected = "bad-message" if shown == {} else "call-not-found"
    assert (refusal["code"], refusal["id"]) == (expected, 5), refusal

    # A real call of the victim's ends afterwards: once it is in the history, anything the
    # claim had written before it would be there too (one writer, in order).
    real_call = busy_with or (await answered_call(victim, friend))[0]
    await send_json(friend.ws, {"type": "hangup", "call": real_call})
    calls = await wait_for_history(http, server, victim, real_call)
    assert calls == [real_call], "the claim wrote a call into the victim's history"


async def test_the_two_parties_of_a_real_call_take_it_back_after_a_restart(
    start_server: StartServer, connect_ws: ConnectWs
) -> None:
    """Positive control: the same secret after a restart (a new app, a fresh core) accepts
    the ticket both parties were given, and the call goes on."""
    before = await start_server(SETTINGS)
    ana = await online(connect_ws, before, "Ana")
    bo = await online(connect_ws, before, "Bo")
    call, ticket = await answered_call(ana, bo)

    after = await start_server(SETTINGS)
    ana = await online(connect_ws, after, "Ana", ana.token)
    bo = await online(connect_ws, after, "Bo", bo.token)
    claim = {"type": "resume-call", "call": call, "media": "audio", "ticket": ticket}
    await send_json(ana.ws, {**claim, "peer": bo.user, "role": "caller"})
    await send_json(bo.ws, {**claim, "peer": ana.user, "role": "callee"})
    assert (await ana.next_of("call-resumed"))["call"] == call
    assert (await bo.next_of("call-resumed"))["call"] == call
