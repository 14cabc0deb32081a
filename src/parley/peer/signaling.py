"""The signaling connection, as the browser's signaling.js does it: hello → welcome, requests
answered by the reply echoing their id, everything else handed on in order. A dropped socket is
reconnected with backoff and the session resumed (`hello.resume` with the last `seq` seen), so
a bot's call survives a network blip; media never goes through here.

When the server cannot give the session back (a restart, or the resume window passed), the
welcome says `resumed: false`: a new session, whose messages count from 1 again, so the highest
`seq` seen goes back to 0 (keeping it would drop the new session's first messages as repeats).
The `renewed` event says so, and whether the server restarted (another `welcome.instance`)."""

import asyncio
import contextlib
import itertools
import logging
import random
from typing import Any

import aiohttp
import msgspec

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode
log = logging.getLogger(__name__)

# As signaling.js: a close after which reconnecting cannot help (auth refused, taken over).
FINAL_CLOSE_CODES = frozenset({4401, 4409})
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 15.0
# How long to keep trying before the connection counts as gone (the server's resume window).
RECONNECT_FOR_SECONDS = 30.0


class PeerError(Exception):
    """The server answered `error`, or the connection is gone."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class SignalingClient:
    def __init__(
        self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse, ws_url: str = ""
    ) -> None:
        self._http = http
        self._ws = ws
        self._ws_url = ws_url
        self._hello: dict[str, Any] = {}
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.welcome: dict[str, Any] = {}
        self._reader: asyncio.Task[None] | None = None
        self.last_seq = 0
        self.reconnects = 0
        self._closing = False
        self._connected = asyncio.Event()
        self._connected.set()

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
            client = cls(http, ws, ws_url)
            client._hello = {"type": "hello", "v": 1, "name": name, "presence": presence}
            client._hello["token"] = token
            await client._ws.send_str(_encode(client._hello).decode())
            client.welcome = await client._first_welcome()
            # A first-time guest is given its identity here: a resume must present it.
            client._hello["token"] = client.welcome.get("token") or token
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
        """Sends now, or once the socket is back when it dropped (within the resume window)."""
        async with asyncio.timeout(RECONNECT_FOR_SECONDS + 5):
            await self._connected.wait()
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
            while True:
                await self._read_socket()
                self._fail_pending()
                if self._closing or self._ws.close_code in FINAL_CLOSE_CODES:
                    return
                if not await self._reconnect():
                    return
        finally:
            self._fail_pending()
            self._connected.set()  # senders fail on the closed socket instead of waiting
            self.events.put_nowait({"type": "closed"})

    async def _read_socket(self) -> None:
        async for frame in self._ws:
            if frame.type is not aiohttp.WSMsgType.TEXT:
                continue
            message: dict[str, Any] = _decode(frame.data)
            seq = message.get("seq")
            if isinstance(seq, int):
                if seq <= self.last_seq:
                    continue  # seen before a resume
                self.last_seq = seq
            waiter = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
            else:
                self.events.put_nowait(message)

    def _fail_pending(self) -> None:
        gone = PeerError("closed", "the signaling connection closed")
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_exception(gone)
        self._pending.clear()

    async def _reconnect(self) -> bool:
        """A new socket and `hello.resume`, with backoff and jitter, for as long as the server
        keeps a session; False when it could not be had back."""
        self._connected.clear()
        resume = self.welcome.get("resume")
        deadline = asyncio.get_running_loop().time() + RECONNECT_FOR_SECONDS
        for attempt in itertools.count(1):
            if resume is None or self._closing or asyncio.get_running_loop().time() > deadline:
                return False
            ceiling = min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** (attempt - 1))
            await asyncio.sleep(ceiling / 2 + random.random() * ceiling / 2)  # noqa: S311 - jitter
            try:
                ws = await self._http.ws_connect(self._ws_url, heartbeat=20)
            except (aiohttp.ClientError, OSError):
                continue
            hello = {**self._hello, "resume": resume, "lastSeq": self.last_seq}
            await ws.send_str(_encode(hello).decode())
            self._ws = ws
            try:
                welcome = await self._first_welcome()
            except (PeerError, TimeoutError):
                await ws.close()
                continue
            self.reconnects += 1
            previous, self.welcome = self.welcome, welcome
            if not welcome.get("resumed"):
                log.info("signaling reconnected to a new session")
                self.last_seq = 0  # a new session counts from 1
                self._hello["token"] = welcome.get("token") or self._hello.get("token")
                restarted = welcome.get("instance") != previous.get("instance")
                renewed = {"type": "renewed", "welcome": welcome, "restarted": restarted}
                self.events.put_nowait(renewed)
            self._connected.set()
            return True
        return False

    async def close(self) -> None:
        self._closing = True
        await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._http.close()
