"""Helpers for the app API's tests (tests/server, tests/security, tests/cluster): a client that
speaks to /api/v1/ with a given token, and raw WebSocket users that place and answer calls."""

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from tests.support.raw_client import Tab, say_hello

TOKEN = "app-api-token-for-the-tests-0123456789"


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any  # the decoded JSON (every answer under /api/ is JSON)


@dataclasses.dataclass
class ApiClient:
    http: aiohttp.ClientSession
    base: str  # ends in /
    token: str | None = TOKEN

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        authorization: str | None = None,
        params: dict[str, str] | None = None,
    ) -> Answer:
        """`path` without the leading slash. `authorization` replaces the bearer header."""
        headers = {}
        if authorization is not None:
            headers["Authorization"] = authorization
        elif self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body)
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with self.http.request(
            method, self.base + path, headers=headers, data=data, params=params
        ) as response:
            text = await response.text()
            assert response.content_type == "application/json", (response.status, text)
            return Answer(response.status, dict(response.headers), json.loads(text))

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("POST", path, **kwargs)


ConnectWs = Callable[[str], Awaitable[aiohttp.ClientWebSocketResponse]]


async def sign_in(
    connect_ws: ConnectWs, base: str, name: str, presence: bool = True, **fields: Any
) -> Tab:
    ws = await connect_ws(base)
    welcome = await say_hello(ws, name=name, presence=presence, **fields)
    token = welcome.get("token") or fields.get("token") or ""
    return Tab(ws, welcome["session"], welcome["user"]["id"], token, welcome.get("resume", ""))


async def ring(caller: Tab, callee: Tab, request_id: int = 1) -> str:
    """`caller` calls `callee`, whose device rings; returns the call id."""
    await caller.send({"type": "invite", "to": callee.user, "media": "audio", "id": request_id})
    ringing = await caller.next_of("ringing")
    incoming = await callee.next_of("incoming-call")
    assert incoming["call"] == ringing["call"], (ringing, incoming)
    return str(ringing["call"])


async def answer(callee: Tab, caller: Tab, call: str, request_id: int = 2) -> None:
    await callee.send({"type": "accept", "call": call, "media": "audio", "id": request_id})
    assert (await callee.next_of("call-accepted"))["call"] == call
    assert (await caller.next_of("call-accepted"))["call"] == call
