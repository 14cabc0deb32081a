"""The call screen as people meet it, on a phone (390×844) and a desktop (1280×800): the other
person's video edge to edge, their name always there, controls big enough to touch, their
avatar the moment their camera goes off, and a keyboard that reaches everything and never acts
on a bare key."""

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.helpers import grows, wait_for_state
from tests.e2e.phone import call, in_call, sign_in
from tests.e2e.recorded_pages import RecordedPages

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
People = Callable[..., Page]

# Every control a finger can reach now: its size, and what it is. A radio button or checkbox
# is reached through its label as well (a tap on the words sets it): the label is the target.
_CONTROL_BOXES = """() => [...document.querySelectorAll(
    'button, a.button, select, summary, input, [role=tab]')]
  .filter((e) => e.getClientRects().length && !e.closest('[hidden], .sr-only')
    && getComputedStyle(e).visibility !== 'hidden')
  .map((e) => { const r = (e.closest('label') ?? e).getBoundingClientRect();
    return { what: e.id || e.className || e.tagName, width: r.width, height: r.height }; })"""

_HORIZONTAL_SCROLL = (
    "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
)

# The share of the viewport the remote video element covers.
_VIDEO_COVER = """() => { const r = document.getElementById('remote-video').getBoundingClientRect();
  const w = Math.max(0, Math.min(r.right, innerWidth) - Math.max(r.left, 0));
  const h = Math.max(0, Math.min(r.bottom, innerHeight) - Math.max(r.top, 0));
  return (w * h) / (innerWidth * innerHeight); }"""

_PICTURE_SHOWN = """() => getComputedStyle(
    document.getElementById('remote-video')).visibility === 'visible'
  && !document.querySelector('.peer-tile').checkVisibility()"""
_AVATAR_SHOWN = """() => getComputedStyle(
    document.getElementById('remote-video')).visibility === 'hidden'
  && document.querySelector('.peer-tile .avatar').checkVisibility()"""

_REMOTE_LEVEL = "() => window.parley.phone.remoteAudioLevel()"

_PULSE = "() => getComputedStyle(document.getElementById('incoming-avatar')).animationName"
_FAVICON = "() => document.getElementById('favicon').href"

# What has focus: the control's class (or id) names.
_FOCUSED = """() => { const e = document.activeElement;
  return e && e !== document.body ? (e.id || e.className) : null; }"""


@pytest.fixture
def people(browser: Browser, request: pytest.FixtureRequest) -> Iterator[People]:
    """People signed in on the phone page, each in a browser context of its own."""
    pages = RecordedPages(browser, request.node.name)

    def person(base: str, name: str, viewport: dict[str, int], locale: str = "en-US") -> Page:
        mobile = viewport["width"] < 600
        page = pages.new_page(locale, viewport=viewport, is_mobile=mobile, has_touch=mobile)
        sign_in(page, base, name)
        return page

    yield person
    pages.close()


def visible_name(page: Page, selector: str) -> str:
    locator = page.locator(selector)
    assert locator.is_visible(), f"{selector} is not on screen"
    return locator.inner_text()


def assert_fits_a_finger(page: Page, state: str) -> None:
    small = [box for box in page.evaluate(_CONTROL_BOXES) if min(box["width"], box["height"]) < 44]
    assert small == [], f"{state}: controls under 44×44 px: {small}"
    assert page.evaluate(_HORIZONTAL_SCROLL) <= 0, f"{state}: the page scrolls sideways"


def test_phone_and_desktop_layouts_keep_the_video_big_the_name_on_screen_and_targets_touchable(
    server_url: str, people: People
) -> None:
    ana = people(server_url, "Ana", PHONE)
    bo = people(server_url, "Bo", DESKTOP, "zh-CN")
    assert_fits_a_finger(ana, "online list")
    quiet_icon = bo.evaluate(_FAVICON)
    call(ana, str(bo.evaluate("() => window.parley.user.id")))
    wait_for_state(bo, "incoming")
    assert visible_name(ana, "#outgoing-name") == "Bo"
    assert visible_name(bo, "#incoming-name") == "Ana"
    assert bo.title() == "Ana 来电 — Parley", "the tab says who is calling"
    assert bo.evaluate(_FAVICON) != quiet_icon, "and its icon rings"
    assert ana.title() == "Calling Bo… — Parley"
    assert bo.evaluate(_PULSE) == "pulse", "the caller's avatar pulses while it rings"
    bo.emulate_media(reduced_motion="reduce")
    assert bo.evaluate(_PULSE) == "none", "unless the person asked for less motion"
    assert_fits_a_finger(ana, "outgoing")
    bo.click("#accept-video")
    for page in (ana, bo):
        wait_for_state(page, "in-call")
        page.wait_for_function(_PICTURE_SHOWN)
    assert bo.title() == "正在与 Ana 通话 — Parley" and bo.evaluate(_FAVICON) == quiet_icon
    assert ana.evaluate(_VIDEO_COVER) >= 0.85, "the video fills the phone"
    assert bo.evaluate(_VIDEO_COVER) >= 0.85, "the video fills the desktop's stage"
    assert ana.locator(".topbar").is_hidden() and bo.locator(".topbar").is_hidden()
    assert visible_name(ana, ".peer-name") == "Bo" and visible_name(bo, ".peer-name") == "Ana"
    assert_fits_a_finger(ana, "in call")
    # The self-view is a small tile: dragged, it settles in the nearest corner.
    tile = ana.locator(".local-video")
    box = tile.bounding_box()
    assert box and box["width"] * box["height"] < 0.05 * PHONE["width"] * PHONE["height"]
    ana.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    ana.mouse.down()
    ana.mouse.move(60, 200, steps=5)
    ana.mouse.up()
    assert "corner-tl" in (tile.get_attribute("class") or "")
    ana.click(".control.more")
    assert_fits_a_finger(ana, "more sheet")
    ana.keyboard.press("Escape")
    assert ana.locator(".more-sheet").is_hidden()
    assert bo.evaluate(_HORIZONTAL_SCROLL) <= 0
    ana.mouse.click(195, 300)  # a tap on the picture (keyboard focus on a control keeps them)
    ana.wait_for_timeout(4500)  # then nobody touches the phone: the controls step aside
    assert ana.evaluate("() => document.querySelector('.call-screen.controls-hidden') !== null")
    assert visible_name(ana, ".peer-name") == "Bo", "the name stays while the controls fade"
    assert ana.locator(".call-timer").is_visible()
    ana.click("#hangup-button")  # the mouse's move brings them back, and the click lands
    wait_for_state(bo, "ended")
    assert "Ana" in visible_name(bo, "#ended-text")
    assert bo.title() == "Parley"
    assert_fits_a_finger(ana, "ended")


def test_two_people_of_the_same_name_each_carry_a_stable_tag_from_their_id(
    server_url: str, people: People
) -> None:
    first = people(server_url, "Ana", DESKTOP)
    second = people(server_url, "ana ", DESKTOP)
    bo = people(server_url, "Bo", PHONE)
    ids = [str(p.evaluate("() => window.parley.user.id")) for p in (first, second)]
    bo.wait_for_function("() => document.querySelectorAll('#online-list li').length === 2")
    tags = [bo.locator(f'#online-list li[data-user="{i}"] .tag').inner_text() for i in ids]
    assert all(re.fullmatch(r"#[0-9a-z]{4}", tag) for tag in tags) and tags[0] != tags[1]
    assert first.locator(f'#online-list li[data-user="{ids[1]}"] .tag').inner_text() == tags[1]
    assert bo.locator(f'#online-list li[data-user="{ids[0]}"] .who').inner_text() == (
        f"Ana {tags[0]}"
    )
    avatar = f'#online-list li[data-user="{ids[1]}"] .avatar'
    listed = bo.locator(avatar).evaluate("(e) => [e.className, e.textContent]")
    call(second, str(bo.evaluate("() => window.parley.user.id")))
    wait_for_state(bo, "incoming")
    assert visible_name(bo, "#incoming-name") == f"ana {tags[1]}", "the card tells which Ana"
    card = bo.locator("#incoming-avatar").evaluate("(e) => [e.className, e.textContent]")
    assert card[1] == listed[1] == "A"
    assert card[0].replace(" large", "") == listed[0].replace(" medium", ""), "the same colour"
    bo.click("#decline-button")
    wait_for_state(second, "ended")
    first.goto("about:blank")  # one Ana left: her name needs no tag any more
    bo.wait_for_function("() => document.querySelectorAll('#online-list li').length === 1")
    assert bo.locator("#online-list .tag").count() == 0


def test_a_camera_turned_off_shows_the_avatar_within_a_second_and_the_video_comes_back(
    server_url: str, people: People
) -> None:
    ana = people(server_url, "Ana", PHONE)
    bo = people(server_url, "Bo", DESKTOP)
    in_call(ana, bo)
    ana.wait_for_function(_PICTURE_SHOWN)
    bo.click(".control.camera")
    ana.wait_for_function(_AVATAR_SHOWN, timeout=1000)
    assert ana.locator(".peer-tile .avatar").inner_text() == "B"
    assert ana.locator(".remote-camera-off").is_visible()
    assert visible_name(ana, ".peer-name") == "Bo"
    bo.click(".control.camera")
    ana.wait_for_function(_PICTURE_SHOWN, timeout=10_000)
    assert grows(ana, "video", "frames") > 0


def test_voice_call_shows_avatar_name_timer_and_who_is_speaking(
    server_url: str, people: People
) -> None:
    ana = people(server_url, "Ana", PHONE)
    bo = people(server_url, "Bo", DESKTOP)
    in_call(ana, bo, media="audio")
    ana.wait_for_function(_AVATAR_SHOWN)
    assert visible_name(ana, ".peer-name") == "Bo"
    assert ana.locator(".call-timer").is_visible()
    # Chromium's fake microphone sounds all the time: Bo is heard until he mutes (silence).
    ana.wait_for_selector(".stage.speaking", state="attached", timeout=5000)
    assert ana.evaluate(_REMOTE_LEVEL) > 0.02
    bo.click(".control.mute")
    ana.wait_for_selector(".stage:not(.speaking)", state="attached", timeout=3000)
    assert ana.evaluate(_REMOTE_LEVEL) < 0.01
    bo.click(".control.mute")
    ana.wait_for_selector(".stage.speaking", state="attached", timeout=3000)


def test_keyboard_reaches_every_control_in_order_and_never_acts_on_a_bare_key(
    server_url: str, people: People
) -> None:
    ana = people(server_url, "Ana", DESKTOP)
    bo = people(server_url, "Bo", DESKTOP)
    bo_id = str(bo.evaluate("() => window.parley.user.id"))
    ana.focus(f'#online-list li[data-user="{bo_id}"] .call-video')
    ana.keyboard.press("Enter")
    wait_for_state(bo, "incoming")
    assert bo.evaluate(_FOCUSED) == "accept-video", "the ringing dialog takes focus"
    for _ in range(4):  # Tab stays in the dialog
        bo.keyboard.press("Tab")
        assert bo.evaluate(
            "() => document.getElementById('screen-incoming').contains(document.activeElement)"
        )
    bo.focus("#accept-video")
    bo.keyboard.press("Enter")
    for page in (ana, bo):
        wait_for_state(page, "in-call")
    order = []
    for _ in range(12):
        ana.keyboard.press("Tab")
        focused = ana.evaluate(_FOCUSED) or ""
        name = next(
            (c for c in ("mute", "camera", "share", "more", "hangup") if c in focused), None
        )
        if name and name not in order:
            order.append(name)
    assert order == ["mute", "camera", "share", "more", "hangup"]
    ana.focus(".control.more")
    ana.keyboard.press("Enter")  # the sheet takes focus, lists the shortcuts, and gives it back
    assert ana.evaluate(
        "() => document.querySelector('.more-sheet').contains(document.activeElement)"
    )
    assert "Ctrl + D" in ana.locator(".more-sheet .shortcuts").inner_text()
    ana.keyboard.press("Escape")
    assert ana.locator(".more-sheet").is_hidden()
    assert "more" in (ana.evaluate(_FOCUSED) or "")

    ana.focus(".control.more")
    for key in ("h", "m", "d", "e"):
        ana.keyboard.press(key)
    ana.wait_for_timeout(1000)
    assert ana.evaluate("() => document.body.dataset.state") == "in-call", (
        "a bare h hangs nothing up"
    )
    assert ana.locator(".control.mute").get_attribute("aria-pressed") == "false"
    assert ana.locator(".control.camera").get_attribute("aria-pressed") == "false"
    ana.keyboard.press("Control+d")
    bo.wait_for_selector(".remote-muted:not([hidden])")
    assert ana.locator(".control.mute").get_attribute("aria-pressed") == "true"
    ana.keyboard.press("Control+d")
    bo.wait_for_selector(".remote-muted", state="hidden")
    ana.keyboard.press("Control+e")
    bo.wait_for_selector(".remote-camera-off:not([hidden])")

    ana.focus("#hangup-button")
    ana.keyboard.press("Enter")
    wait_for_state(ana, "ended")
    assert ana.evaluate(_FOCUSED) == "ended-ok"
    ana.keyboard.press("Enter")
    wait_for_state(ana, "idle")
    assert "call-video" in (ana.evaluate(_FOCUSED) or ""), "focus is back where the call began"
