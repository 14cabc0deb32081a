"""One call from the Python side: an aiortc RTCPeerConnection negotiated like the browser does.

Negotiation follows the browser's rule (static/js/call.js): the impolite side offers first (in a
direct call as `call-accepted.polite` says: the caller, when both sides said `caller_offers`; in
a room the member whose session id sorts last); the polite side waits for that offer and
answers it. aiortc cannot roll back a local offer, and under this rule it never has to: when
polite it only ever answers, and when impolite it ignores an offer that collides with its own.
aiortc gathers its candidates inside setLocalDescription, so its SDP is complete; the browser's
trickled candidates are added as they come.

A direct call takes the fast path, as the browser does (protocol `invite.offer`, `accept.answer`):
the caller makes its offer before it invites (`prepare_offer`; it rides the invite without its
addresses, which follow as candidates once answered), and the callee answers that offer as it
accepts (`prepare_answer`; the answer rides the accept). What was prepared is dropped, and the
call negotiated as before, when the server's `call-accepted` says it no longer fits.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaPlayer, MediaRecorder, MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.sdp import candidate_from_sdp

from parley.peer.media import FrameCounter
from parley.peer.sdp import candidates, without_addresses

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CallEnded:
    reason: str
    by: str | None = None


def rtc_configuration(welcome_or_reply: dict[str, Any]) -> RTCConfiguration:
    servers = [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in welcome_or_reply.get("iceServers", [])
    ]
    relay = welcome_or_reply.get("iceTransportPolicy") == "relay"
    return RTCConfiguration(
        iceServers=servers,
        iceTransportPolicy=RTCIceTransportPolicy.RELAY if relay else RTCIceTransportPolicy.ALL,
    )


class Call:
    """A call in progress: `accepted` is set once answered (or the room peer is ready),
    `connected` once media can flow, `ended` resolves with why it ended; `counter` counts
    received frames."""

    def __init__(
        self,
        *,
        send: Send,
        hang_up: Callable[[], Awaitable[None]],
        media: str,
        tracks: list[MediaStreamTrack],
        configuration: RTCConfiguration,
        call_id: str | None = None,
        echo: bool = False,
        record_to: str | None = None,
        player: MediaPlayer | None = None,
    ) -> None:
        self.id = call_id
        self.media = media
        self.peer_session: str | None = None
        # A direct call's other user, this side's role, and the ticket `call-accepted` gave:
        # what `resume-call` shows to take the call back after a server restart.
        self.peer_user: str | None = None
        self.role: str | None = None
        self.ticket: str | None = None
        # What `call-accepted` said of the fast path: the offer that rode the invite was taken,
        # and the answer that rode the accept reached the caller.
        self.offer_taken = False
        self.answer_forwarded = False
        self.polite = False
        self.counter = FrameCounter()
        self.accepted = asyncio.Event()
        self.connected = asyncio.Event()
        self.ended: asyncio.Future[CallEnded] = asyncio.get_running_loop().create_future()
        self._send = send
        self._hang_up = hang_up
        self._tracks = tracks
        self._configuration = configuration
        self._echo = echo
        # Each consumer of a received track (counter, recorder, echo) gets its own subscription.
        self._relay = MediaRelay()
        self._recorder = MediaRecorder(record_to) if record_to else None
        self._recording = False
        self._player = player
        self._tracks_added = False
        # "offer" or "answer" made before the call was answered, and for which media.
        self._prepared: str | None = None
        self._prepared_media = media
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.pc: RTCPeerConnection | None = None

    # --- driven by Phone --------------------------------------------------------------------

    def use_configuration(self, configuration: RTCConfiguration) -> None:
        """ICE servers got once the call or room began (TURN credentials come only then)."""
        if self.pc is None:
            self._configuration = configuration

    async def prepare_offer(self) -> str | None:
        """The caller's offer, made before it invites: when the call is answered, only the
        candidates have to go. Returns it without its addresses, for `invite.offer` (None when
        it could not be made: the invite goes without, and the offer is made once answered)."""
        pc = self._open()
        try:
            self._add_tracks()
            await pc.setLocalDescription(await pc.createOffer())
        except Exception:
            log.exception("could not make the offer for the invite")
            await self._discard()
            return None
        self._prepared, self._prepared_media = "offer", self.media
        return without_addresses(pc.localDescription.sdp)

    async def prepare_answer(self, offer: str) -> str | None:
        """The callee's answer to the offer its `incoming-call` carried, for `accept.answer`
        (None when it could not be made: the caller then sends its offer again)."""
        pc = self._open()
        try:
            # Addresses in it (a caller other than Parley's clients) would draw our checks.
            await pc.setRemoteDescription(RTCSessionDescription(without_addresses(offer), "offer"))
            self._add_tracks()
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception:
            log.exception("could not answer the offer that came with the call")
            await self._discard()
            return None
        self._prepared, self._prepared_media = "answer", self.media
        return str(pc.localDescription.sdp)

    def start(
        self,
        peer_session: str,
        own_session: str,
        polite: bool | None = None,
        *,
        offer_taken: bool = False,
        answer: str | None = None,
        answer_forwarded: bool = False,
    ) -> None:
        """The other side is known (answered, or ready in the room): negotiate with it.
        `polite` is the server's word in a direct call; a room uses the session-id rule. The
        rest is `call-accepted`'s word on what was prepared (see prepare_offer, prepare_answer)."""
        if self.peer_session is not None:
            return
        self.peer_session = peer_session
        self.polite = own_session < peer_session if polite is None else polite
        self.offer_taken, self.answer_forwarded = offer_taken, answer_forwarded or bool(answer)
        self.accepted.set()
        fits = self._prepared_media == self.media and (
            offer_taken if self._prepared == "answer" else not self.polite
        )
        work = self._negotiate(fits, offer_taken, answer, answer_forwarded)
        self._worker = asyncio.get_running_loop().create_task(work)

    def rebind(self, peer_session: str) -> None:
        """The other side's new session, after a server restart (`call-resumed`)."""
        self.peer_session = peer_session

    def deliver(self, message: dict[str, Any]) -> None:
        """A relayed offer/answer/candidate from the peer; handled in arrival order."""
        self._inbox.put_nowait(message)

    def finish(self, ended: CallEnded) -> None:
        if not self.ended.done():
            self.ended.set_result(ended)

    # --- for users --------------------------------------------------------------------------

    async def wait_connected(self, timeout: float = 20.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            await self.connected.wait()

    async def hangup(self) -> CallEnded:
        if not self.ended.done():
            await self._hang_up()
        ended = await self.ended
        await self.close()
        return ended

    async def close(self) -> None:
        """Releases everything: connection, tracks, recorder, player, tasks."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        await self.counter.stop()
        if self._recorder is not None and self._recording:
            self._recording = False
            await self._recorder.stop()
        if self.pc is not None:
            await self.pc.close()
        for track in self._tracks:
            track.stop()
        if self._player is not None:
            for played in (self._player.audio, self._player.video):
                if played is not None:
                    played.stop()

    # --- negotiation ------------------------------------------------------------------------

    def _open(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(self._configuration)
        self.pc = pc
        pc.on("track", self._on_track)

        @pc.on("connectionstatechange")
        async def state_changed() -> None:
            if pc is self.pc:  # not a connection prepared and dropped since
                await self._on_state(pc)

        if self._echo:
            for kind in ("audio", "video") if self.media == "video" else ("audio",):
                pc.addTransceiver(kind, direction="sendrecv")
        return pc

    async def _discard(self) -> None:
        """Drops a connection prepared for a call that went another way (its tracks are kept:
        nothing was sent, so nothing stopped them)."""
        pc, self.pc, self._prepared, self._tracks_added = self.pc, None, None, False
        if pc is not None:
            await pc.close()

    async def _negotiate(
        self, fits: bool, offer_taken: bool, answer: str | None, forwarded: bool
    ) -> None:
        if self._prepared is not None and not fits:
            await self._discard()
        if self.pc is None:
            pc = self._open()
            if not self.polite:
                self._add_tracks()
                await pc.setLocalDescription(await pc.createOffer())
                await self._send_description()
        elif self._prepared == "offer" and offer_taken:
            # The callee has our offer: it needs our addresses, and maybe has its answer here.
            pc = self.pc
            await self._send_candidates()
            if answer:
                await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        else:
            pc = self.pc
            if not (self._prepared == "answer" and forwarded):
                await self._send_description()  # the offer, or an answer the caller lacks
        while True:
            message = await self._inbox.get()
            try:
                await self._handle(pc, message)
            except Exception:
                log.exception("could not apply the peer's %s", message.get("type"))

    async def _handle(self, pc: RTCPeerConnection, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "offer":
            if not self.polite and pc.signalingState != "stable":
                return  # a collision: the impolite side keeps its own offer
            await pc.setRemoteDescription(RTCSessionDescription(message["sdp"], "offer"))
            self._add_tracks()
            await pc.setLocalDescription(await pc.createAnswer())
            await self._send_description()
        elif kind == "answer":
            if pc.signalingState == "have-local-offer":
                await pc.setRemoteDescription(RTCSessionDescription(message["sdp"], "answer"))
        elif kind == "candidate" and message.get("candidate"):
            init = message["candidate"]
            text = init["candidate"].removeprefix("candidate:")
            if not text:
                return
            candidate = candidate_from_sdp(text)
            candidate.sdpMid = init.get("sdpMid")
            candidate.sdpMLineIndex = init.get("sdpMLineIndex")
            await pc.addIceCandidate(candidate)

    def _add_tracks(self) -> None:
        if self._tracks_added or self.pc is None or self._echo:
            return
        self._tracks_added = True
        for track in self._tracks:
            # A video call answered with voice only is a voice call for both sides.
            if track.kind == "video" and self.media != "video":
                continue
            self.pc.addTrack(track)

    async def _send_candidates(self) -> None:
        """The candidates aiortc gathered into our offer, trickled, then the end of them."""
        assert self.pc is not None and self.pc.localDescription is not None
        for found in candidates(self.pc.localDescription.sdp):
            await self._send({"type": "candidate", "to": self.peer_session, "candidate": found})
        await self._send({"type": "candidate", "to": self.peer_session, "candidate": None})

    async def _send_description(self) -> None:
        assert self.pc is not None and self.pc.localDescription is not None
        description = self.pc.localDescription
        await self._send(
            {"type": description.type, "to": self.peer_session, "sdp": description.sdp}
        )

    # --- events -----------------------------------------------------------------------------

    def _on_track(self, track: MediaStreamTrack) -> None:
        relay = self._relay
        if self._echo and self.pc is not None:
            # What arrives goes straight back on the same kind of transceiver.
            for transceiver in self.pc.getTransceivers():
                if transceiver.kind == track.kind:
                    transceiver.direction = "sendrecv"
                    transceiver.sender.replaceTrack(relay.subscribe(track))
                    break
        if self._recorder is not None:
            self._recorder.addTrack(relay.subscribe(track))
        self.counter.add(relay.subscribe(track))

    async def _on_state(self, pc: RTCPeerConnection) -> None:
        state = pc.connectionState
        if state == "connected":
            self.connected.set()
            if self._recorder is not None and not self._recording:
                self._recording = True
                await self._recorder.start()
        elif state == "failed":
            self.finish(CallEnded("connection-lost"))
