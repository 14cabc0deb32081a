"""Protocol v1 message models.

Every frame is one JSON object whose `type` selects the model (a msgspec tagged union), so a
single C-level decode both parses and validates a frame. The JSON Schema in docs/protocol.md is
generated from these classes.
"""

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct, field

from parley.protocol.errors import ErrorCode

PROTOCOL_VERSION = 1

RoomName = Annotated[
    str,
    Meta(
        # (?!\n): in Python's re, a bare $ also matches before a final newline.
        pattern=r"^[A-Za-z0-9_-]{1,64}(?!\n)$",
        description="1-64 characters from A-Z a-z 0-9 _ -.",
    ),
]
SessionId = Annotated[
    str, Meta(min_length=1, max_length=64, description="A server-assigned session id.")
]
RequestId = Annotated[str, Meta(max_length=64)] | Annotated[int, Meta(ge=0, le=2**53 - 1)] | None
SDP_MAX_LENGTH = 60_000
Sdp = Annotated[str, Meta(max_length=SDP_MAX_LENGTH, description="An SDP blob, relayed untouched.")]
PeerLeftReason = Literal["left", "disconnected"]
UserId = Annotated[str, Meta(min_length=1, max_length=64, description="A user id.")]
CallId = Annotated[str, Meta(min_length=1, max_length=64, description="A server-assigned call id.")]
DisplayName = Annotated[
    str,
    Meta(pattern=r"^[^\x00-\x1f\x7f]{0,64}(?!\n)$", description="Up to 64 printable characters."),
]
Token = Annotated[str, Meta(max_length=4096)]
Media = Literal["audio", "video"]
IceTransportPolicy = Literal["all", "relay"]
EndReason = Literal[
    "declined",
    "busy",
    "cancelled",
    "no-answer",
    "offline",
    "hangup",
    "connection-lost",
    "answered-elsewhere",
]


class IceCandidate(Struct, omit_defaults=True):
    """An RTCIceCandidateInit, as `RTCIceCandidate.toJSON()` produces it."""

    candidate: Annotated[str, Meta(max_length=1024)]
    sdpMid: Annotated[str, Meta(max_length=64)] | None = None
    sdpMLineIndex: Annotated[int, Meta(ge=0, le=1024)] | None = None
    usernameFragment: Annotated[str, Meta(max_length=256)] | None = None


class IceServer(Struct, omit_defaults=True):
    """An RTCIceServer entry handed to clients; never hard-coded in the client."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


# --- client -> server -----------------------------------------------------------------------


class ClientMessage(Struct, tag_field="type", kw_only=True, omit_defaults=True):
    """Every client message may carry an `id`; replies and errors about it echo that id."""

    id: RequestId = None


class Hello(ClientMessage, tag="hello", kw_only=True):
    """Opens the session. The server answers `welcome`. `presence: true` lists this session's
    user as online and lets it ring for direct calls; `token` is the one a previous `welcome` gave.
    """

    v: int
    name: DisplayName = ""
    token: Token | None = None
    presence: bool = False
    resume: Annotated[str, Meta(max_length=128)] | None = None
    """The `resume` token of an earlier `welcome`: take that session back after a dropped
    socket. Without it, or when it no longer works, the server opens a new session."""
    lastSeq: Annotated[int, Meta(ge=0, le=2**53 - 1)] = 0
    """With `resume`: the highest `seq` this client received; the server replays the rest."""


class Join(ClientMessage, tag="join", kw_only=True):
    """Enters a room, creating it when it does not exist."""

    room: RoomName


class Ready(ClientMessage, tag="ready", kw_only=True):
    """Local media is up: the other members may start negotiating with this session."""


class Offer(ClientMessage, tag="offer", kw_only=True):
    """An SDP offer for another member of the room."""

    to: SessionId
    sdp: Sdp


class Answer(ClientMessage, tag="answer", kw_only=True):
    """An SDP answer for another member of the room."""

    to: SessionId
    sdp: Sdp


class Candidate(ClientMessage, tag="candidate", kw_only=True):
    """A trickled ICE candidate; `null` means this side finished gathering."""

    to: SessionId
    candidate: IceCandidate | None


class Leave(ClientMessage, tag="leave", kw_only=True):
    """Leaves the room (hang-up). The other members get `peer-left`."""


class IceServersRequest(ClientMessage, tag="ice-servers", kw_only=True):
    """Asks for fresh ICE servers (TURN credentials expire); rate-limited per user."""


class Invite(ClientMessage, tag="invite", kw_only=True):
    """Calls a user: each device they are online on rings. Answered by `ringing` or `call-ended`.
    `caller_offers: true` says this client takes its negotiation role from
    `call-accepted.polite` (see `call-accepted`). With it, `offer` may carry the caller's first
    offer, made before inviting: the ringing devices get it with `incoming-call` and can work on
    their answer while they ring. It should hold none of the caller's addresses (no
    `a=candidate` lines; `c=IN IP4 0.0.0.0`, port 9, as before gathering): those reach the
    callee only once it answers, as trickled candidates. `takes_answer: true` says this client
    sets an answer that comes with `call-accepted` (see `accept.answer`); without it the answer
    is always relayed."""

    to: UserId
    media: Media
    caller_offers: bool = False
    offer: Sdp | None = None
    takes_answer: bool = False


class Accept(ClientMessage, tag="accept", kw_only=True):
    """Answers a ringing call; `media: "audio"` answers a video call with voice only.
    `caller_offers` as in `invite`. `offer_taken: true` says this device answers the offer that
    came with `incoming-call`: the caller does not send that offer again (see `call-accepted`).
    With it, `answer` may carry that answer, made while the call rang: when the caller's invite
    said `takes_answer`, it goes to the caller with `call-accepted` (and this device is told so,
    by `answer_forwarded`); otherwise this device relays its answer once `call-accepted` names
    the caller's session. It may hold this device's addresses: they reach the caller only now
    that the call is answered."""

    call: CallId
    media: Media
    caller_offers: bool = False
    offer_taken: bool = False
    answer: Sdp | None = None


class Reject(ClientMessage, tag="reject", kw_only=True):
    """Declines a ringing call (on every device of the callee)."""

    call: CallId


class Cancel(ClientMessage, tag="cancel", kw_only=True):
    """The caller gives up before an answer. On a call already answered it hangs up."""

    call: CallId


class Hangup(ClientMessage, tag="hangup", kw_only=True):
    """Ends a call in any state: while ringing it cancels (caller) or declines (callee)."""

    call: CallId


class ResumeCall(ClientMessage, tag="resume-call", kw_only=True):
    """After a server restart (`welcome` with `resumed: false` while in an answered call): take
    the call up again. `peer` is the other side's user id and `role` says who called. When both
    sides claim the same call within the resume window, both get `call-resumed`; otherwise the
    waiting side gets `call-ended` with `connection-lost`."""

    call: CallId
    peer: UserId
    role: Literal["caller", "callee"]
    media: Media


class MediaState(ClientMessage, tag="media-state", kw_only=True):
    """Tells the other side what this side sends, for its indicators: microphone muted, camera
    off, screen shared. Relayed like `candidate`; media changes need no renegotiation."""

    to: SessionId
    muted: bool = False
    cameraOff: bool = False
    screen: bool = False


class VideoRequest(ClientMessage, tag="video-request", kw_only=True):
    """In a voice call: asks the other side to turn video on. Answered by `video-reply`."""

    to: SessionId


class VideoReply(ClientMessage, tag="video-reply", kw_only=True):
    """Answers `video-request`: on `accepted`, both sides add video (a renegotiation)."""

    to: SessionId
    accepted: bool


CandidateType = Literal["host", "srflx", "prflx", "relay"]
Milliseconds = Annotated[float, Meta(ge=0, le=600_000)]
Kbps = Annotated[float, Meta(ge=0, le=1_000_000)]


class Quality(ClientMessage, tag="quality", kw_only=True):
    """At hang-up: a summary of the call's connection, stored with its history (`call` for a
    direct call; without it, for this session's room call). Answered by `quality-saved`."""

    call: CallId | None = None
    durationSeconds: Annotated[float, Meta(ge=0, le=7 * 24 * 3600)]
    rttMeanMs: Milliseconds | None = None
    rttMaxMs: Milliseconds | None = None
    lossPercent: Annotated[float, Meta(ge=0, le=100)] | None = None
    sendKbps: Kbps | None = None
    receiveKbps: Kbps | None = None
    candidateType: CandidateType | None = None
    protocol: Literal["udp", "tcp"] | None = None


ClientMessageUnion = (
    Hello
    | Join
    | Ready
    | Offer
    | Answer
    | Candidate
    | Leave
    | IceServersRequest
    | Invite
    | Accept
    | Reject
    | Cancel
    | Hangup
    | ResumeCall
    | MediaState
    | VideoRequest
    | VideoReply
    | Quality
)
CLIENT_MESSAGE_TYPES: tuple[type[ClientMessage], ...] = (
    Hello,
    Join,
    Ready,
    Offer,
    Answer,
    Candidate,
    Leave,
    IceServersRequest,
    Invite,
    Accept,
    Reject,
    Cancel,
    Hangup,
    ResumeCall,
    MediaState,
    VideoRequest,
    VideoReply,
    Quality,
)


# --- server -> client -----------------------------------------------------------------------


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
    `iceServers` carry time-limited TURN credentials; `iceTransportPolicy: "relay"` means the
    server's operator wants every call relayed (so no peer learns another's IP address).
    `token` is present when the server issued a new one: keep it and send it in the next `hello`.
    `online` lists the users online for calls (when the directory is on and `presence` was asked).
    """

    v: int
    session: str
    user: UserInfo
    maxMessageBytes: int
    iceServers: list[IceServer]
    iceTransportPolicy: IceTransportPolicy = "all"
    token: str | None = None
    online: list[UserInfo] | None = None
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


class Presence(ServerMessage, tag="presence", kw_only=True):
    """A user came online for calls, or went offline (sent when the directory is on)."""

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
    do not send it again (nor the candidates it lists)."""

    id: RequestId = None
    call: str
    media: Media
    peer: str
    polite: bool
    offer_taken: bool = False
    answer: str | None = None
    answer_forwarded: bool = False


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
    | Presence
    | Ringing
    | IncomingCall
    | CallAccepted
    | CallEnded
    | CallResumed
)
SERVER_MESSAGE_TYPES: tuple[type[ServerMessage], ...] = (
    Welcome,
    Joined,
    PeerJoined,
    PeerReady,
    PeerLeft,
    RelayedOffer,
    RelayedAnswer,
    RelayedCandidate,
    RelayedMediaState,
    RelayedVideoRequest,
    RelayedVideoReply,
    QualitySaved,
    Left,
    Error,
    IceServers,
    Presence,
    Ringing,
    IncomingCall,
    CallAccepted,
    CallEnded,
    CallResumed,
)


def message_type(cls: type[Struct]) -> str:
    """The `type` tag a message class is sent with."""
    tag = msgspec.inspect.type_info(cls).tag  # type: ignore[attr-defined]
    assert isinstance(tag, str)
    return tag
