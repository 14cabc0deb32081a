"""The pages against rules Safari and iOS hold them to (docs/browsers.md, "Safari and iOS"),
shown in Chromium since no WebKit here can make a call:

- iOS pauses media elements when Safari goes to the background: when the page is shown again
  (`visibilitychange`, or `pageshow` from the back-forward cache) the call's pictures play
  again, where before they stayed black until the next track event;
- a browser without WebRTC (some in-app WebViews; Debian's WebKitGTK) is told so in plain
  words, in both languages, and the page neither goes online nor opens a camera.
"""

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from tests.e2e.helpers import wait_for_remote_video, wait_for_state
from tests.e2e.phone import in_call, sign_in

pytestmark = pytest.mark.e2e

OpenPage = Callable[..., Page]

# Whether each of the call's pictures (the other side's, our own) is paused.
_PAUSED = """() => ['.remote-video', '.local-video']
  .map((selector) => document.querySelector(`#screen-call ${selector}`).paused)"""
_PAUSE_BOTH = """() => { for (const video of document.querySelectorAll(
  '#screen-call .remote-video, #screen-call .local-video')) video.pause(); }"""
# Long enough for anything else that might play them (a track event, a timer) to have done so.
_CONTROL_MS = 1500

# What a browser without WebRTC looks like to a page, made before the page's scripts run.
_NO_WEBRTC = "delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection;"


@pytest.mark.parametrize(
    "shown_again",
    [
        "() => document.dispatchEvent(new Event('visibilitychange'))",
        "() => window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }))",
    ],
    ids=["visibilitychange", "pageshow"],
)
def test_a_call_paused_in_the_background_plays_again_when_the_page_is_shown(
    server_url: str, open_page: OpenPage, shown_again: str
) -> None:
    ana, bo = open_page("about:blank"), open_page("about:blank")
    sign_in(ana, server_url, "Ana")
    sign_in(bo, server_url, "Bo")
    in_call(ana, bo)
    wait_for_remote_video(ana)
    assert ana.evaluate(_PAUSED) == [False, False]

    ana.evaluate(_PAUSE_BOTH)  # as iOS does to a page in the background
    ana.wait_for_timeout(_CONTROL_MS)
    assert ana.evaluate(_PAUSED) == [True, True], "nothing but coming back plays them again"

    ana.evaluate(shown_again)
    ana.wait_for_function(f"() => ({_PAUSED})().every((paused) => !paused)", timeout=5_000)
    before = ana.evaluate("() => document.querySelector('#screen-call .remote-video').currentTime")
    ana.wait_for_function(
        "(t) => document.querySelector('#screen-call .remote-video').currentTime > t",
        arg=before,
        timeout=5_000,
    )
    assert ana.locator("#screen-call .unmute-audio").is_hidden(), "sound plays without a tap"


@pytest.mark.parametrize(
    ("locale", "title", "words"),
    [
        ("en-US", "This browser cannot make calls", "It has no WebRTC"),
        ("zh-CN", "此浏览器无法通话", "WebRTC"),
    ],
)
def test_the_phone_page_without_webrtc_says_this_browser_cannot_make_calls(
    server_url: str, open_page: OpenPage, locale: str, title: str, words: str
) -> None:
    page = open_page("about:blank", locale)
    page.add_init_script(_NO_WEBRTC)
    page.goto(server_url + "/")
    wait_for_state(page, "unsupported")
    notice = page.locator("#screen-unsupported [role=alert]")
    assert notice.locator("h1").inner_text() == title
    assert words in notice.locator("p").inner_text()
    assert page.locator("#screen-name").is_hidden(), "no name is asked for a call never made"
    page.wait_for_timeout(_CONTROL_MS)
    assert page.evaluate("() => window.parley.phone") is None, "it never went online to ring"


def test_the_phone_page_with_webrtc_asks_for_a_name_as_ever(
    server_url: str, open_page: OpenPage
) -> None:
    """The control: the same page in a browser that has WebRTC."""
    page = open_page(server_url + "/")
    wait_for_state(page, "name")
    assert page.locator("#screen-unsupported").is_hidden()


@pytest.mark.parametrize("autojoin", [True, False], ids=["autojoin", "pre-join"])
def test_the_room_page_without_webrtc_says_so_and_opens_no_camera(
    server_url: str, open_page: OpenPage, autojoin: bool
) -> None:
    page = open_page("about:blank")
    page.add_init_script(_NO_WEBRTC)
    page.goto(f"{server_url}/r/no-webrtc-here{'?autojoin=1' if autojoin else ''}")
    wait_for_state(page, "unsupported")
    assert page.locator("#notice-title").inner_text() == "This browser cannot make calls"
    assert "Chrome, Edge, Firefox or Safari" in page.locator("#notice-text").inner_text()
    assert page.locator("#again-button").is_hidden(), "trying again cannot help"
    page.wait_for_timeout(_CONTROL_MS)
    assert page.evaluate("() => window.parley.openedTracks.length") == 0


def test_the_room_page_with_webrtc_joins_as_ever(server_url: str, open_page: OpenPage) -> None:
    """The control: the same room link in a browser that has WebRTC."""
    page = open_page(f"{server_url}/r/webrtc-here?autojoin=1")
    wait_for_state(page, "waiting")
    assert page.evaluate("() => window.parley.openedTracks.length") > 0
