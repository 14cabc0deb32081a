"""A Python program on Parley, like a person on the phone page: online, ringing, answering.

    phone = await Phone.connect("http://127.0.0.1:8080", name="Echo bot")
    incoming = await phone.next_incoming()
    call = await phone.answer(incoming, echo=True)
    print(await call.ended)

One call at a time, as for a person. Everything the server says is read by one task and routed:
relayed negotiation to the call, `incoming-call` to `next_incoming()`, endings to `call.ended`.
An answered call survives a server restart: both sides claim it back (`resume-call`, with the
ticket `call-accepted` gave) and go on with the media they never stopped sending.
"""

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from parley.peer.call import Call, CallEnded, rtc_configuration
from parley.peer.media import outgoing_tracks
from parley.peer.signaling import PeerError, SignalingClient

__all__ = ["Incoming", "PeerError", "Phone"]


# The id our `resume-call` goes with: its answer may come at once, later, or not at all (the
# side that claims first hears only when the other does), so it is routed, not awaited.
RESUME_CALL_ID = "resume-call"


@dataclass(frozen=True, slots=True)
class Incoming:
    call: str
    caller_id: str
    caller_name: str
    media: str
    offer: str | None = None  # the caller's offer, when it rode the invite


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
        """Rings `user_id`. Returns the call once ringing; `call.ended` resolves on any end.

        The offer is made first and rides the invite (without addresses), as the browser's;
        caller_offers: this peer takes its role from call-accepted.polite; takes_answer: an
        answer made while ringing may come with call-accepted."""
        call = self._new_call(media, play=play, record_to=record_to, echo=echo, kind="direct")
        call.role, call.peer_user = "caller", user_id
        await self._take_ice_servers(call, to=user_id)  # TURN before the offer is made
        invite: dict[str, Any] = {"type": "invite", "to": user_id, "media": media}
        invite.update(caller_offers=True, takes_answer=True)
        offer = await call.prepare_offer()
        if offer is not None:
            invite["offer"] = offer
        reply = await self._signaling.request(invite)
        call.id = reply["call"]
        if reply["type"] == "call-ended":
            self._end(CallEnded(reply["reason"], reply.get("by")))
            return call
        if reply["type"] == "call-accepted":  # glare: our invite answered theirs
            call.role = "callee"
            self._started(call, reply)
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
        """Answers a ringing call. With the caller's offer at hand (and the call's own media)
        the answer is made now and rides the accept (`offer_taken`, `answer`)."""
        chosen = media or incoming.media
        call = self._new_call(chosen, play=play, record_to=record_to, echo=echo, kind="direct")
        call.id, call.role, call.peer_user = incoming.call, "callee", incoming.caller_id
        await self._take_ice_servers(call)  # while it rings here, TURN credentials come
        accept: dict[str, Any] = {"type": "accept", "call": incoming.call, "media": chosen}
        accept["caller_offers"] = True
        if incoming.offer is not None and chosen == incoming.media:
            answer = await call.prepare_answer(incoming.offer)
            if answer is not None:
                accept.update(offer_taken=True, answer=answer)
        try:
            reply = await self._signaling.request(accept)
        except PeerError as exc:
            self._end(CallEnded("cancelled" if exc.code == "call-not-found" else exc.code))
            return call
        self._started(call, reply)
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

    async def _take_ice_servers(self, call: Call, to: str | None = None) -> None:
        """ICE servers with TURN credentials, which the server gives only to a session in a
        call or a room, or about to invite `to`; the welcome's servers (no TURN) if the
        request fails."""
        request: dict[str, Any] = {"type": "ice-servers"}
        if to is not None:
            request["to"] = to
        with contextlib.suppress(PeerError, TimeoutError):
            self._ice = await self._signaling.request(request)
        call.use_configuration(rtc_configuration(self._ice))

    def _started(self, call: Call, accepted: dict[str, Any]) -> None:
        """`call-accepted`: negotiate with the session it names, as it says."""
        call.media = accepted["media"]
        call.ticket = accepted.get("ticket") or call.ticket
        call.start(
            accepted["peer"],
            self.session,
            accepted.get("polite"),
            offer_taken=accepted.get("offer_taken", False),
            answer=accepted.get("answer"),
            answer_forwarded=accepted.get("answer_forwarded", False),
        )

    async def _renewed(self, welcome: dict[str, Any], restarted: bool) -> None:
        """A new session: after a server restart an answered call is claimed back (the other
        side does the same); otherwise our session ended, and the call with it."""
        self.session = welcome["session"]
        call = self.call
        if call is None or call.ended.done():
            return
        if restarted and self._room is None and call.accepted.is_set() and call.ticket:
            claim = {"type": "resume-call", "id": RESUME_CALL_ID, "call": call.id}
            claim.update(peer=call.peer_user, role=call.role, media=call.media)
            claim["ticket"] = call.ticket
            with contextlib.suppress(PeerError):
                await self._signaling.send(claim)
            return
        # (A room is not joined again after a restart: the call ends here.)
        self._end(CallEnded("connection-lost"))

    def _end(self, ended: CallEnded) -> None:
        if self.call is not None:
            self.call.finish(ended)

    async def _route(self) -> None:
        events = self._signaling.events
        while True:
            message = await events.get()
            kind = message["type"]
            if kind in ("offer", "answer", "candidate"):
                self._on_relay(message)
            elif kind in ("incoming-call", "call-accepted", "call-ended", "call-resumed", "error"):
                self._on_call_news(message)
            elif kind in ("peer-ready", "peer-left"):
                self._on_room_news(message)
            elif kind == "presence":
                if message["online"]:
                    self.online[message["user"]["id"]] = message["user"]["name"]
                else:
                    self.online.pop(message["user"]["id"], None)
            elif kind == "renewed":
                # Reconnected to a new session (the server restarted, or our resume window
                # passed): its `seq` count started again (SignalingClient).
                await self._renewed(message["welcome"], message.get("restarted", False))
            elif kind == "closed":
                self._end(CallEnded("connection-lost"))
                self.closed.set()
                return

    def _on_relay(self, message: dict[str, Any]) -> None:
        call = self.call
        if call is not None and call.peer_session == message["from"]:
            call.deliver(message)
        elif call is not None and call.peer_session is None and self._room is not None:
            # An offer from a room member before its `peer-ready` reached us.
            call.start(message["from"], self.session)
            call.deliver(message)

    def _on_call_news(self, message: dict[str, Any]) -> None:
        kind, call = message["type"], self.call
        mine = call is not None and call.id == message.get("call")
        if kind == "incoming-call":
            caller = message["caller"]
            incoming = Incoming(
                message["call"], caller["id"], caller["name"], message["media"],
                message.get("offer"),
            )  # fmt: skip
            self._ringing[incoming.call] = incoming
            self._incoming.put_nowait(incoming)
        elif kind == "call-accepted" and call is not None and mine:
            self._started(call, message)
        elif kind == "call-ended":
            self._ringing.pop(message["call"], None)
            if mine:
                self._end(CallEnded(message["reason"], message.get("by")))
        elif kind == "call-resumed" and call is not None and mine:
            call.rebind(message["peer"])  # the other side's session after the restart
        elif kind == "error" and message.get("id") == RESUME_CALL_ID:
            self._end(CallEnded("connection-lost"))  # the server would not give it back

    def _on_room_news(self, message: dict[str, Any]) -> None:
        call = self.call
        if call is None or self._room is None:
            return
        if message["type"] == "peer-ready":
            call.start(message["peer"], self.session)
        elif call.peer_session == message["peer"]:
            self._end(CallEnded("hangup" if message["reason"] == "left" else "connection-lost"))
