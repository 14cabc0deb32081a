"""Relays read for routing only: the SDP or candidate goes on as the client's own JSON text.

An offer, answer or candidate is most of what a server relays. Decoding its payload into
Python objects and encoding them again is most of its cost (an SDP has a hundred escaped line
breaks), and the server has no use for the payload. So the frame is decoded for `type`, `to`
and `id`, the payload kept as `msgspec.Raw` (its JSON syntax is checked, nothing is built),
and the relayed message splices it back in.

The checks are those of the typed models (messages.Offer, Answer, Candidate): anything this
path cannot vouch for exactly is left to the typed decode, which refuses it with a precise
error. A candidate is checked against `IceCandidate` and relayed as sent, so fields the model
does not name reach the other side.
"""

from typing import Final

import msgspec
from msgspec import Raw, field

from parley.protocol.messages import (
    SDP_MAX_LENGTH,
    ClientMessage,
    IceCandidate,
    RelayedAnswer,
    RelayedCandidate,
    RelayedOffer,
    ServerMessage,
    SessionId,
)


class OfferRoute(ClientMessage, tag="offer", kw_only=True):
    to: SessionId
    sdp: Raw


class AnswerRoute(ClientMessage, tag="answer", kw_only=True):
    to: SessionId
    sdp: Raw


class CandidateRoute(ClientMessage, tag="candidate", kw_only=True):
    to: SessionId
    candidate: Raw


RelayRoute = OfferRoute | AnswerRoute | CandidateRoute


class ForwardedOffer(ServerMessage, tag="offer", kw_only=True):
    """Sent as RelayedOffer is; the SDP is the sender's JSON string, unparsed."""

    from_: str = field(name="from")
    sdp: Raw


class ForwardedAnswer(ServerMessage, tag="answer", kw_only=True):
    """Sent as RelayedAnswer is; the SDP is the sender's JSON string, unparsed."""

    from_: str = field(name="from")
    sdp: Raw


class ForwardedCandidate(ServerMessage, tag="candidate", kw_only=True):
    """Sent as RelayedCandidate is; the candidate is the sender's JSON, unparsed."""

    from_: str = field(name="from")
    candidate: Raw


# What each forwarded message is to a client (and to the metrics, by message type).
WIRE_TYPE: Final[dict[type[ServerMessage], type[ServerMessage]]] = {
    ForwardedOffer: RelayedOffer,
    ForwardedAnswer: RelayedAnswer,
    ForwardedCandidate: RelayedCandidate,
}

_route_decoder: msgspec.json.Decoder[RelayRoute] = msgspec.json.Decoder(RelayRoute)
_candidate_decoder = msgspec.json.Decoder(IceCandidate | None)
# A JSON string of n bytes holds at most n - 2 characters (escapes only make it longer).
_SDP_MAX_RAW_BYTES = SDP_MAX_LENGTH + 2


def decode_route(frame: str | bytes) -> RelayRoute | None:
    """The routing fields of an offer, answer or candidate that the typed models would accept
    as they are; None for any other frame (the typed decode then handles it)."""
    try:
        route = _route_decoder.decode(frame)
    except (msgspec.DecodeError, RecursionError):
        return None
    if isinstance(route, CandidateRoute):
        # Checked in place (Raw is a buffer): an object IceCandidate accepts, or null.
        try:
            _candidate_decoder.decode(route.candidate)
        except (msgspec.DecodeError, RecursionError):
            return None
        return route
    sdp = route.sdp
    if len(sdp) > _SDP_MAX_RAW_BYTES or memoryview(sdp)[0] != 0x22:  # a JSON string: '"'
        return None
    return route


def forwarded(route: RelayRoute, sender: str) -> ServerMessage:
    """What the recipient of a routed relay is sent."""
    if type(route) is CandidateRoute:
        return ForwardedCandidate(from_=sender, candidate=route.candidate)
    if type(route) is OfferRoute:
        return ForwardedOffer(from_=sender, sdp=route.sdp)
    assert type(route) is AnswerRoute
    return ForwardedAnswer(from_=sender, sdp=route.sdp)
