"""The example host app (examples/chat-app) end to end, in real Chromium: its own origin, its own
login and JWTs, calls through the SDK; Parley's phone page framed by it and driven with
postMessage (with third-party storage denied in the frame); and what a foreign origin cannot
do: drive that frame, frame the pages, load the SDK or open `/ws`."""

import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Frame, Page

from tests.e2e.host_pages import host_origin
from tests.e2e.recorded_pages import ARTIFACTS, RecordedPages
from tests.parley_server import running_server

pytestmark = pytest.mark.e2e

CHAT_APP = Path(__file__).resolve().parents[2] / "examples" / "chat-app" / "app.py"
CHAT_ADDRESS = "127.0.0.2"
FOREIGN_ADDRESS = "127.0.0.3"
SECRET = secrets.token_urlsafe(32)
PASSWORDS = {"ana": "ana-password", "bo": "bo-password"}

_INBOUND = """async (pc) => {
  const totals = {};
  if (pc) (await pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp') totals[s.kind] = (totals[s.kind] ?? 0) + (s.bytesReceived ?? 0);
  });
  return totals;
}"""


def _free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


@contextmanager
def chat_app(parley: str, port: int) -> Iterator[str]:
    command = [sys.executable, str(CHAT_APP), "--parley", parley, "--jwt-secret", SECRET]
    command += ["--host", CHAT_ADDRESS, "--port", str(port)]
    with open(ARTIFACTS / "e2e-chat-app.log", "w") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("Chat app on http://"), line
            yield line.split(" on ", 1)[1].strip()
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def servers(private_network: list[str]) -> Iterator[tuple[str, str]]:
    """(chat app, Parley): Parley takes only the chat app's JWTs, and pages from the chat app's
    origin and its own (its own is always allowed; listing it too does no harm)."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = _free_port(CHAT_ADDRESS)
    origin = f"http://{CHAT_ADDRESS}:{port}"
    own_port = _free_port("127.0.0.1")
    args = ["--auth", "jwt", "--jwt-secret", SECRET, "--port", str(own_port)]
    args += ["--allowed-origin", origin, "--allowed-origin", f"http://127.0.0.1:{own_port}"]
    with (
        running_server(*args, log_path=ARTIFACTS / "e2e-chat-parley.log") as parley,
        chat_app(parley, port) as chat,
    ):
        assert chat == origin
        yield chat, parley


OpenPerson = Callable[..., Page]


@pytest.fixture
def person(browser: Browser, request: pytest.FixtureRequest) -> Iterator[OpenPerson]:
    """A person signed in to the chat app in a browser of their own, on `path`."""
    pages = RecordedPages(browser, request.node.name, role="person")

    def open_(chat: str, user: str, path: str = "/") -> Page:
        page = pages.new_page()
        page.goto(chat + "/")
        page.fill("input[name=user]", user)
        page.fill("input[name=password]", PASSWORDS[user])
        page.click("form[action='/login'] button")
        page.wait_for_selector("#contacts, #parley")
        if path != "/":
            page.goto(chat + path)
        return page

    yield open_
    pages.close()


def assert_media_flows(where: Page | Frame, pc_expression: str, within: float = 15.0) -> None:
    """Inbound RTP bytes of audio and video grow on the connection `pc_expression` names."""
    deadline = time.monotonic() + within
    previous: dict[str, int] = {}
    while time.monotonic() < deadline:
        current = where.evaluate(f"async () => ({_INBOUND})({pc_expression})")
        if previous and all(current.get(k, 0) > previous.get(k, 0) for k in ("audio", "video")):
            return
        previous = current
        time.sleep(0.5)
    raise AssertionError(f"inbound RTP bytes did not grow: {previous}")


SDK_PC = "window.chat.phone.activeCall?.pc"


def ready(page: Page) -> None:
    page.wait_for_selector("#status:has-text('Ready for calls.')")


def test_two_people_sign_in_to_the_chat_app_and_call_each_other_through_the_sdk(
    servers: tuple[str, str], person: OpenPerson
) -> None:
    chat, _ = servers
    ana, bo = person(chat, "ana"), person(chat, "bo")
    for page in (ana, bo):
        ready(page)
    ana.wait_for_selector('#contacts li[data-user="bo"] .presence[data-online="true"]')
    ana.click('#contacts li[data-user="bo"] .video')
    bo.wait_for_selector("#incoming:not([hidden])")
    assert bo.locator("#incoming-text").inner_text() == "Ana is calling you."
    bo.click("#accept")
    for page in (ana, bo):
        page.wait_for_selector("#call:not([hidden])")
        page.wait_for_selector("#status:has-text('In a call with')")
        assert_media_flows(page, SDK_PC)
        page.wait_for_function("() => document.getElementById('remote').videoWidth > 0")
    ana.click("#hangup")
    bo.wait_for_selector("#status:has-text('Call with Ana ended: hung up.')")
    ana.wait_for_selector("#status:has-text('Call with Bo ended: hung up.')")
    assert ana.locator("#call").is_hidden()


def parley_frame(page: Page, parley: str) -> Frame:
    for _ in range(200):
        frame = next((f for f in page.frames if f.url.startswith(parley)), None)
        if frame is not None:
            return frame
        page.wait_for_timeout(100)
    raise AssertionError("Parley's frame never loaded")


def host_events(page: Page) -> list[dict[str, str]]:
    return list(
        page.evaluate(
            "() => [...document.querySelectorAll('#events li')].map((li) => ({...li.dataset}))"
        )
    )


def wait_for_event(page: Page, event: str, count: int = 1) -> dict[str, str]:
    page.wait_for_function(
        '([event, count]) => document.querySelectorAll(`#events li[data-event="${event}"]`)'
        ".length >= count",
        arg=[event, count],
        timeout=20_000,
    )
    return [e for e in host_events(page) if e["event"] == event][count - 1]


def test_the_chat_app_frames_parleys_phone_page_drives_it_and_hears_its_events(
    servers: tuple[str, str], person: OpenPerson
) -> None:
    chat, parley = servers
    ana = person(chat, "ana", "/embed")
    bo = person(chat, "bo")
    frame = parley_frame(ana, parley)
    # The frame is cross-site (127.0.0.1 in 127.0.0.2): the browser denies it storage...
    denied = frame.evaluate(
        "() => { try { localStorage.length; return false } catch { return true } }"
    )
    assert denied, "the frame was given storage: this test would prove nothing"
    # ...and it starts all the same, signed in as the host's user from memory.
    frame.wait_for_selector('body[data-state="idle"]', state="attached")
    assert frame.evaluate("() => window.parley.user.id") == "ana"
    assert wait_for_event(ana, "signed-in")["event"] == "signed-in"
    ready(bo)

    # Bo calls Ana: the frame rings, and the host hears it; Ana answers in the frame.
    bo.wait_for_selector('#contacts li[data-user="ana"] .presence[data-online="true"]')
    bo.click('#contacts li[data-user="ana"] .video')
    wait_for_event(ana, "incoming")
    frame.click("#accept-video")
    wait_for_event(ana, "accepted")
    assert_media_flows(frame, "window.parley.pc")
    assert_media_flows(bo, SDK_PC)

    # The host mutes and hangs up through the frame.
    ana.click("#mute")
    frame.wait_for_function("() => window.parley.inCall?.local.muted === true")
    bo.wait_for_function("() => window.chat.phone.mediaStatus?.remote.muted === true")
    ana.click("#hangup")
    ended = wait_for_event(ana, "ended")
    assert ended["reason"] == "hangup" and int(ended["duration"]) >= 0
    bo.wait_for_selector("#status:has-text('Call with Ana ended: hung up.')")

    # The host places a call; Bo declines.
    frame.click("#ended-ok")
    ana.click("#call-first")
    wait_for_event(ana, "ringing")
    bo.wait_for_selector("#incoming:not([hidden])")
    bo.click("#decline")
    ended = wait_for_event(ana, "ended", count=2)
    assert ended["reason"] == "declined" and "duration" not in ended

    # A fresh token through postMessage: the frame signs in with it (in memory).
    ana.evaluate(
        """async (parley) => {
             const { token } = await (await fetch('/token')).json();
             document.getElementById('parley').contentWindow
               .postMessage({ type: 'parley', command: 'token', token }, parley);
           }""",
        parley,
    )
    wait_for_event(ana, "signed-in", count=2)
    assert frame.evaluate("() => window.parley.user.id") == "ana"


# A foreign page with a handle on the host app's page: it tries to drive Parley's frame.
_FOREIGN_COMMANDS = """(target) => {
  const frame = window.opened.frames[0];
  for (const command of [
    { type: 'parley', command: 'call', user: target, media: 'video' },
    { type: 'parley', command: 'token', token: 'x.y.z' },
  ]) frame.postMessage(command, '*');
}"""


def test_a_foreign_origin_cannot_drive_the_frame_frame_the_pages_load_the_sdk_or_open_ws(
    servers: tuple[str, str], person: OpenPerson
) -> None:
    chat, parley = servers
    ana = person(chat, "ana")  # signed in to the chat app: the foreign page can open it
    bo = person(chat, "bo")
    ready(bo)
    body = f'<!doctype html><title>Foreign</title><iframe id="f" src="{parley}/"></iframe>'
    with host_origin(FOREIGN_ADDRESS, body) as foreign:
        attacker = ana.context.new_page()
        attacker.goto(foreign.origin + "/")
        with attacker.expect_popup() as popup:
            attacker.evaluate("(url) => { window.opened = window.open(url); }", chat + "/embed")
        host = popup.value
        frame = parley_frame(host, parley)
        frame.wait_for_selector('body[data-state="idle"]', state="attached")
        wait_for_event(host, "signed-in")

        attacker.evaluate(_FOREIGN_COMMANDS, "bo")
        bo.wait_for_timeout(3000)
        assert bo.locator("#incoming").is_hidden(), "a foreign page placed a call"
        assert frame.evaluate("() => window.parley.user.id") == "ana", "a foreign token was taken"
        told = {e["event"] for e in host_events(host)}
        assert told <= {"ready", "signed-in"}, told

        # Positive control: the same command from the host app itself rings Bo.
        host.click("#call-first")
        bo.wait_for_selector("#incoming:not([hidden])")
        bo.click("#decline")
        wait_for_event(host, "ended")

        # Nor can the foreign origin frame the pages, load the SDK, or open /ws.
        framed = next(f for f in attacker.frames if f != attacker.main_frame)
        assert not framed.url.startswith(parley), framed.url
        outcome = attacker.evaluate(
            """async (parley) => {
                 let sdk = 'loaded';
                 try { await import(parley + '/sdk/v1/parley.js'); } catch { sdk = 'refused'; }
                 const ws = await new Promise((resolve) => {
                   const socket = new WebSocket(parley.replace('http', 'ws') + '/ws');
                   socket.onopen = () => resolve('open');
                   socket.onerror = () => resolve('refused');
                 });
                 return { sdk, ws };
               }""",
            parley,
        )
        assert outcome == {"sdk": "refused", "ws": "refused"}
        # Positive control: the chat app's own origin loads the SDK and opens /ws.
        allowed = bo.evaluate(
            """async (parley) => {
                 const sdk = await import(parley + '/sdk/v1/parley.js');
                 const ws = await new Promise((resolve) => {
                   const socket = new WebSocket(parley.replace('http', 'ws') + '/ws');
                   socket.onopen = () => { socket.close(); resolve('open'); };
                   socket.onerror = () => resolve('refused');
                 });
                 return { sdk: sdk.VERSION, ws };
               }""",
            parley,
        )
        assert allowed == {"sdk": 1, "ws": "open"}
