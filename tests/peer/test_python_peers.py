"""Two Python programs call each other through Parley: real aiortc media, both ways."""

import asyncio
import time
from pathlib import Path

import av

from parley.peer import Phone

FLOWING_SECONDS = 20.0


async def frames_flow(
    phone: Phone, kinds: tuple[str, ...], within: float = FLOWING_SECONDS
) -> None:
    """Received frame counts must grow for each kind."""
    assert phone.call is not None
    counter = phone.call.counter
    deadline = time.monotonic() + within
    before = dict(counter.frames)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        if all(counter.frames[k] > before.get(k, 0) + 5 for k in kinds):
            return
    raise AssertionError(f"frames did not flow for {kinds}: {dict(counter.frames)}")


async def test_python_calls_python_media_flows_both_ways_and_hangup_reaches_the_other(
    server_url: str,
) -> None:
    caller = await Phone.connect(server_url, name="Py caller")
    callee = await Phone.connect(server_url, name="Py callee")
    try:
        call = await caller.call_user(callee.user["id"], media="video")
        assert not call.accepted.is_set(), "ringing, not yet answered"
        incoming = await callee.next_incoming(timeout=10)
        assert (incoming.caller_name, incoming.media) == ("Py caller", "video")
        answered = await callee.answer(incoming)
        await asyncio.wait_for(call.accepted.wait(), 10)
        await call.wait_connected()
        await answered.wait_connected()
        await frames_flow(caller, ("audio", "video"))
        await frames_flow(callee, ("audio", "video"))
        assert callee.call is not None and callee.call.counter.video_size == (320, 240)

        ended = await call.hangup()
        assert (ended.reason, ended.by) == ("hangup", caller.user["id"])
        other = await asyncio.wait_for(answered.ended, 10)
        assert (other.reason, other.by) == ("hangup", caller.user["id"])
    finally:
        await caller.close()
        await callee.close()


async def test_declined_and_busy_are_reported_to_a_python_caller(server_url: str) -> None:
    caller = await Phone.connect(server_url, name="A")
    callee = await Phone.connect(server_url, name="B")
    try:
        call = await caller.call_user(callee.user["id"], media="audio")
        await callee.reject(await callee.next_incoming(timeout=10))
        ended = await asyncio.wait_for(call.ended, 10)
        assert (ended.reason, ended.by) == ("declined", callee.user["id"])
        await call.close()
    finally:
        await caller.close()
        await callee.close()


async def test_recording_is_a_file_pyav_reads_with_audio_and_video_of_the_calls_length(
    server_url: str, tmp_path: Path
) -> None:
    caller = await Phone.connect(server_url, name="Talker")
    recorder = await Phone.connect(server_url, name="Recorder")
    target = tmp_path / "call.mkv"
    try:
        call = await caller.call_user(recorder.user["id"], media="video")
        recorded = await recorder.answer(
            await recorder.next_incoming(timeout=10), record_to=str(target)
        )
        await recorded.wait_connected()
        started = time.monotonic()
        await frames_flow(recorder, ("audio", "video"))
        await asyncio.sleep(max(0.0, 4.0 - (time.monotonic() - started)))
        talked = time.monotonic() - started
        await call.hangup()
        await asyncio.wait_for(recorded.ended, 10)
        await recorded.close()
    finally:
        await caller.close()
        await recorder.close()

    assert target.stat().st_size > 10_000
    with av.open(str(target)) as container:
        kinds = {stream.type for stream in container.streams}
        assert kinds == {"audio", "video"}
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video))
    with av.open(str(target)) as container:
        duration = container.duration / 1_000_000 if container.duration else 0.0
    assert frames > 30
    assert abs(duration - talked) < 2.5, (duration, talked)


async def test_python_peers_meet_in_a_room_and_leaving_ends_it_for_the_other(
    server_url: str,
) -> None:
    first = await Phone.connect(server_url, name="One", presence=False)
    second = await Phone.connect(server_url, name="Two", presence=False)
    try:
        one = await first.join("py-room", media="video")
        two = await second.join("py-room", media="video")
        await one.wait_connected()
        await two.wait_connected()
        await frames_flow(first, ("audio", "video"))
        await frames_flow(second, ("audio", "video"))
        left = await one.hangup()
        assert left.reason == "hangup"
        other = await asyncio.wait_for(two.ended, 10)
        assert other.reason == "hangup", "the other member is told the peer left"
    finally:
        await first.close()
        await second.close()


async def test_a_video_call_answered_with_voice_only_carries_audio_only_and_the_caller_offers(
    server_url: str,
) -> None:
    caller = await Phone.connect(server_url, name="Caller")
    callee = await Phone.connect(server_url, name="Callee")
    try:
        call = await caller.call_user(callee.user["id"], media="video")
        answered = await callee.answer(await callee.next_incoming(timeout=10), media="audio")
        await call.wait_connected()
        await frames_flow(caller, ("audio",))
        await frames_flow(callee, ("audio",))
        assert call.media == answered.media == "audio"
        assert caller.call is not None and caller.call.counter.frames["video"] == 0
        # The server's roles, whatever the session ids: the caller offers, the callee answers.
        assert (call.polite, answered.polite) == (False, True)
        await call.hangup()
    finally:
        await caller.close()
        await callee.close()


async def test_a_python_peer_whose_signaling_drops_resumes_and_the_call_goes_on(
    server_url: str,
) -> None:
    caller = await Phone.connect(server_url, name="Drops")
    callee = await Phone.connect(server_url, name="Stays")
    try:
        call = await caller.call_user(callee.user["id"], media="audio")
        answered = await callee.answer(await callee.next_incoming(timeout=10))
        await call.wait_connected()
        await answered.wait_connected()
        session = caller.session

        # The network drops the signaling socket: no close frame, no goodbye.
        caller._signaling._ws._response.connection.transport.abort()  # type: ignore[union-attr]
        await frames_flow(callee, ("audio",))  # media never went through the server
        deadline = time.monotonic() + 15
        while caller._signaling.reconnects == 0:
            assert time.monotonic() < deadline, "the peer did not reconnect"
            await asyncio.sleep(0.1)
        assert caller.session == session, "the same session, resumed"
        assert caller._signaling.welcome["resumed"] is True
        await frames_flow(caller, ("audio",))

        ended = await call.hangup()
        assert ended.reason == "hangup"
        other = await asyncio.wait_for(answered.ended, 10)
        assert (other.reason, other.by) == ("hangup", caller.user["id"])
    finally:
        await caller.close()
        await callee.close()
