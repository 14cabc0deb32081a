"""The replay log against a plain model: it keeps the newest messages that fit both its count
and its byte budget (always the newest one), and replays exactly what came after a seq."""

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.core.replay import ENTRY_OVERHEAD_BYTES, ReplayLog, weigh
from parley.protocol.codec import encode
from parley.protocol.messages import (
    CallAccepted,
    IceCandidate,
    IncomingCall,
    RelayedAnswer,
    RelayedCandidate,
    RelayedOffer,
    ServerMessage,
    UserInfo,
)
from parley.protocol.routing import ForwardedAnswer, ForwardedCandidate, ForwardedOffer

CANDIDATE = RelayedCandidate(from_="a", candidate=IceCandidate(candidate="candidate:1"))
FORWARDED_CANDIDATE = ForwardedCandidate(from_="a", candidate=msgspec.Raw(b"null"))
DESCRIPTIONS = (RelayedOffer, RelayedAnswer, ForwardedOffer, ForwardedAnswer)


def description(kind: type[ServerMessage], sdp_length: int) -> ServerMessage:
    sdp = "v" * sdp_length
    if kind in (ForwardedOffer, ForwardedAnswer):
        return kind(from_="a", sdp=msgspec.Raw(msgspec.json.encode(sdp)))  # type: ignore[call-arg]
    return kind(from_="a", sdp=sdp)  # type: ignore[call-arg]


def incoming_call(offer_length: int | None) -> IncomingCall:
    offer = None if offer_length is None else "v" * offer_length
    return IncomingCall(call="c", caller=UserInfo("u", "U"), media="video", offer=offer)


def call_accepted(answer_length: int | None) -> CallAccepted:
    answer = None if answer_length is None else "v" * answer_length
    return CallAccepted(call="c", media="video", peer="p", polite=False, answer=answer)


def padded_candidate(padding: int, unknown: int) -> ForwardedCandidate:
    """A candidate as a client may send it: valid, with whitespace and unknown fields that
    are relayed verbatim (the attack of the "padded relays" hole)."""
    body = b'{"candidate": "candidate:1", "x": "' + b"y" * unknown + b'"' + b" " * padding + b"}"
    return ForwardedCandidate(from_="a" * 22, candidate=msgspec.Raw(body))


def weight(message: ServerMessage) -> int:
    """What the log charges for an entry (see test_every_entry_weighs_at_least_its_json)."""
    return weigh(message)


def model_after_appends(
    messages: list[ServerMessage], capacity: int, max_bytes: int
) -> list[tuple[int, ServerMessage]]:
    kept: list[tuple[int, ServerMessage]] = []
    for seq, message in enumerate(messages, start=1):
        kept.append((seq, message))
        while len(kept) > capacity or (
            sum(weight(m) for _, m in kept) > max_bytes and len(kept) > 1
        ):
            kept.pop(0)
    return kept


any_message = st.one_of(
    st.sampled_from([CANDIDATE, FORWARDED_CANDIDATE]),
    st.builds(padded_candidate, st.integers(0, 5000), st.integers(0, 5000)),
    st.builds(description, st.sampled_from(DESCRIPTIONS), st.integers(0, 3000)),
    st.builds(incoming_call, st.none() | st.integers(0, 3000)),
    st.builds(call_accepted, st.none() | st.integers(0, 3000)),
)

messages = st.lists(
    st.one_of(
        st.sampled_from([CANDIDATE, FORWARDED_CANDIDATE]),
        st.builds(padded_candidate, st.integers(0, 5000), st.integers(0, 5000)),
        st.builds(description, st.sampled_from(DESCRIPTIONS), st.integers(0, 3000)),
        st.builds(incoming_call, st.none() | st.integers(0, 3000)),
        st.builds(call_accepted, st.none() | st.integers(0, 3000)),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages, st.integers(1, 12), st.integers(ENTRY_OVERHEAD_BYTES, 8000))
def test_the_log_keeps_what_the_model_keeps_and_replays_it_in_order(
    sent: list[ServerMessage], capacity: int, max_bytes: int
) -> None:
    log = ReplayLog(capacity, max_bytes)
    numbers = [log.append(message) for message in sent]
    kept = model_after_appends(sent, capacity, max_bytes)

    assert numbers == list(range(1, len(sent) + 1))
    assert log.last_seq == len(sent)
    assert log.oldest_seq == kept[0][0]
    assert log._bytes == sum(weight(message) for _, message in kept)
    for seq in range(-1, len(sent) + 2):
        if seq < 0 or seq > len(sent) or seq + 1 < kept[0][0]:
            expected = None  # from the future, or some of what followed it was dropped
        else:
            expected = [(number, message) for number, message in kept if number > seq]
        assert log.after(seq) == expected, seq


def test_a_log_of_no_capacity_numbers_messages_and_keeps_none() -> None:
    log = ReplayLog(0, 10_000)
    assert [log.append(CANDIDATE) for _ in range(3)] == [1, 2, 3]
    assert log.after(3) == []
    assert log.after(2) is None


@settings(max_examples=300, deadline=None)
@given(any_message)
def test_every_entry_weighs_at_least_its_json(message: ServerMessage) -> None:
    """The byte budget holds against what is really kept: an entry is charged at least the
    JSON it is sent as (padding and unknown fields included), and not much more."""
    sent = len(encode(message))
    assert sent <= weigh(message) <= sent + 2 * ENTRY_OVERHEAD_BYTES


def test_padded_candidates_cannot_grow_a_log_past_its_byte_budget() -> None:
    """One client sends a stream of candidates, each padded to 60 KB: the receiver's log
    keeps what fits in its 256 KiB, measured as the JSON it would replay."""
    budget = 256 * 1024
    log = ReplayLog(capacity=1000, max_bytes=budget)
    for _ in range(300):  # ~18 MB sent in all
        log.append(padded_candidate(padding=30_000, unknown=30_000))
    kept = log.after(log.oldest_seq - 1) or []
    assert 1 <= len(kept) < 10
    assert sum(len(encode(message)) for _, message in kept) <= budget
