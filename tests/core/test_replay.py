"""The replay log against a plain model: it keeps the newest messages that fit both its count
and its byte budget (always the newest one), and replays exactly what came after a seq."""

from hypothesis import given
from hypothesis import strategies as st

from parley.core.replay import SMALL_MESSAGE_BYTES, ReplayLog
from parley.protocol.messages import IceCandidate, RelayedCandidate, RelayedOffer, ServerMessage

CANDIDATE = RelayedCandidate(from_="a", candidate=IceCandidate(candidate="candidate:1"))


def offer(sdp_length: int) -> RelayedOffer:
    return RelayedOffer(from_="a", sdp="v" * sdp_length)


def weight(message: ServerMessage) -> int:
    if isinstance(message, RelayedOffer):
        return len(message.sdp) + SMALL_MESSAGE_BYTES
    return SMALL_MESSAGE_BYTES


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


messages = st.lists(
    st.one_of(st.just(CANDIDATE), st.integers(0, 3000).map(offer)), min_size=1, max_size=60
)


@given(messages, st.integers(1, 12), st.integers(SMALL_MESSAGE_BYTES, 8000))
def test_the_log_keeps_what_the_model_keeps_and_replays_it_in_order(
    sent: list[ServerMessage], capacity: int, max_bytes: int
) -> None:
    log = ReplayLog(capacity, max_bytes)
    numbers = [log.append(message) for message in sent]
    kept = model_after_appends(sent, capacity, max_bytes)

    assert numbers == list(range(1, len(sent) + 1))
    assert log.last_seq == len(sent)
    assert log.oldest_seq == kept[0][0]
    oldest = kept[0][0]
    assert log.after(oldest - 1) == kept
    assert log.after(len(sent)) == []
    if oldest > 1:
        assert log.after(oldest - 2) is None  # one of them was dropped: no exact replay


def test_a_log_of_no_capacity_numbers_messages_and_keeps_none() -> None:
    log = ReplayLog(0, 10_000)
    assert [log.append(CANDIDATE) for _ in range(3)] == [1, 2, 3]
    assert log.after(3) == []
    assert log.after(2) is None
