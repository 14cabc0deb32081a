"""Relays read for routing only (protocol.routing) against the typed models: the fast path
takes exactly the offers, answers and candidates the typed decode accepts, with the same
routing fields and the same payload, and what it sends reads as the typed relay does."""

from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.protocol.codec import DecodeFailure, decode_client_frame, encode
from parley.protocol.messages import (
    SDP_MAX_LENGTH,
    Answer,
    Candidate,
    IceCandidate,
    Offer,
    RelayedCandidate,
    RelayedOffer,
)
from parley.protocol.routing import (
    CandidateRoute,
    ForwardedCandidate,
    ForwardedOffer,
    decode_route,
    forwarded,
)
from tests.protocol.test_parser_properties import (
    FAST,
    char_mutations,
    ice_candidates,
    mutated_messages,
    request_ids,
    targets,
    valid_messages,
)

RELAYS = (Offer, Answer, Candidate)


def check_agreement(frame: str | bytes) -> None:
    route = decode_route(frame)
    typed = decode_client_frame(frame)
    if route is None:
        # Left to the typed path: never a relay it would accept (long SDPs aside).
        if isinstance(typed, Offer | Answer):
            assert len(typed.sdp.encode()) > SDP_MAX_LENGTH - 2
        else:
            assert not isinstance(typed, Candidate), frame
        return
    assert isinstance(typed, RELAYS), (frame, typed)
    assert (typed.id, typed.to) == (route.id, route.to)
    assert type(typed).__name__ == type(route).__name__.removesuffix("Route")
    if isinstance(route, CandidateRoute):
        assert isinstance(typed, Candidate)
        payload = msgspec.json.decode(bytes(route.candidate), type=IceCandidate | None)
        assert payload == typed.candidate
    else:
        assert isinstance(typed, Offer | Answer)
        assert msgspec.json.decode(bytes(route.sdp)) == typed.sdp


@FAST
@given(valid_messages)
def test_the_fast_path_agrees_with_the_typed_decode_on_valid_messages(message: Any) -> None:
    check_agreement(msgspec.json.encode(message))


@FAST
@given(mutated_messages())
def test_the_fast_path_agrees_with_the_typed_decode_on_mutated_messages(
    mutated: tuple[Any, dict[str, Any], str],
) -> None:
    _message, obj, _field = mutated
    check_agreement(msgspec.json.encode(obj))


relay_messages = st.one_of(
    st.builds(Offer, id=request_ids, to=targets, sdp=st.text(max_size=300)),
    st.builds(Answer, id=request_ids, to=targets, sdp=st.text(max_size=300)),
    st.builds(Candidate, id=request_ids, to=targets, candidate=st.none() | ice_candidates),
)


@FAST
@given(relay_messages.flatmap(lambda m: char_mutations(msgspec.json.encode(m).decode())))
def test_the_fast_path_agrees_with_the_typed_decode_on_damaged_text(frame: str) -> None:
    check_agreement(frame)


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        ('{"type":"candidate","to":"s","candidate":{"candidate":"c","sdpMLineIndex":-1}}', "range"),
        ('{"type":"candidate","to":"s","candidate":"candidate:1"}', "not an object"),
        ('{"type":"candidate","to":"s"}', "missing"),
        ('{"type":"offer","to":"s","sdp":5}', "not a string"),
        ('{"type":"offer","to":"","sdp":"v=0"}', "empty target"),
        ('{"type":"answer","to":"s","sdp":"v=0","id":true}', "bad id"),
        ('{"type":"join","room":"r"}', "not a relay"),
        ('{"type":"offer","to":"s","sdp":"v=0"', "broken JSON"),
        ('{"type":"candidate","to":"s","candidate":' + "[" * 5000 + "]" * 5000 + "}", "deep"),
    ],
)
def test_what_the_typed_decode_would_refuse_is_left_to_it(frame: str, why: str) -> None:
    assert decode_route(frame) is None, why
    assert not isinstance(decode_client_frame(frame), RELAYS), why


def test_an_sdp_near_the_limit_is_left_to_the_typed_decode() -> None:
    escaped = "\\r\\n" * (SDP_MAX_LENGTH // 4 + 1)  # under the limit decoded, over it as text
    frame = '{"type":"offer","to":"s","sdp":"' + escaped + '"}'
    assert decode_route(frame) is None
    assert isinstance(decode_client_frame(frame), Offer)


def test_forwarded_relays_read_as_the_typed_ones_and_keep_unnamed_candidate_fields() -> None:
    sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"
    route = decode_route(msgspec.json.encode({"type": "offer", "to": "bo", "sdp": sdp}))
    assert route is not None
    message = forwarded(route, "ana")
    assert isinstance(message, ForwardedOffer)
    assert msgspec.json.decode(encode(message)) == msgspec.json.decode(
        encode(RelayedOffer(from_="ana", sdp=sdp))
    )

    candidate = {"candidate": "candidate:1 1 udp 1 192.0.2.1 5000 typ host", "sdpMid": "0"}
    sent = {"type": "candidate", "to": "bo", "candidate": {**candidate, "extension": [1]}}
    route = decode_route(msgspec.json.encode(sent))
    assert route is not None
    message = forwarded(route, "ana")
    assert isinstance(message, ForwardedCandidate)
    relayed: dict[str, Any] = msgspec.json.decode(encode(message))
    typed = msgspec.json.decode(
        encode(RelayedCandidate(from_="ana", candidate=IceCandidate(**candidate)))
    )
    assert relayed == {**typed, "candidate": {**candidate, "extension": [1]}}


def test_a_refused_frame_stays_refused_whichever_path_reads_it() -> None:
    frame = '{"type":"candidate","to":"s","candidate":{"sdpMid":"0"}}'  # no `candidate` field
    assert decode_route(frame) is None
    assert isinstance(decode_client_frame(frame), DecodeFailure)
