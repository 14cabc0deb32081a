"""The browser SDK (`/sdk/v1/parley.js`) as a host app uses it: Phones on a page of another
origin than Parley's (an `--allowed-origin`), with no Parley UI, calling each other in real
Chromium: ringing, answering, media both ways, every ending, glare, a dropped socket and a
server restart (after which the new session numbers its messages from 1 again)."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.host_pages import host_origin
from tests.e2e.recorded_pages import ARTIFACTS, RecordedPages
from tests.parley_server import running_server

pytestmark = pytest.mark.e2e

RING_TIMEOUT = 4
HOST_ADDRESS = "127.0.0.2"  # another site than Parley's 127.0.0.1

# Loads the SDK from Parley into the host page and keeps a log of every Phone's events.
_HARNESS = """async (parley) => {
  const sdk = await import(parley + '/sdk/v1/parley.js');
  const types = ['ready', 'connection', 'calling', 'ringing', 'incoming', 'accepted', 'connected',
    'reconnecting', 'resumed', 'ended'];
  window.sdk = sdk;
  window.phones = {};
  window.log = [];
  window.signIn = async (label, options = {}) => {
    const phone = new sdk.Phone({ name: label, ...options });
    for (const type of types) phone.addEventListener(type, ({ detail }) => window.log.push({
      phone: label, type, call: detail.call?.id ?? null, reason: detail.reason ?? null,
      by: detail.by ?? null, state: detail.state ?? null, duration: detail.duration ?? null }));
    window.phones[label] = phone;
    return (await phone.connect()).id;
  };
  window.inbound = async (label) => {
    const pc = window.phones[label].activeCall?.pc;
    const totals = {};
    if (pc) (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp') totals[s.kind] = (totals[s.kind] ?? 0) + (s.bytesReceived ?? 0);
    });
    return totals;
  };
  return sdk.VERSION;
}"""

OpenHost = Callable[..., Page]


@pytest.fixture(scope="module")
def host(private_network: list[str]) -> Iterator[str]:
    with host_origin(HOST_ADDRESS) as page:
        yield page.origin


@pytest.fixture(scope="module")
def parley(host: str) -> Iterator[str]:
    ARTIFACTS.mkdir(exist_ok=True)
    args = ("--allowed-origin", host, "--ring-timeout", str(RING_TIMEOUT))
    with running_server(*args, log_path=ARTIFACTS / "e2e-sdk-server.log") as url:
        yield url


@pytest.fixture
def open_host(browser: Browser, host: str, request: pytest.FixtureRequest) -> Iterator[OpenHost]:
    """The host app's page with the SDK loaded from `parley`, in a context of its own."""
    pages = RecordedPages(browser, request.node.name, role="host")

    def open_(parley: str) -> Page:
        page = pages.new_page()
        page.goto(host + "/")
        assert page.evaluate(_HARNESS, parley) == 1
        return page

    yield open_
    pages.close()


def sign_in(page: Page, *labels: str) -> list[str]:
    return [str(page.evaluate("(label) => window.signIn(label)", label)) for label in labels]


def wait_for(page: Page, phone: str, event: str, timeout_ms: int = 20_000) -> dict[str, object]:
    """The phone's first `event` (waiting for it)."""
    found = """([phone, type]) => window.log.find((e) => e.phone === phone && e.type === type)"""
    page.wait_for_function(found, arg=[phone, event], timeout=timeout_ms)
    return dict(page.evaluate(found, [phone, event]))


def events(page: Page, phone: str, *types: str) -> list[str]:
    log = page.evaluate("(phone) => window.log.filter((e) => e.phone === phone)", phone)
    return [entry["type"] for entry in log if not types or entry["type"] in types]


CALL_EVENTS = ("calling", "ringing", "incoming", "accepted", "connected", "ended")


def assert_media_both_ways(page: Page, *phones: str, within: float = 15.0) -> None:
    """Inbound RTP bytes of audio and video grow at each phone."""
    for phone in phones:
        page.wait_for_function(
            """async ([phone, kinds]) => {
                 const before = await window.inbound(phone);
                 await new Promise((r) => setTimeout(r, 500));
                 const after = await window.inbound(phone);
                 return kinds.every((kind) => (after[kind] ?? 0) > (before[kind] ?? 0));
               }""",
            arg=[phone, ["audio", "video"]],
            timeout=within * 1000,
            polling=100,
        )


def in_call(page: Page, caller: str, callee: str, callee_id: str) -> str:
    """`caller` calls `callee`, who answers; returns the call id once media flows both ways."""
    page.evaluate("([phone, user]) => { window.phones[phone].call(user); }", [caller, callee_id])
    wait_for(page, callee, "incoming")
    page.evaluate("(phone) => window.phones[phone].accept()", callee)
    for phone in (caller, callee):
        wait_for(page, phone, "connected")
    assert_media_both_ways(page, caller, callee)
    return str(wait_for(page, caller, "accepted")["call"])


def released(page: Page, phone: str) -> bool:
    return bool(
        page.evaluate(
            """(phone) => { const p = window.phones[phone]; const d = p.diagnostics;
                 return p.activeCall === null && d.timers === 0 && d.openedTracks.length > 0
                   && d.openedTracks.every((t) => t.readyState === 'ended'); }""",
            phone,
        )
    )


def test_two_phones_on_another_origin_ring_answer_carry_media_both_ways_and_hang_up(
    parley: str, open_host: OpenHost
) -> None:
    page = open_host(parley)
    ana_id, bo_id = sign_in(page, "ana", "bo")
    # (Presence is told in half-second windows.)
    page.wait_for_function("(bo) => window.phones.ana.online.some((u) => u.id === bo)", arg=bo_id)
    call_id = in_call(page, "ana", "bo", bo_id)
    streams = page.evaluate(
        """() => { const c = window.phones.bo.activeCall;
             return [c.localStream.getTracks().length, c.remoteStream.getTracks().length,
                     c.direction, c.peer.name, c.state]; }"""
    )
    assert streams == [2, 2, "incoming", "ana", "connected"]

    page.evaluate("() => window.phones.ana.hangup()")
    for phone in ("ana", "bo"):
        ended = wait_for(page, phone, "ended")
        assert (ended["reason"], ended["by"], ended["call"]) == ("hangup", ana_id, call_id)
        assert isinstance(ended["duration"], int) and ended["duration"] >= 0
        assert released(page, phone)
    assert events(page, "ana", *CALL_EVENTS) == [
        "calling",
        "ringing",
        "accepted",
        "connected",
        "ended",
    ]
    assert events(page, "bo", *CALL_EVENTS) == ["incoming", "accepted", "connected", "ended"]


@pytest.mark.parametrize("ending", ["declined", "cancelled", "no-answer"])
def test_each_way_a_call_ends_unanswered_is_told_to_both_with_who_ended_it(
    parley: str, open_host: OpenHost, ending: str
) -> None:
    page = open_host(parley)
    ana_id, bo_id = sign_in(page, "ana", "bo")
    page.evaluate("(user) => { window.phones.ana.call(user, { media: 'audio' }); }", bo_id)
    wait_for(page, "ana", "ringing")
    wait_for(page, "bo", "incoming")
    if ending == "declined":
        page.evaluate("() => window.phones.bo.reject()")
    elif ending == "cancelled":
        page.evaluate("() => window.phones.ana.cancel()")
    by = {"declined": bo_id, "cancelled": ana_id, "no-answer": None}[ending]
    for phone in ("ana", "bo"):
        ended = wait_for(page, phone, "ended", timeout_ms=(RING_TIMEOUT + 10) * 1000)
        assert (ended["reason"], ended["by"], ended["duration"]) == (ending, by, None)
    assert released(page, "ana")
    assert events(page, "ana", *CALL_EVENTS) == ["calling", "ringing", "ended"]
    assert events(page, "bo", *CALL_EVENTS) == ["incoming", "ended"]


def test_calling_someone_in_a_call_ends_busy_and_their_call_goes_on(
    parley: str, open_host: OpenHost
) -> None:
    page = open_host(parley)
    _, bo_id, _ = sign_in(page, "ana", "bo", "cy")
    in_call(page, "ana", "bo", bo_id)
    page.evaluate("(user) => { window.phones.cy.call(user); }", bo_id)
    ended = wait_for(page, "cy", "ended")
    assert (ended["reason"], ended["by"]) == ("busy", None)
    assert events(page, "cy", *CALL_EVENTS) == ["calling", "ended"]
    assert events(page, "bo", *CALL_EVENTS) == ["incoming", "accepted", "connected"]
    assert_media_both_ways(page, "ana", "bo")


def test_two_phones_calling_each_other_at_once_end_up_in_one_call(
    parley: str, open_host: OpenHost
) -> None:
    page = open_host(parley)
    ana_id, bo_id = sign_in(page, "ana", "bo")
    page.evaluate(
        """([ana, bo]) => { window.phones.ana.call(bo); window.phones.bo.call(ana); }""",
        [ana_id, bo_id],
    )
    for phone in ("ana", "bo"):
        wait_for(page, phone, "connected")
    assert_media_both_ways(page, "ana", "bo")
    ids = page.evaluate("() => [window.phones.ana.activeCall.id, window.phones.bo.activeCall.id]")
    assert ids[0] == ids[1] and ids[0] is not None, "one call, the same on both sides"
    for phone in ("ana", "bo"):
        assert "incoming" not in events(page, phone), "the crossing invite never rang"
        assert events(page, phone, "ended") == []


def test_a_dropped_socket_resumes_the_session_mid_call(parley: str, open_host: OpenHost) -> None:
    page = open_host(parley)
    ana_id, bo_id = sign_in(page, "ana", "bo")
    in_call(page, "ana", "bo", bo_id)
    session = page.evaluate("() => window.phones.ana.diagnostics.sessionId")
    page.evaluate("() => window.phones.ana.diagnostics.dropConnection()")
    page.wait_for_function("() => !window.phones.ana.diagnostics.connected", timeout=5_000)
    assert_media_both_ways(page, "ana", "bo")  # media does not go through the server
    page.wait_for_function("() => window.phones.ana.diagnostics.connected", timeout=20_000)
    assert page.evaluate("() => window.phones.ana.diagnostics.sessionId") == session
    links = [
        e["state"]
        for e in page.evaluate("() => window.log.filter((e) => e.phone === 'ana')")
        if e["type"] == "connection"
    ]
    assert links[-2:] == ["reconnecting", "connected"]
    assert page.evaluate("() => window.phones.ana.activeCall.state") == "connected"
    assert_media_both_ways(page, "ana", "bo")
    page.evaluate("() => window.phones.bo.hangup()")
    for phone in ("ana", "bo"):
        ended = wait_for(page, phone, "ended")
        assert (ended["reason"], ended["by"]) == ("hangup", bo_id)
    assert ana_id != bo_id


def test_after_a_server_restart_the_new_session_counts_seq_from_one_and_the_call_resumes(
    host: str, open_host: OpenHost, tmp_path: Path
) -> None:
    """A new session (`welcome` without `resumed`) numbers its messages from 1 again: a client
    that kept its old highest `seq` would drop the new session's `call-resumed` as seen, and
    the call would not be taken back."""
    log = ARTIFACTS / "e2e-sdk-restart-server.log"
    with running_server("--allowed-origin", host, log_path=log, data_dir=tmp_path) as url:
        port = url.rsplit(":", 1)[1]
        page = open_host(url)
        ana_id, bo_id = sign_in(page, "ana", "bo")
        call_id = in_call(page, "ana", "bo", bo_id)
        before = page.evaluate(
            "() => [window.phones.ana.diagnostics.lastSeq, window.phones.bo.diagnostics.lastSeq]"
        )
    for phone in ("ana", "bo"):
        page.wait_for_function(f"() => !window.phones.{phone}.diagnostics.connected", timeout=5_000)
    with running_server(
        "--port",
        port,
        "--allowed-origin",
        host,
        log_path=log.with_suffix(".2.log"),
        data_dir=tmp_path,
    ):
        for phone in ("ana", "bo"):
            wait_for(page, phone, "resumed", timeout_ms=30_000)
        after = page.evaluate(
            "() => [window.phones.ana.diagnostics.lastSeq, window.phones.bo.diagnostics.lastSeq]"
        )
        # Each took its `call-resumed` numbered below the highest `seq` of its old session.
        assert all(0 < a < b for a, b in zip(after, before, strict=True)), (before, after)
        for me, other in (("ana", "bo"), ("bo", "ana")):
            peer = page.evaluate(f"() => window.phones.{me}.diagnostics.peerSession")
            assert peer == page.evaluate(f"() => window.phones.{other}.diagnostics.sessionId")
        assert page.evaluate("() => window.phones.ana.activeCall.id") == call_id
        assert_media_both_ways(page, "ana", "bo")
        page.evaluate("() => window.phones.ana.hangup()")
        ended = wait_for(page, "bo", "ended")
        assert (ended["reason"], ended["by"]) == ("hangup", ana_id)
