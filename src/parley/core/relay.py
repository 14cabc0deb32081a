"""Relays between peers: offers, answers, candidates and in-call signals go only to another
member of the sender's room or to the other end of its answered call, stamped with the sender's
session id (a client cannot say who it is)."""

from parley.core.calls import CallService
from parley.core.rooms import RoomRegistry
from parley.core.sessions import Session
from parley.protocol.messages import (
    Answer,
    Candidate,
    MediaState,
    Offer,
    RelayedAnswer,
    RelayedCandidate,
    RelayedMediaState,
    RelayedOffer,
    RelayedVideoReply,
    RelayedVideoRequest,
    ServerMessage,
    VideoReply,
    VideoRequest,
)

Relayable = Offer | Answer | Candidate | MediaState | VideoRequest | VideoReply


def may_relay(
    session: Session, user: str, to: str, rooms: RoomRegistry, calls: CallService
) -> bool:
    room = rooms.get(session.room) if session.room is not None else None
    if room is not None and to != session.id and to in room.members:
        return True
    return calls.peer_session(session.id, user) == to


def relayed(message: Relayable, sender: str) -> ServerMessage:
    """What the recipient of `message` is sent."""
    match message:
        case Offer():
            return RelayedOffer(from_=sender, sdp=message.sdp)
        case Answer():
            return RelayedAnswer(from_=sender, sdp=message.sdp)
        case Candidate():
            return RelayedCandidate(from_=sender, candidate=message.candidate)
        case MediaState():
            return RelayedMediaState(
                from_=sender,
                muted=message.muted,
                cameraOff=message.cameraOff,
                screen=message.screen,
            )
        case VideoRequest():
            return RelayedVideoRequest(from_=sender)
        case VideoReply():
            return RelayedVideoReply(from_=sender, accepted=message.accepted)
