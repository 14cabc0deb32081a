"""Direct calls between people on the phone page, in real Chromium, with real media."""

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page

from tests.e2e.helpers import (
    all_local_tracks_ended,
    assert_media_flows,
    video_receiver_count,
    wait_for_remote_video,
    wait_for_state,
)
from tests.e2e.phone import call, ended_reason, history_rows, sign_in
from tests.e2e.recorded_pages import ARTIFACTS
from tests.parley_server import running_server

pytestmark = pytest.mark.e2e

OpenPage = Callable[..., Page]
RING_TIMEOUT = 3


@pytest.fixture(scope="module")
def quick_ring_url(private_network: list[str]) -> Iterator[str]:
    """A server whose calls stop ringing after a few seconds, for the no-answer case."""
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "e2e-quick-ring-server.log"
    with running_server("--ring-timeout", str(RING_TIMEOUT), log_path=log) as url:
        yield url


def _person(
    open_page: OpenPage, base: str, name: str, *scripts: str, **context: object
) -> tuple[Page, str]:
    """A signed-in person on their own page; `scripts` run in it before the page's own."""
    page = open_page("about:blank", **context)
    for script in scripts:
        page.add_init_script(script)
    return page, sign_in(page, base, name)


def _in_call_with_media(
    pages: tuple[Page, ...], kinds: tuple[str, ...] = ("audio", "video")
) -> None:
    for page in pages:
        wait_for_state(page, "in-call")
        assert_media_flows(page, kinds)


def _assert_released(page: Page) -> None:
    assert all_local_tracks_ended(page)
    assert page.evaluate("() => window.parley.pc") is None
    assert page.evaluate("() => window.parley.timerCount") == 0


def test_answered_call_carries_media_both_ways_and_hangup_reaches_the_caller(
    server_url: str, open_page: OpenPage
) -> None:
    ana, _ = _person(open_page, server_url, "Ana")
    bo, bo_id = _person(open_page, server_url, "Bo")
    call(ana, bo_id)
    wait_for_state(ana, "outgoing")
    wait_for_state(bo, "incoming")
    assert bo.locator("#incoming-name").inner_text() == "Ana"
    assert bo.locator("#incoming-label").inner_text() == "Incoming video call"
    assert bo.evaluate("() => window.parley.timerCount") == 1, "the ringtone plays"
    bo.click("#accept-video")
    _in_call_with_media((ana, bo))
    for page in (ana, bo):
        wait_for_remote_video(page)
    bo.screenshot(path=str(ARTIFACTS / "direct-call.png"))

    bo.click("#hangup-button")
    assert ended_reason(ana) == "hangup"
    assert ana.locator("#ended-text").inner_text() == "Bo hung up."
    assert ended_reason(bo) == "hangup"
    assert bo.locator("#ended-text").inner_text() == "You hung up."
    for page in (ana, bo):
        _assert_released(page)

    [row] = history_rows(ana, server_url)
    assert row["direction"] == "outgoing" and row["peer_name"] == "Bo"
    assert row["end_reason"] == "hangup" and row["ended_by"] == bo_id
    assert row["answered"] is not None and row["duration_seconds"] > 0


# Every RTCPeerConnection the page makes, each relayed message it receives and sends, the
# offer a ringing call brought, and the answers that rode the accept and call-accepted.
_WATCH_CONNECTIONS_AND_RELAYS = """(() => {
  window.__made = [];
  window.__gathered = [];
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      window.__made.push(this);
      this.addEventListener('icecandidate', ({ candidate }) => {
        if (candidate) window.__gathered.push(candidate.candidate);
      });
    }
  };
  window.__relayed = [];
  window.__sentRelays = [];
  window.__rungOffer = null;
  window.__acceptAnswer = undefined;
  window.__acceptedAnswer = undefined;
  window.__sentCandidates = [];
  const relays = ['offer', 'answer', 'candidate'];
  const NativeSocket = window.WebSocket;
  window.WebSocket = class extends NativeSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', ({ data }) => {
        const message = JSON.parse(data);
        if (relays.includes(message.type)) window.__relayed.push(message.type);
        if (message.type === 'incoming-call') window.__rungOffer = message.offer ?? null;
        if (message.type === 'call-accepted') window.__acceptedAnswer = message.answer ?? null;
      });
    }
    send(data) {
      const message = JSON.parse(data);
      const type = message.type;
      if (relays.includes(type)) window.__sentRelays.push(type);
      if (type === 'candidate') window.__sentCandidates.push(message.candidate?.candidate ?? null);
      if (type === 'accept') window.__acceptAnswer = message.answer ?? null;
      super.send(data);
    }
  };
})()"""

_UFRAG = "(sdp) => /a=ice-ufrag:(\\S+)/.exec(sdp)[1]"


def _assert_no_addresses(sdp: str) -> None:
    assert "a=candidate" not in sdp
    assert set(re.findall(r"^c=.*$|^a=rtcp:.*$", sdp, re.M)) <= {
        "c=IN IP4 0.0.0.0\r",
        "a=rtcp:9 IN IP4 0.0.0.0\r",
    }
    assert {line.split()[1] for line in re.findall(r"^m=.*$", sdp, re.M)} == {"9"}


def _as_listed(candidate: str) -> str:
    """A trickled candidate as an SDP lists it (Chromium's trickled ones also name their ufrag)."""
    return re.sub(r" ufrag \S+", "", candidate)


def _ice_and_dtls(sdp: str) -> list[str]:
    return re.findall(r"^a=(?:ice-ufrag|ice-pwd|fingerprint):.*$", sdp, re.M)


def _watched_person(open_page: OpenPage, base: str, name: str) -> tuple[Page, str]:
    return _person(open_page, base, name, _WATCH_CONNECTIONS_AND_RELAYS)


def _watched_call_ringing(open_page: OpenPage, base: str, *bo_scripts: str) -> tuple[Page, Page]:
    """Ana calls Bo, both pages watched; returns once Bo's rings. (Chromium's fake media UI
    counts as allowed for good: Bo's page previews its camera and answers while it rings,
    unless `bo_scripts` say otherwise.)"""
    ana, _ = _watched_person(open_page, base, "Ana")
    bo, bo_id = _person(open_page, base, "Bo", _WATCH_CONNECTIONS_AND_RELAYS, *bo_scripts)
    call(ana, bo_id)
    wait_for_state(bo, "incoming")
    return ana, bo


def test_the_callers_offer_rides_the_invite_and_no_address_crosses_before_the_answer(
    server_url: str, open_page: OpenPage
) -> None:
    # A callee whose browser would ask for the camera: no preview, so no answer while ringing.
    ana, bo = _watched_call_ringing(open_page, server_url, _WILL_ASK)
    ana.wait_for_function("""() => window.parley.prepared?.iceGatheringState === 'complete'""")
    prepared = ana.evaluate("() => window.parley.prepared")
    assert prepared["signalingState"] == "have-local-offer"
    assert prepared["unsent"][0] == "offer" and "candidate" in prepared["unsent"]
    rung = bo.evaluate("() => window.__rungOffer")
    assert rung and "a=fingerprint:" in rung, "the ringing brought the caller's offer"
    sent = ana.evaluate("() => window.__made[0].localDescription.sdp")
    assert "a=candidate:" in sent, "the caller has gathered its addresses"
    assert _ice_and_dtls(rung) == _ice_and_dtls(sent), "the offer the caller set"
    assert "a=candidate" not in rung, "but none of the caller's addresses came with it"
    _assert_no_addresses(rung)
    # What the invite would carry had the offer been taken after gathering: still none.
    stripped = ana.evaluate(
        """async () => (await import('/static/sdk/sdp.js'))
             .withoutAddresses(window.__made[0].localDescription.sdp)"""
    )
    assert re.search(r"^c=IN IP4 127\.0\.0\.1", sent, re.M), "gathering filled in an address"
    _assert_no_addresses(stripped)
    assert _ice_and_dtls(stripped) == _ice_and_dtls(sent)
    assert len(stripped.splitlines()) == len(sent.splitlines()) - sent.count("a=candidate:")
    # The callee took the offer in, and made no answer and gathered nothing.
    bo.wait_for_function("() => window.parley.prepared?.signalingState === 'have-remote-offer'")
    assert bo.evaluate("() => window.parley.prepared") == {
        "signalingState": "have-remote-offer",
        "iceGatheringState": "new",
        "unsent": [],
    }
    bo.wait_for_timeout(300)  # time enough for anything sent to arrive
    assert bo.evaluate("() => window.__relayed") == [], "no candidate reaches a callee that rings"
    assert bo.evaluate("() => window.__sentRelays") == [], "a ringing callee sends nothing"
    assert ana.evaluate("() => window.__made[0].remoteDescription") is None

    bo.click("#accept-video")
    _in_call_with_media((ana, bo))
    assert ana.evaluate("() => window.__made.length") == 1, "the prepared connection is the call's"
    assert bo.evaluate("() => window.__made.length === 1 && window.__made[0] === window.parley.pc")
    assert ana.evaluate("() => window.parley.prepared") is None
    assert "offer" not in bo.evaluate("() => window.__relayed"), "the offer was not sent twice"
    assert "offer" not in ana.evaluate("() => window.__sentRelays")
    assert bo.evaluate("() => window.__sentRelays")[0] == "answer"
    assert bo.evaluate("() => window.__acceptAnswer") is None, "answered after the click"
    assert ana.evaluate("() => window.__acceptedAnswer") is None
    bo.click("#hangup-button")
    assert ended_reason(ana) == "hangup"


def test_a_callee_whose_preview_is_on_answers_while_ringing_and_the_answer_rides_the_accept(
    server_url: str, open_page: OpenPage
) -> None:
    ana, bo = _watched_call_ringing(open_page, server_url)
    bo.wait_for_function(_PREVIEW_PLAYING)
    # The answer is made with the preview's tracks and held, with the candidates found since.
    bo.wait_for_function("() => window.parley.prepared?.signalingState === 'stable'")
    bo.wait_for_function("() => window.parley.prepared.unsent.includes('candidate')")
    assert bo.evaluate("() => window.parley.prepared.unsent")[0] == "answer"
    made = bo.evaluate("() => window.__made[0].localDescription.sdp")
    assert made.startswith("v=0") and "a=fingerprint:" in made
    previewed = bo.evaluate(
        "() => document.getElementById('incoming-preview').srcObject.getTracks().map((t) => t.id)"
    )
    answering = bo.evaluate(
        "() => window.__made[0].getSenders().map((s) => s.track?.id).filter(Boolean)"
    )
    assert sorted(answering) == sorted(previewed) and len(answering) == 2
    # Still nothing crosses while it rings: no relay either way, no answer at the caller.
    bo.wait_for_timeout(300)
    assert bo.evaluate("() => window.__sentRelays") == [], "a ringing callee sends nothing"
    assert bo.evaluate("() => window.__relayed") == []
    assert ana.evaluate("() => window.__made[0].remoteDescription") is None
    assert ana.evaluate("() => window.__acceptedAnswer") is None

    bo.click("#accept-video")
    _in_call_with_media((ana, bo))
    sent = bo.evaluate("() => window.__acceptAnswer")
    assert sent, "the answer rode the accept"
    assert _ice_and_dtls(sent) == _ice_and_dtls(made), "the answer made while ringing"
    assert ana.evaluate("() => window.__acceptedAnswer") == sent, "and reached the caller with it"
    # (Candidates trickled later are added to it: the same description, by its ICE and DTLS.)
    remote = ana.evaluate("() => window.__made[0].remoteDescription.sdp")
    assert _ice_and_dtls(remote) == _ice_and_dtls(sent)
    assert "answer" not in bo.evaluate("() => window.__sentRelays"), "and was not sent again"
    assert "answer" not in ana.evaluate("() => window.__relayed")
    # The candidates found while ringing came in the answer; only later ones are trickled.
    in_answer = re.findall(r"^a=(candidate:.*?)\r$", sent, re.M)
    assert in_answer, "the answer carried the candidates gathered while ringing"
    sent_after = bo.evaluate("() => window.__sentCandidates")
    assert sent_after[-1] is None, "gathering finished"
    trickled = [_as_listed(c) for c in sent_after if c is not None]
    assert not set(in_answer) & set(trickled), "no candidate is sent twice"
    # None lost: each candidate the callee's connection found went one way or the other.
    found = [_as_listed(c) for c in bo.evaluate("() => window.__gathered")]
    assert sorted(found) == sorted(in_answer + trickled)
    assert "offer" not in ana.evaluate("() => window.__sentRelays")
    assert bo.evaluate("() => window.__made.length === 1 && window.__made[0] === window.parley.pc")
    assert ana.evaluate("() => window.__made.length") == 1
    bo.click("#hangup-button")
    assert ended_reason(ana) == "hangup"


@pytest.mark.parametrize(
    "answer_made",
    ["after the click", "while ringing"],
    ids=["answered at the click", "answer held"],
)
def test_a_network_change_while_ringing_restarts_ice_once_answered(
    server_url: str, open_page: OpenPage, answer_made: str
) -> None:
    ringing = (server_url, _WILL_ASK) if answer_made == "after the click" else (server_url,)
    ana, bo = _watched_call_ringing(open_page, *ringing)
    if answer_made == "while ringing":
        bo.wait_for_function("() => window.parley.prepared?.unsent[0] === 'answer'")
    ana.wait_for_function("() => window.parley.prepared?.iceGatheringState === 'complete'")
    ana.evaluate("() => window.dispatchEvent(new Event('online'))")
    wait_for_state(bo, "incoming")  # the call rings on through the resumed session
    rung_ufrag = bo.evaluate(f"() => ({_UFRAG})(window.__rungOffer)")
    bo.click("#accept-video")
    # The offer that rode the invite is answered, then ICE restarts with new candidates.
    ana.wait_for_function(
        f"""() => window.parley.pc?.signalingState === 'stable'
             && ({_UFRAG})(window.parley.pc.localDescription.sdp) !== {rung_ufrag!r}"""
    )
    _in_call_with_media((ana, bo))
    assert ana.evaluate("() => window.__made.length") == 1
    assert bo.evaluate("() => window.__relayed.filter((t) => t === 'offer').length") == 1
    assert (bo.evaluate("() => window.__acceptAnswer") is not None) == (
        answer_made == "while ringing"
    )


# The page hears call-accepted (and all that follows it) 1.5 s late: a busy main thread.
_CALL_ACCEPTED_LATE = """(() => {
  const NativeSocket = window.WebSocket;
  window.WebSocket = class extends NativeSocket {
    addEventListener(type, listener, ...rest) {
      if (type !== 'message') return super.addEventListener(type, listener, ...rest);
      let held = null; // while not null, messages wait here, in order
      let released = false;
      return super.addEventListener(type, (event) => {
        if (!released && held === null && JSON.parse(event.data).type === 'call-accepted') {
          held = [];
          setTimeout(() => {
            released = true;
            const waiting = held;
            held = null;
            waiting.forEach((message) => listener(message));
          }, 1500);
        }
        if (held !== null) held.push(event);
        else listener(event);
      }, ...rest);
    }
  };
})()"""


def test_a_callee_connected_before_it_hears_call_accepted_shows_the_call(
    server_url: str, open_page: OpenPage
) -> None:
    # Its answer rode the accept: the caller sets it and its checks reach the callee's
    # connection before the callee's page has set up the call screen that follows it.
    ana, _ = _watched_person(open_page, server_url, "Ana")
    bo, bo_id = _person(
        open_page, server_url, "Bo", _WATCH_CONNECTIONS_AND_RELAYS, _CALL_ACCEPTED_LATE
    )
    call(ana, bo_id)
    wait_for_state(bo, "incoming")
    bo.wait_for_function("() => window.parley.prepared?.unsent.includes('candidate')")
    bo.click("#accept-video")
    bo.wait_for_function("() => window.__made[0].connectionState === 'connected'")
    assert bo.evaluate("() => window.parley.pc") is None, "call-accepted not heard yet"
    _in_call_with_media((ana, bo))
    assert bo.evaluate("() => document.querySelector('#stage').dataset.connection") == "connected"


def test_a_call_cancelled_while_ringing_closes_the_connections_made_for_it(
    server_url: str, open_page: OpenPage
) -> None:
    ana, bo = _watched_call_ringing(open_page, server_url)
    ana.wait_for_function("() => window.parley.prepared?.signalingState === 'have-local-offer'")
    # The callee's answer, made while ringing, is held with its candidates.
    bo.wait_for_function("() => window.parley.prepared?.unsent.includes('candidate')")
    ana.click("#cancel-button")
    assert ended_reason(ana) == "cancelled"
    assert ended_reason(bo) == "cancelled"
    _assert_released(ana)
    assert ana.evaluate("() => window.__made.map((pc) => pc.signalingState)") == ["closed"]
    assert bo.evaluate("() => window.__made.map((pc) => pc.signalingState)") == ["closed"]
    assert bo.evaluate("() => window.__relayed") == []
    assert bo.evaluate("() => window.__sentRelays") == []


def test_a_call_declined_closes_the_callees_connection_and_sends_nothing(
    server_url: str, open_page: OpenPage
) -> None:
    ana, bo = _watched_call_ringing(open_page, server_url)
    bo.wait_for_function("() => window.parley.prepared?.unsent.includes('candidate')")
    assert bo.evaluate("() => window.parley.prepared.unsent")[0] == "answer"
    bo.click("#decline-button")
    assert ended_reason(bo) == "declined"
    assert ended_reason(ana) == "declined"
    assert bo.evaluate("() => window.__made.map((pc) => pc.signalingState)") == ["closed"]
    assert bo.evaluate("() => window.__sentRelays") == []
    assert ana.evaluate("() => window.__relayed") == [], "nothing of the answer reached the caller"
    assert ana.evaluate("() => window.__made.map((pc) => pc.signalingState)") == ["closed"]


# The network goes with the accept in flight: the socket closes (not a goodbye: the session
# resumes) just after the accept went out, or just before it could.
_SOCKET_DROPS_AT_ACCEPT = """(() => {
  const NativeSocket = window.WebSocket;
  window.WebSocket = class extends NativeSocket {
    send(data) {
      const drop = window.__dropAtAccept;
      if (!drop || JSON.parse(data).type !== 'accept') return super.send(data);
      window.__dropAtAccept = null;
      if (drop === 'after') super.send(data);
      this.close(4000, 'network gone'); // its reply, if any, is not read any more
    }
  };
})()"""


@pytest.mark.parametrize(
    ("drop", "callers_reason"),
    [("after", "hangup"), ("before", "declined")],
    ids=["accept reached the server", "accept never left"],
)
def test_an_accept_lost_with_the_socket_ends_the_call_on_both_sides(
    server_url: str, open_page: OpenPage, drop: str, callers_reason: str
) -> None:
    # The callee cannot know whether the server took its accept: a hang-up goes out with the
    # resumed session, so the caller is not left waiting on a call nobody answers.
    ana, _ = _person(open_page, server_url, "Ana")
    bo, bo_id = _person(open_page, server_url, "Bo", _SOCKET_DROPS_AT_ACCEPT)
    call(ana, bo_id)
    wait_for_state(bo, "incoming")
    bo.evaluate(f"() => {{ window.__dropAtAccept = '{drop}'; }}")
    bo.click("#accept-video")
    assert ended_reason(bo) == "connection-lost"
    assert ended_reason(ana) == callers_reason
    for page in (ana, bo):
        _assert_released(page)


# The camera answers only after a while, then says no (as a camera taken by another app).
_CAMERA_FAILS_LATE = """(() => {
  navigator.mediaDevices.getUserMedia = () => new Promise((_, reject) => setTimeout(
    () => reject(new DOMException('busy', 'NotReadableError')), 300));
})()"""

# The camera opens, but only after 800 ms (as a real one warming up); the page notes when its
# answer went out and when the camera opened.
_CAMERA_SLOW = """(() => {
  window.__order = [];
  const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    await new Promise((resolve) => setTimeout(resolve, 800));
    const stream = await open(constraints);
    window.__order.push('camera-open');
    return stream;
  };
  const NativeSocket = window.WebSocket;
  window.WebSocket = class extends NativeSocket {
    send(data) {
      if (JSON.parse(data).type === 'accept') window.__order.push('accept-sent');
      super.send(data);
    }
  };
})()"""

# A browser that will ask before it opens camera or microphone. (Chromium's fake media UI
# counts as allowed for good: the permission query is where a prompt would show.)
_WILL_ASK = """(() => {
  const query = navigator.permissions.query.bind(navigator.permissions);
  navigator.permissions.query = async (descriptor) =>
    ['camera', 'microphone'].includes(descriptor.name) ? { state: 'prompt' } : query(descriptor);
})()"""

# The user allowed camera and microphone for good on an earlier visit: nothing will ask.
ALLOWED = {"permissions": ["camera", "microphone"]}


def test_a_callee_with_allowed_devices_answers_while_its_camera_opens(
    server_url: str, open_page: OpenPage
) -> None:
    ana, _ = _watched_person(open_page, server_url, "Ana")
    bo, bo_id = _person(open_page, server_url, "Bo", _CAMERA_SLOW, **ALLOWED)
    call(ana, bo_id)
    wait_for_state(bo, "incoming")
    bo.click("#accept-video")
    _in_call_with_media((ana, bo))
    assert bo.evaluate("() => window.__order") == ["accept-sent", "camera-open"]
    assert ana.evaluate("() => window.__made.length") == 1


def test_mute_pressed_while_the_callees_camera_opens_holds(
    server_url: str, open_page: OpenPage
) -> None:
    ana, _ = _person(open_page, server_url, "Ana")
    bo, bo_id = _person(open_page, server_url, "Bo", _CAMERA_SLOW, **ALLOWED)
    call(ana, bo_id)
    wait_for_state(bo, "incoming")
    bo.click("#accept-video")
    bo.click(".control.mute")  # the camera takes 800 ms: nothing is in the call yet
    assert bo.evaluate("() => window.__order") == ["accept-sent"]
    wait_for_state(bo, "in-call")
    assert_media_flows(ana, ("video",))
    sent_audio = bo.evaluate(
        """() => window.parley.pc.getSenders()
             .filter((s) => s.track?.kind === 'audio').map((s) => s.track.enabled)"""
    )
    assert sent_audio == [False], "the microphone joined muted"
    assert bo.evaluate("() => window.parley.inCall.local.muted") is True


def test_a_callee_the_browser_will_ask_answers_only_once_its_camera_is_open(
    server_url: str, open_page: OpenPage
) -> None:
    ana, _ = _person(open_page, server_url, "Ana")
    bo, bo_id = _person(open_page, server_url, "Bo", _CAMERA_SLOW, _WILL_ASK)
    call(ana, bo_id)
    wait_for_state(bo, "incoming")
    bo.click("#accept-video")
    _in_call_with_media((ana, bo))
    assert bo.evaluate("() => window.__order") == ["camera-open", "accept-sent"]


def test_a_callee_whose_camera_fails_after_answering_ends_the_call_on_both_sides(
    server_url: str, open_page: OpenPage
) -> None:
    ana, _ = _watched_person(open_page, server_url, "Ana")
    bo, bo_id = _person(open_page, server_url, "Bo", _CAMERA_FAILS_LATE, **ALLOWED)
    call(ana, bo_id)
    wait_for_state(bo, "incoming")
    bo.click("#accept-video")
    assert ended_reason(bo) == "failed"
    assert (
        bo.locator("#ended-text").inner_text().startswith("This browser could not take the call.")
    )
    # The answer went out with the camera still opening: the caller is told the call ended.
    assert ended_reason(ana) == "hangup"
    assert ana.evaluate("() => window.__made.every((pc) => pc.signalingState === 'closed')")
    assert all_local_tracks_ended(ana)
    assert bo.evaluate("() => window.parley.pc") is None
    assert bo.evaluate("() => window.parley.timerCount") == 0


def test_a_callee_whose_camera_fails_before_answering_is_reported_as_unable_not_declining(
    server_url: str, open_page: OpenPage
) -> None:
    ana, _ = _watched_person(open_page, server_url, "Ana")
    bo, bo_id = _person(open_page, server_url, "Bo", _CAMERA_FAILS_LATE, _WILL_ASK)
    call(ana, bo_id)
    wait_for_state(bo, "incoming")
    bo.click("#accept-video")
    assert ended_reason(bo) == "failed"
    assert ended_reason(ana) == "cannot-answer"
    assert ana.locator("#ended-text").inner_text() == "Bo's browser could not take the call."
    assert ana.evaluate("() => window.__made.every((pc) => pc.signalingState === 'closed')")
    assert all_local_tracks_ended(ana)


# Notes the page's state each time it opens camera and microphone.
_COUNT_CAMERA_OPENS = """(() => {
  window.__opens = [];
  const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    window.__opens.push(document.body.dataset.state);
    return open(constraints);
  };
})()"""

_PREVIEW_PLAYING = """() => {
  const video = document.getElementById('incoming-preview');
  return !document.getElementById('incoming-preview-box').hidden && video.videoWidth > 0
    && video.srcObject?.getVideoTracks()[0]?.readyState === 'live';
}"""
_PREVIEW_HIDDEN = """() => {
  const video = document.getElementById('incoming-preview');
  return document.getElementById('incoming-preview-box').hidden && video.srcObject === null;
}"""


def test_a_video_call_ringing_shows_the_callee_itself_and_answering_sends_those_tracks(
    server_url: str, open_page: OpenPage
) -> None:
    ana, _ = _person(open_page, server_url, "Ana")
    bo, bo_id = _person(open_page, server_url, "Bo", _COUNT_CAMERA_OPENS, **ALLOWED)
    call(ana, bo_id)
    wait_for_state(bo, "incoming")
    bo.wait_for_function(_PREVIEW_PLAYING)
    previewed = bo.evaluate(
        "() => document.getElementById('incoming-preview').srcObject.getTracks().map((t) => t.id)"
    )
    bo.click("#accept-video")
    _in_call_with_media((ana, bo))
    sent = bo.evaluate(
        "() => window.parley.pc.getSenders().map((s) => s.track?.id).filter(Boolean)"
    )
    assert sorted(sent) == sorted(previewed) and len(sent) == 2
    assert bo.evaluate("() => window.__opens") == ["incoming"], "opened once, while ringing"
    assert bo.evaluate(_PREVIEW_HIDDEN)


@pytest.mark.parametrize("ending", ["caller cancels", "callee declines"])
def test_the_preview_stops_when_the_ringing_ends_unanswered(
    server_url: str, open_page: OpenPage, ending: str
) -> None:
    ana, _ = _person(open_page, server_url, "Ana")
    bo, bo_id = _person(open_page, server_url, "Bo", **ALLOWED)
    call(ana, bo_id)
    wait_for_state(bo, "incoming")
    bo.wait_for_function(_PREVIEW_PLAYING)
    if ending == "caller cancels":
        ana.click("#cancel-button")
        assert ended_reason(bo) == "cancelled"
    else:
        bo.click("#decline-button")
        assert ended_reason(bo) == "declined"
    assert bo.evaluate("() => window.parley.openedTracks.length") == 2
    assert all_local_tracks_ended(bo)
    assert bo.evaluate(_PREVIEW_HIDDEN)


@pytest.mark.parametrize("case", ["voice call", "the browser would ask"])
def test_no_camera_opens_while_a_voice_call_rings_or_when_the_browser_would_ask(
    server_url: str, open_page: OpenPage, case: str
) -> None:
    ana, _ = _person(open_page, server_url, "Ana")
    if case == "voice call":
        bo, bo_id = _person(open_page, server_url, "Bo", _COUNT_CAMERA_OPENS, **ALLOWED)
        call(ana, bo_id, "voice")
    else:
        bo, bo_id = _person(open_page, server_url, "Bo", _COUNT_CAMERA_OPENS, _WILL_ASK)
        call(ana, bo_id)
    wait_for_state(bo, "incoming")
    bo.wait_for_timeout(1500)  # a preview plays within ~0.2 s of the ringing here
    assert bo.evaluate("() => window.__opens") == []
    assert bo.evaluate(_PREVIEW_HIDDEN)
    bo.click("#decline-button")
    assert ended_reason(bo) == "declined"


@pytest.mark.parametrize("preview", [False, True], ids=["no preview", "answer made while ringing"])
def test_a_video_call_answered_with_voice_drops_the_offer_made_while_ringing(
    server_url: str, open_page: OpenPage, preview: bool
) -> None:
    ana, bo = _watched_call_ringing(open_page, server_url, *([] if preview else [_WILL_ASK]))
    ana.wait_for_function("() => window.parley.prepared?.signalingState === 'have-local-offer'")
    if preview:
        bo.wait_for_function("() => window.parley.prepared?.unsent[0] === 'answer'")
    bo.click("#accept-voice")
    _in_call_with_media((ana, bo), ("audio",))
    states = ana.evaluate("() => window.__made.map((pc) => pc.signalingState)")
    assert states == ["closed", "stable"], "the video offer was dropped, a voice one made"
    states = bo.evaluate("() => window.__made.map((pc) => pc.signalingState)")
    assert states == ["closed", "stable"], "and so was the callee's answer to it"
    assert bo.evaluate("() => window.__relayed.filter((t) => t === 'offer').length") == 1
    assert video_receiver_count(bo) == 0
    assert bo.evaluate("() => window.__acceptAnswer") is None, "the video answer was not sent"
    assert ana.evaluate("() => window.__acceptedAnswer") is None
    assert bo.evaluate("() => window.__sentRelays.filter((t) => t === 'answer').length") == 1


def test_declined_call_tells_the_caller_in_plain_words(
    server_url: str, open_page: OpenPage
) -> None:
    ana, _ = _person(open_page, server_url, "Ana")
    bo, bo_id = _person(open_page, server_url, "Bo")
    call(ana, bo_id, media="audio")
    wait_for_state(bo, "incoming")
    assert bo.locator("#incoming-label").inner_text() == "Incoming voice call"
    assert bo.locator("#accept-video").is_hidden(), "a voice call cannot be answered with video"
    bo.click("#decline-button")
    assert ended_reason(ana) == "declined"
    assert ana.locator("#ended-text").inner_text() == "Bo declined."
    _assert_released(ana)
    assert ended_reason(bo) == "declined"
    assert bo.locator("#ended-text").inner_text() == "You declined."
    assert bo.locator("#accept-voice").inner_text() == "Answer", "a voice call is just answered"
    # Recent calls say it from each side too.
    for page, words in ((ana, "Bo declined"), (bo, "You declined")):
        page.click("#ended-ok")
        page.click("#tab-history")
        entry = page.locator("#history-list li").first
        entry.wait_for()
        assert entry.locator(".outcome").inner_text() == words


def test_unanswered_call_times_out_on_both_sides_and_is_a_missed_call_for_the_callee(
    quick_ring_url: str, open_page: OpenPage
) -> None:
    ana, _ = _person(open_page, quick_ring_url, "Ana")
    bo, bo_id = _person(open_page, quick_ring_url, "Bo")
    call(ana, bo_id)
    wait_for_state(bo, "incoming")
    assert ended_reason(ana) == "no-answer"
    assert ana.locator("#ended-text").inner_text() == "No answer from Bo."
    assert ended_reason(bo) == "no-answer"
    assert bo.locator("#ended-text").inner_text() == "Missed call from Ana."
    _assert_released(ana)
    assert bo.evaluate("() => window.parley.timerCount") == 0, "the ringtone stopped"

    bo.click("#ended-ok")
    wait_for_state(bo, "idle")
    bo.wait_for_selector("#missed-badge:not([hidden])")
    assert bo.locator("#missed-badge").inner_text() == "1"
    bo.click("#tab-history")
    missed = bo.locator("#history-list li.missed")
    assert missed.count() == 1
    assert "Ana" in missed.inner_text()
    assert missed.locator(".outcome").inner_text() == "Missed call"
    assert bo.locator("#missed-badge").is_hidden(), "looking at the history clears the badge"


def test_calling_someone_already_in_a_call_says_busy(server_url: str, open_page: OpenPage) -> None:
    ana, _ = _person(open_page, server_url, "Ana")
    bo, bo_id = _person(open_page, server_url, "Bo")
    cy, _ = _person(open_page, server_url, "Cy")
    call(ana, bo_id)
    wait_for_state(bo, "incoming")
    bo.click("#accept-voice")
    wait_for_state(ana, "in-call")
    cy.wait_for_selector(f'#online-list li[data-user="{bo_id}"]')
    call(cy, bo_id)
    assert ended_reason(cy) == "busy"
    assert cy.locator("#ended-text").inner_text() == "Bo is on another call."
    assert bo.evaluate("() => document.body.dataset.state") == "in-call", "Bo's call goes on"
    assert_media_flows(bo, ("audio",))


def test_two_tabs_ring_and_answering_on_one_stops_the_other(
    server_url: str, open_page: OpenPage
) -> None:
    ana, _ = _person(open_page, server_url, "Ana")
    bo_tab1, bo_id = _person(open_page, server_url, "Bo")
    # Same browser profile, so the same stored identity: one user on two tabs.
    bo_tab2 = bo_tab1.context.new_page()
    bo_tab2.goto(server_url + "/")
    wait_for_state(bo_tab2, "idle")
    assert bo_tab2.evaluate("() => window.parley.user.id") == bo_id

    call(ana, bo_id)
    wait_for_state(bo_tab1, "incoming")
    wait_for_state(bo_tab2, "incoming")
    bo_tab2.click("#accept-video")
    wait_for_state(bo_tab1, "idle")
    assert bo_tab1.evaluate("() => window.parley.timerCount") == 0, "tab 1 stopped ringing"
    for page in (ana, bo_tab2):
        wait_for_state(page, "in-call")
        assert_media_flows(page, ("audio", "video"))
    bo_tab2.close()


def test_cancelled_call_is_explained_in_chinese_and_can_be_called_back_from_history(
    server_url: str, open_page: OpenPage
) -> None:
    ana, ana_id = _person(open_page, server_url, "Ana")
    bo = open_page("about:blank", locale="zh-CN")
    bo_id = sign_in(bo, server_url, "Bo")
    call(ana, bo_id)
    wait_for_state(bo, "incoming")
    assert bo.locator("#incoming-label").inner_text() == "视频来电"
    wait_for_state(ana, "outgoing")
    ana.wait_for_function("() => window.parley.timerCount === 1")  # ringback is playing
    ana.click("#cancel-button")
    assert ended_reason(ana) == "cancelled"
    assert ana.locator("#ended-text").inner_text() == "You cancelled the call."
    assert ended_reason(bo) == "cancelled"
    assert bo.locator("#ended-text").inner_text() == "Ana 在你接听前挂断了。"
    _assert_released(ana)

    bo.click("#ended-ok")
    bo.click("#tab-history")
    entry = bo.locator('#history-list li:has-text("Ana")')
    entry.wait_for()
    assert "未接" in entry.inner_text(), "a cancelled incoming call counts as missed"
    entry.locator(".call-back").click()
    wait_for_state(ana, "incoming")
    assert ana.locator("#incoming-name").inner_text() == "Bo"
    ana.click("#accept-video")
    _in_call_with_media((ana, bo))
    [latest, _cancelled] = history_rows(ana, server_url)
    assert (latest["direction"], latest["peer"]) == ("incoming", bo_id)
    assert ana_id != bo_id
