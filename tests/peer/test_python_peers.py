"""Two Python programs call each other through Parley: real aiortc media, both ways."""

import asyncio
import contextlib
import time
from pathlib import Path

import av

from parley.peer import Phone
from tests.parley_server import running_server
from tests.support.raw_client import free_port

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
        assert incoming.offer is not None, "the caller's offer rode the invite"
        assert "a=candidate" not in incoming.offer, "without its addresses"
        answered = await callee.answer(incoming)
        await asyncio.wait_for(call.accepted.wait(), 10)
        # The fast path: the callee answered that offer, and its answer rode the accept.
        assert (call.offer_taken, call.answer_forwarded) == (True, True)
        assert (answered.offer_taken, answered.answer_forwarded) == (True, True)
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
        # The video offer that rode the invite no longer fits: it was made again, for voice.
        assert (call.offer_taken, answered.offer_taken) == (False, False)
        # The server's roles, whatever the session ids: the caller offers, the callee answers.
        assert (call.polite, answered.polite) == (False, True)
        await call.hangup()
    finally:
        await caller.close()
        await callee.close()


async def test_python_peers_calling_each_other_at_once_share_one_call(server_url: str) -> None:
    """Glare: the second invite answers the first call. Its sender had made an offer for its
    own call; told it is the polite side now, it drops that offer and answers the other's."""
    ana = await Phone.connect(server_url, name="Ana")
    bo = await Phone.connect(server_url, name="Bo")
    try:
        first, second = await asyncio.gather(
            ana.call_user(bo.user["id"], media="audio"), bo.call_user(ana.user["id"], "audio")
        )
        await asyncio.wait_for(first.accepted.wait(), 10)
        await asyncio.wait_for(second.accepted.wait(), 10)
        assert first.id == second.id, "one call"
        assert {first.role, second.role} == {"caller", "callee"}
        assert {first.polite, second.polite} == {False, True}
        assert (first.offer_taken, second.offer_taken) == (False, False)
        await first.wait_connected()
        await second.wait_connected()
        await frames_flow(ana, ("audio",))
        await frames_flow(bo, ("audio",))
        ended = await first.hangup()
        assert ended.reason == "hangup"
        assert (await asyncio.wait_for(second.ended, 10)).reason == "hangup"
    finally:
        await ana.close()
        await bo.close()


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


async def test_a_call_goes_on_across_a_server_restart_and_media_flows_again_both_ways(
    peer_network: None, tmp_path: Path
) -> None:
    """Both peers take the call back with `resume-call` (and the ticket): each ends up talking
    to the other's new session, frames keep coming both ways, and the restarted server knows
    the call well enough to carry its hang-up."""
    port = str(free_port())
    servers = contextlib.ExitStack()  # the same port and data (secret, history) both times
    url = servers.enter_context(running_server("--port", port, data_dir=tmp_path))
    caller = await Phone.connect(url, name="Ana")
    callee = await Phone.connect(url, name="Bo")
    try:
        call = await caller.call_user(callee.user["id"], media="video")
        answered = await callee.answer(await callee.next_incoming(timeout=10))
        await call.wait_connected()
        await answered.wait_connected()
        assert call.ticket is not None and call.ticket == answered.ticket
        before = (caller.session, callee.session)

        await asyncio.to_thread(servers.close)  # SIGTERM: both sockets close with 1012
        servers.enter_context(running_server("--port", port, data_dir=tmp_path))
        deadline = time.monotonic() + 30
        # Each side learns the other's new session from `call-resumed`.
        while (
            before[0] == caller.session
            or before[1] == callee.session
            or ((call.peer_session, answered.peer_session) != (callee.session, caller.session))
        ):
            assert time.monotonic() < deadline, "the call was not taken back"
            await asyncio.sleep(0.1)
        assert not call.ended.done() and not answered.ended.done()
        await frames_flow(caller, ("audio", "video"))
        await frames_flow(callee, ("audio", "video"))

        ended = await call.hangup()
        assert (ended.reason, ended.by) == ("hangup", caller.user["id"])
        other = await asyncio.wait_for(answered.ended, 10)
        assert (other.reason, other.by) == ("hangup", caller.user["id"])
    finally:
        await caller.close()
        await callee.close()
        await asyncio.to_thread(servers.close)
