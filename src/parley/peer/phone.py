"""A Python program on Parley, like a person on the phone page: online, ringing, answering.

    phone = await Phone.connect("http://127.0.0.1:8080", name="Echo bot")
    incoming = await phone.next_incoming()
    call = await phone.answer(incoming, echo=True)
    print(await call.ended)

One call at a time, as for a person. Everything the server says is read by one task and routed:
relayed negotiation to the call, `incoming-call` to `next_incoming()`, endings to `call.ended`.
"""

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from parley.peer.call import Call, CallEnded, rtc_configuration
from parley.peer.media import outgoing_tracks
from parley.peer.signaling import PeerError, SignalingClient

__all__ = ["Incoming", "PeerError", "Phone"]


@dataclass(frozen=True, slots=True)
class Incoming:
    call: str
    caller_id: str
    caller_name: str
    media: str


class Phone:
    def __init__(self, signaling: SignalingClient) -> None:
        self._signaling = signaling
        welcome = signaling.welcome
        self.session: str = welcome["session"]
        self.user: dict[str, str] = welcome["user"]
        self.token: str | None = welcome.get("token")
        self.online: dict[str, str] = {u["id"]: u["name"] for u in welcome.get("online") or []}
        self._ice: dict[str, Any] = welcome
        self._incoming: asyncio.Queue[Incoming] = asyncio.Queue()
        self._ringing: dict[str, Incoming] = {}
        self.call: Call | None = None
        self._room: str | None = None
        self._peer_ready: dict[str, bool] = {}
        self._router = asyncio.get_running_loop().create_task(self._route())
        self.closed = asyncio.Event()

    @classmethod
    async def connect(
        cls, url: str, name: str = "", token: str | None = None, presence: bool = True
    ) -> "Phone":
        phone = cls(await SignalingClient.connect(url, name=name, token=token, presence=presence))
        await phone._load_directory(phone._signaling.welcome.get("onlineNext"))
        return phone

    async def _load_directory(self, offset: int | None, pages: int = 10) -> None:
        """The users online beyond the welcome's first page (100 a page, at most `pages`)."""
        for _ in range(pages):
            if offset is None:
                return
            try:
                page = await self._signaling.request({"type": "online", "offset": offset})
            except PeerError:
                return  # rate-limited: the directory is what it has
            self.online.update({u["id"]: u["name"] for u in page["users"]})
            offset = page.get("next")

    # --- direct calls -----------------------------------------------------------------------

    async def call_user(
        self,
        user_id: str,
        media: str = "video",
        *,
        play: str | None = None,
        record_to: str | None = None,
        echo: bool = False,
    ) -> Call:
        """Rings `user_id`. Returns the call once ringing; `call.ended` resolves on any end."""
        call = self._new_call(media, play=play, record_to=record_to, echo=echo, kind="direct")
        # caller_offers: this peer takes its role from call-accepted.polite.
        reply = await self._signaling.request(
            {"type": "invite", "to": user_id, "media": media, "caller_offers": True}
        )
        call.id = reply["call"]
        if reply["type"] == "call-ended":
            self._end(CallEnded(reply["reason"], reply.get("by")))
            return call
        await self._take_ice_servers(call)
        if reply["type"] == "call-accepted":  # glare: both called each other
            call.media = reply["media"]
            call.start(reply["peer"], self.session, reply.get("polite"))
        return call

    async def next_incoming(self, timeout: float | None = None) -> Incoming:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while True:
                incoming = await self._incoming.get()
                if incoming.call in self._ringing:  # still ringing, not cancelled meanwhile
                    return incoming

    async def answer(
        self,
        incoming: Incoming,
        media: str | None = None,
        *,
        play: str | None = None,
        record_to: str | None = None,
        echo: bool = False,
    ) -> Call:
        chosen = media or incoming.media
        call = self._new_call(chosen, play=play, record_to=record_to, echo=echo, kind="direct")
        call.id = incoming.call
        await self._take_ice_servers(call)  # while it rings here, TURN credentials come
        try:
            reply = await self._signaling.request(
                {"type": "accept", "call": incoming.call, "media": chosen, "caller_offers": True}
            )
        except PeerError as exc:
            self._end(CallEnded("cancelled" if exc.code == "call-not-found" else exc.code))
            return call
        call.media = reply["media"]
        call.start(reply["peer"], self.session, reply.get("polite"))
        return call

    async def reject(self, incoming: Incoming) -> None:
        self._ringing.pop(incoming.call, None)
        with contextlib.suppress(PeerError):
            await self._signaling.request({"type": "reject", "call": incoming.call})

    # --- rooms ------------------------------------------------------------------------------

    async def join(
        self,
        room: str,
        media: str = "video",
        *,
        play: str | None = None,
        record_to: str | None = None,
        echo: bool = False,
    ) -> Call:
        """Joins a room; the call starts when another member is ready."""
        call = self._new_call(media, play=play, record_to=record_to, echo=echo, kind="room")
        call.id = room
        joined = await self._signaling.request({"type": "join", "room": room})
        self._room = room
        await self._take_ice_servers(call)
        self._peer_ready = {p["id"]: p["ready"] for p in joined["peers"]}
        await self._signaling.send({"type": "ready"})
        for peer, ready in self._peer_ready.items():
            if ready:
                call.start(peer, self.session)
        return call

    # --- common -----------------------------------------------------------------------------

    async def close(self) -> None:
        """Hangs up a call still going (so the other side hears `hangup`, not a lost line)."""
        if self.call is not None:
            if not self.call.ended.done():
                with contextlib.suppress(PeerError, TimeoutError):
                    async with asyncio.timeout(3):
                        await self.call.hangup()
            await self.call.close()
        self._router.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._router
        await self._signaling.close()

    def _new_call(
        self, media: str, *, play: str | None, record_to: str | None, echo: bool, kind: str
    ) -> Call:
        if self.call is not None and not self.call.ended.done():
            raise PeerError("already-in-call", "this phone is already in a call")
        tracks, player = ([], None) if echo else outgoing_tracks(media, play)

        async def hang_up() -> None:
            if kind == "room":
                await self._signaling.send({"type": "leave"})
                self._room = None
                self._end(CallEnded("hangup", self.user["id"]))
            elif call.id is not None:
                with contextlib.suppress(PeerError):
                    reply = await self._signaling.request({"type": "hangup", "call": call.id})
                    self._end(CallEnded(reply["reason"], reply.get("by")))

        call = Call(
            send=self._signaling.send,
            hang_up=hang_up,
            media=media,
            tracks=tracks,
            configuration=rtc_configuration(self._ice),
            echo=echo,
            record_to=record_to,
            player=player,
        )
        self.call = call
        return call

    async def _take_ice_servers(self, call: Call) -> None:
        """ICE servers with TURN credentials, which the server gives only to a session in a
        call or a room; the welcome's servers (no TURN) if the request fails."""
        with contextlib.suppress(PeerError, TimeoutError):
            reply = await self._signaling.request({"type": "ice-servers"})
            self._ice = reply
        call.use_configuration(rtc_configuration(self._ice))

    def _end(self, ended: CallEnded) -> None:
        if self.call is not None:
            self.call.finish(ended)

    async def _route(self) -> None:
        events = self._signaling.events
        while True:
            message = await events.get()
            kind = message["type"]
            call = self.call
            if kind in ("offer", "answer", "candidate"):
                if call is not None and call.peer_session == message["from"]:
                    call.deliver(message)
                elif call is not None and call.pc is None and self._room is not None:
                    # An offer from a room member before its `peer-ready` reached us.
                    call.start(message["from"], self.session)
                    call.deliver(message)
            elif kind == "incoming-call":
                incoming = Incoming(
                    message["call"], message["caller"]["id"], message["caller"]["name"],
                    message["media"],
                )  # fmt: skip
                self._ringing[incoming.call] = incoming
                self._incoming.put_nowait(incoming)
            elif kind == "call-accepted":
                if call is not None and call.id == message["call"]:
                    call.media = message["media"]
                    call.start(message["peer"], self.session, message.get("polite"))
            elif kind == "call-ended":
                self._ringing.pop(message["call"], None)
                if call is not None and call.id == message["call"]:
                    self._end(CallEnded(message["reason"], message.get("by")))
            elif kind == "peer-ready" and self._room is not None and call is not None:
                call.start(message["peer"], self.session)
            elif kind == "peer-left" and call is not None and call.peer_session == message["peer"]:
                self._end(CallEnded("hangup" if message["reason"] == "left" else "connection-lost"))
            elif kind == "presence":
                if message["online"]:
                    self.online[message["user"]["id"]] = message["user"]["name"]
                else:
                    self.online.pop(message["user"]["id"], None)
            elif kind == "renewed":
                # Reconnected, but to a new session (its resume window passed, or the server
                # restarted): the call did not survive on the server. (Taking a call back
                # after a restart, `resume-call`, is the browser's for now.)
                self._end(CallEnded("connection-lost"))
            elif kind == "closed":
                self._end(CallEnded("connection-lost"))
                self.closed.set()
                return
