"""The signaling connection, as the browser's signaling.js does it: hello → welcome, requests
answered by the reply echoing their id, everything else handed on in order."""

import asyncio
import contextlib
import itertools
from typing import Any

import aiohttp
import msgspec

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


class PeerError(Exception):
    """The server answered `error`, or the connection is gone."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class SignalingClient:
    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._http = http
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.welcome: dict[str, Any] = {}
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls, url: str, *, name: str, token: str | None, presence: bool
    ) -> "SignalingClient":
        """`url` is the server's base (http://host:port) or its /ws URL."""
        ws_url = url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        if not ws_url.rstrip("/").endswith("/ws"):
            ws_url = ws_url.rstrip("/") + "/ws"
        http = aiohttp.ClientSession()
        try:
            ws = await http.ws_connect(ws_url, heartbeat=20)
            client = cls(http, ws)
            hello = {"type": "hello", "v": 1, "name": name, "token": token, "presence": presence}
            await client.send(hello)
            client.welcome = await client._first_welcome()
        except BaseException:
            await http.close()
            raise
        client._reader = asyncio.get_running_loop().create_task(client._read())
        return client

    async def _first_welcome(self) -> dict[str, Any]:
        async with asyncio.timeout(10):
            message = await self._ws.receive()
        if message.type is not aiohttp.WSMsgType.TEXT:
            raise PeerError("closed", f"no welcome (socket {message.type.name})")
        welcome: dict[str, Any] = _decode(message.data)
        if welcome.get("type") != "welcome":
            raise PeerError(welcome.get("code", "no-welcome"), welcome.get("message", ""))
        return welcome

    async def send(self, message: dict[str, Any]) -> None:
        await self._ws.send_str(_encode(message).decode())

    async def request(self, message: dict[str, Any]) -> dict[str, Any]:
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        await self.send({**message, "id": request_id})
        reply = await future
        if reply.get("type") == "error":
            raise PeerError(reply["code"], reply.get("message", ""))
        return reply

    async def _read(self) -> None:
        try:
            async for frame in self._ws:
                if frame.type is not aiohttp.WSMsgType.TEXT:
                    continue
                message: dict[str, Any] = _decode(frame.data)
                waiter = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
                else:
                    self.events.put_nowait(message)
        finally:
            gone = PeerError("closed", "the signaling connection closed")
            for waiter in self._pending.values():
                if not waiter.done():
                    waiter.set_exception(gone)
            self._pending.clear()
            self.events.put_nowait({"type": "closed"})

    async def close(self) -> None:
        await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._http.close()
