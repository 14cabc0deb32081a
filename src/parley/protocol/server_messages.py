"""Server → client messages of protocol v1 (see parley.protocol.messages)."""

from typing import get_args

from msgspec import Struct, field

from parley.protocol.errors import ErrorCode
from parley.protocol.fields import (
    EndReason,
    IceCandidate,
    IceServer,
    IceTransportPolicy,
    Media,
    PeerLeftReason,
    RequestId,
)


class ServerMessage(Struct, tag_field="type", kw_only=True, omit_defaults=True):
    """Every server message but `welcome` carries `seq`, counting 1, 2, 3… per session. The
    server fills it in as it sends; a client keeps the highest it has seen, for `hello.lastSeq`."""

    seq: int = 0


class UserInfo(Struct):
    """A user as others see them."""

    id: str
    name: str


class Welcome(ServerMessage, tag="welcome", kw_only=True):
    """Answers `hello`: the session id and the user are assigned here, never chosen by the client.
    `iceServers` are the servers without TURN credentials (ask `ice-servers` for those when a
    call or a room is about to start); `iceTransportPolicy: "relay"` means the
    server's operator wants every call relayed (so no peer learns another's IP address).
    `token` is present when the server issued a new one: keep it and send it in the next `hello`.
    `online` lists the users online for calls (when the directory is on and `presence` was asked),
    at most 100 of them: when there are more, `onlineNext` is the offset to ask `online` for
    (later pages may shift as users come and go; `presence` messages keep the list right).
    """

    v: int
    session: str
    user: UserInfo
    maxMessageBytes: int
    iceServers: list[IceServer]
    iceTransportPolicy: IceTransportPolicy = "all"
    token: str | None = None
    online: list[UserInfo] | None = None
    onlineNext: int | None = None
    resume: str | None = None
    """Send it as `hello.resume` to take this session back after a dropped socket."""
    resumed: bool = False
    """True when `hello.resume` worked: same session, room and call; missed messages follow."""
    resumeWindow: float = 0
    """Seconds the session waits for a resume after its socket drops (0: no resume)."""
    instance: str = ""
    """This server process's run. A new session after a reconnect under another `instance`
    means the server restarted (re-announce and keep calls); under the same one, the old
    session ended (its calls with it)."""


class RoomPeer(Struct):
    """A member already in the room when you joined."""

    id: str
    ready: bool


class Joined(ServerMessage, tag="joined", kw_only=True):
    """Answers `join`. `created` is true when this join made the room."""

    id: RequestId = None
    room: str
    created: bool
    capacity: int
    peers: list[RoomPeer]


class PeerJoined(ServerMessage, tag="peer-joined", kw_only=True):
    """Another session joined your room."""

    peer: str


class PeerReady(ServerMessage, tag="peer-ready", kw_only=True):
    """A member of your room has its local media up."""

    peer: str


class PeerLeft(ServerMessage, tag="peer-left", kw_only=True):
    """A member left your room: `left` by hang-up, `disconnected` when its socket closed."""

    peer: str
    reason: PeerLeftReason


class RelayedOffer(ServerMessage, tag="offer", kw_only=True):
    """An SDP offer from the member named in `from` (stamped by the server)."""

    from_: str = field(name="from")
    sdp: str


class RelayedAnswer(ServerMessage, tag="answer", kw_only=True):
    """An SDP answer from the member named in `from` (stamped by the server)."""

    from_: str = field(name="from")
    sdp: str


class RelayedCandidate(ServerMessage, tag="candidate", kw_only=True):
    """A trickled ICE candidate from the member named in `from`; `null` ends gathering."""

    from_: str = field(name="from")
    candidate: IceCandidate | None


class RelayedMediaState(ServerMessage, tag="media-state", kw_only=True):
    """What the member named in `from` sends now: show a muted / camera-off / sharing mark."""

    from_: str = field(name="from")
    muted: bool = False
    cameraOff: bool = False
    screen: bool = False


class RelayedVideoRequest(ServerMessage, tag="video-request", kw_only=True):
    """The member named in `from` asks to turn video on: answer with `video-reply`."""

    from_: str = field(name="from")


class RelayedVideoReply(ServerMessage, tag="video-reply", kw_only=True):
    """The answer to your `video-request`."""

    from_: str = field(name="from")
    accepted: bool


class QualitySaved(ServerMessage, tag="quality-saved", kw_only=True):
    """Answers `quality`: the summary is stored."""

    id: RequestId = None


class Left(ServerMessage, tag="left", kw_only=True):
    """Answers `leave`."""

    id: RequestId = None
    room: str


class Error(ServerMessage, tag="error", kw_only=True):
    """Answers a message that could not be carried out. The connection stays open."""

    id: RequestId = None
    code: ErrorCode
    message: str


class IceServers(ServerMessage, tag="ice-servers", kw_only=True):
    """Answers `ice-servers`: use these for the next RTCPeerConnection or ICE restart."""

    id: RequestId = None
    iceServers: list[IceServer]
    iceTransportPolicy: IceTransportPolicy


class Online(ServerMessage, tag="online", kw_only=True):
    """Answers `online`: the next page of users online for calls (at most 100), and `next`, the
    offset of the page after it (absent at the end)."""

    id: RequestId = None
    users: list[UserInfo]
    next: int | None = None


class Presence(ServerMessage, tag="presence", kw_only=True):
    """A user came online for calls, or went offline (sent when the directory is on). Changes
    are told at most twice a second, each user's net change once: a user who came and went
    within that half second is not told at all. Not sent to the user's own sessions."""

    user: UserInfo
    online: bool


class Ringing(ServerMessage, tag="ringing", kw_only=True):
    """Answers `invite`: the callee's devices are ringing. Play ringback."""

    id: RequestId = None
    call: str
    callee: UserInfo
    media: Media


class IncomingCall(ServerMessage, tag="incoming-call", kw_only=True):
    """Rings this device. Answer with `accept` or `reject`. `offer`: the caller's first offer,
    when its invite carried one (see `invite`); set it as the remote description while ringing
    (without any addresses it may hold). The answer may be made while ringing too (see
    `accept.answer`), but nothing goes to the caller before this device's user answers."""

    call: str
    caller: UserInfo
    media: Media
    offer: str | None = None


class CallAccepted(ServerMessage, tag="call-accepted", kw_only=True):
    """The call is answered, to the caller and the answering device. `peer` is the other side's
    session: negotiate with it (offer/answer/candidate `to`). `media` is what was agreed.
    `polite` gives the roles of perfect negotiation. When both the invite and the answer said
    `caller_offers: true`, the caller's device gets `false` and makes the first offer (it may
    have made it before the answer, and sends it now unless `offer_taken`) and the answering
    device gets `true`;
    otherwise the rule of rooms, which older clients apply by themselves: the session whose id
    sorts first is polite. (After a glare the earlier invite is the caller's.)
    `offer_taken: true` (only when the caller offers, and the agreed media are the invite's):
    the answering device answers the offer the invite carried; the caller sends its trickled
    candidates, not that offer again. Otherwise the caller sends its offer now.
    `answer` (to the caller, only with `offer_taken` and when its invite said `takes_answer`):
    the answer that `accept` carried; set it as the remote description, no relayed `answer`
    follows. `answer_forwarded: true` (to the answering device) says the caller got that answer:
    do not send it again (nor the candidates it lists). `ticket` (to both): keep it with the call;
    `resume-call` must show it to take the call back after a server restart."""

    id: RequestId = None
    call: str
    media: Media
    peer: str
    polite: bool
    offer_taken: bool = False
    answer: str | None = None
    answer_forwarded: bool = False
    ticket: str | None = None


class CallEnded(ServerMessage, tag="call-ended", kw_only=True):
    """The call is over for this device, with why and the user who ended it (`null`: nobody,
    e.g. no answer). `answered-elsewhere` goes only to the callee's other devices."""

    id: RequestId = None
    call: str
    reason: EndReason
    by: str | None


class CallResumed(ServerMessage, tag="call-resumed", kw_only=True):
    """Answers `resume-call` on both sides: the call goes on; `peer` is the other side's session
    now (negotiate with it)."""

    id: RequestId = None
    call: str
    media: Media
    peer: str


ServerMessageUnion = (
    Welcome
    | Joined
    | PeerJoined
    | PeerReady
    | PeerLeft
    | RelayedOffer
    | RelayedAnswer
    | RelayedCandidate
    | RelayedMediaState
    | RelayedVideoRequest
    | RelayedVideoReply
    | QualitySaved
    | Left
    | Error
    | IceServers
    | Online
    | Presence
    | Ringing
    | IncomingCall
    | CallAccepted
    | CallEnded
    | CallResumed
)
# Derived from the union: a new message is added there only.
SERVER_MESSAGE_TYPES: tuple[type[ServerMessage], ...] = get_args(ServerMessageUnion)
