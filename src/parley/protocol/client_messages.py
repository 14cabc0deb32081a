"""Client → server messages of protocol v1 (see parley.protocol.messages)."""

from typing import Annotated, Literal, get_args

from msgspec import Meta, Struct

from parley.protocol.fields import (
    CallId,
    DisplayName,
    HangupReason,
    IceCandidate,
    Media,
    MediaTrouble,
    RejectReason,
    RequestId,
    RoomName,
    Sdp,
    SessionId,
    Token,
    UserId,
)


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
    """Asks for ICE servers for a connection about to be made, or fresh ones (TURN credentials
    expire); rate-limited per user. TURN credentials come only to a session that is in a room,
    in a direct call (ringing, answered, or being taken back), or about to call: `to` names the
    user it is about to invite (online, and not itself), for an offer made before the invite.
    Any other session gets the servers without TURN credentials: a relay is for calls."""

    to: UserId | None = None


class OnlineRequest(ClientMessage, tag="online", kw_only=True):
    """Asks for more of the users online for calls, from `offset` on, after the first page that
    `welcome.online` held (`welcome.onlineNext` gives the offset). Answered by `online`;
    rate-limited per user. Only a session that asked for `presence` sees the directory."""

    offset: Annotated[int, Meta(ge=0, le=10_000_000)]


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
    """Turns a ringing call down (on every device of the callee). `reason`: the callee said no
    (`declined`, the default), or this device could not take the call (`cannot-answer`: not a
    secure page, no camera or microphone, or access to them refused), which the caller hears as
    such rather than as a refusal."""

    call: CallId
    reason: RejectReason = "declined"


class Cancel(ClientMessage, tag="cancel", kw_only=True):
    """The caller gives up before an answer. On a call already answered it hangs up."""

    call: CallId


class Hangup(ClientMessage, tag="hangup", kw_only=True):
    """Ends a call in any state: while ringing it cancels (caller) or declines (callee).
    `reason` applies to an answered call: the person hung up (`hangup`, the default), or this
    side gave up after no media reached it for 30 s, ICE restarts included (`media-failed`)."""

    call: CallId
    reason: HangupReason = "hangup"


class ResumeCall(ClientMessage, tag="resume-call", kw_only=True):
    """After a server restart (`welcome` with `resumed: false` while in an answered call): take
    the call up again. `peer` is the other side's user id and `role` says who called; `ticket` is
    the one `call-accepted` gave for this call. A call id, peer, role or ticket that do not
    belong together get `call-not-found`, as a call that never was. When both sides claim the
    same call within the resume window, both get `call-resumed`; otherwise the waiting side
    gets `call-ended` with `connection-lost`."""

    call: CallId
    peer: UserId
    role: Literal["caller", "callee"]
    media: Media
    ticket: Annotated[str, Meta(max_length=64)]


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
    direct call; without it, for this session's room call). `trouble`: why media stopped
    reaching this side during the call, if it did: the last cause met, but `no-path` never
    replaces a known one (kept after media came back; the cause when the call ended as
    `media-failed`). Answered by `quality-saved`."""

    call: CallId | None = None
    durationSeconds: Annotated[float, Meta(ge=0, le=7 * 24 * 3600)]
    rttMeanMs: Milliseconds | None = None
    rttMaxMs: Milliseconds | None = None
    lossPercent: Annotated[float, Meta(ge=0, le=100)] | None = None
    sendKbps: Kbps | None = None
    receiveKbps: Kbps | None = None
    candidateType: CandidateType | None = None
    protocol: Literal["udp", "tcp"] | None = None
    trouble: MediaTrouble | None = None


ClientMessageUnion = (
    Hello
    | Join
    | Ready
    | Offer
    | Answer
    | Candidate
    | Leave
    | IceServersRequest
    | OnlineRequest
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
# Derived from the union: a new message is added there only.
CLIENT_MESSAGE_TYPES: tuple[type[ClientMessage], ...] = get_args(ClientMessageUnion)
