"""The README's pictures, taken from real calls: a phone (390×844, English) and a desktop
(1280×800, Chinese) ringing, in a video call, in a voice call, and their recent calls.

`make screenshots` writes them to docs/screenshots/ (PARLEY_SCREENSHOTS names the folder); in
`make test` they go to test-artifacts/screenshots/, so the walk that makes them stays working.
Each picture is checked for what it must show, and for size: a README loads them all."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.helpers import wait_for_state
from tests.e2e.phone import call, sign_in
from tests.e2e.recorded_pages import ARTIFACTS

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
MAX_BYTES = 100_000
# Every control stays while the picture is taken (they fade after 4 s without a touch).
_WAKE = "() => document.querySelector('.call-screen')?.dispatchEvent(new Event('pointermove'))"
# A few seconds into the call: the timer runs, and the connection has figures to keep.
_SECONDS_IN = "() => /^00:0[3-9]$/.test(document.querySelector('.call-timer').textContent)"
_SET_LANGUAGE = """(code) => { const select = document.getElementById('locale');
  select.value = code; select.dispatchEvent(new Event('change')); }"""


@pytest.fixture
def folder() -> Path:
    chosen = os.environ.get("PARLEY_SCREENSHOTS")
    path = Path(chosen) if chosen else ARTIFACTS / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def people(browser: Browser) -> Iterator[dict[str, Page]]:
    """Ana on a phone in English, 王芳 on a desktop in Chinese; both have allowed camera and
    microphone before, so a video call ringing shows the callee's own preview."""
    pages: dict[str, Page] = {}
    for name, viewport, locale in (("phone", PHONE, "en-US"), ("desktop", DESKTOP, "zh-CN")):
        mobile = viewport is PHONE
        context = browser.new_context(
            locale=locale,
            viewport=viewport,
            is_mobile=mobile,
            has_touch=mobile,
            permissions=["camera", "microphone"],
        )
        pages[name] = context.new_page()
    yield pages
    for page in pages.values():
        page.context.close()


def snap(page: Page, folder: Path, name: str) -> None:
    page.evaluate(_WAKE)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled", caret="initial")
    size = path.stat().st_size
    assert 0 < size <= MAX_BYTES, f"{path.name}: {size} bytes"


def test_the_readme_screenshots_come_from_real_calls(
    server_url: str, people: dict[str, Page], folder: Path
) -> None:
    phone, desktop = people["phone"], people["desktop"]
    sign_in(phone, server_url, "Ana Silva")
    wang = sign_in(desktop, server_url, "王芳")
    ana = str(phone.evaluate("() => window.parley.user.id"))

    # A video call from the desktop rings on the phone, with the phone's own camera labelled.
    call(desktop, ana)
    wait_for_state(phone, "incoming")
    phone.wait_for_selector("#incoming-preview-box:not([hidden])")
    phone.wait_for_function("() => document.getElementById('incoming-preview').videoWidth > 0")
    assert phone.locator("#incoming-name").inner_text() == "王芳"
    snap(phone, folder, "phone-incoming-en")
    phone.click("#accept-video")
    for page in (phone, desktop):
        wait_for_state(page, "in-call")
        page.wait_for_function("() => document.getElementById('remote-video').videoWidth > 0")
        page.wait_for_function(_SECONDS_IN)
    snap(phone, folder, "phone-call-en")
    snap(desktop, folder, "desktop-call-zh")
    phone.click("#hangup-button")
    wait_for_state(desktop, "ended")
    for page in (phone, desktop):
        page.click("#ended-ok")

    # A voice call from the phone rings on the desktop; answered, both see whom they hear.
    call(phone, wang, media="voice")
    wait_for_state(desktop, "incoming")
    assert desktop.locator("#incoming-label").inner_text() == "语音来电"
    snap(desktop, folder, "desktop-incoming-zh")
    desktop.click("#accept-voice")
    wait_for_state(phone, "in-call")
    phone.wait_for_selector(".stage.speaking", state="attached")
    phone.wait_for_function(_SECONDS_IN)
    snap(phone, folder, "phone-voice-en")
    desktop.click("#hangup-button")
    wait_for_state(phone, "ended")
    phone.click("#ended-ok")
    desktop.click("#ended-ok")

    # One more, declined: recent calls then say each ending from each side.
    call(phone, wang)
    wait_for_state(desktop, "incoming")
    desktop.click("#decline-button")
    wait_for_state(phone, "ended")
    phone.click("#ended-ok")
    desktop.click("#ended-ok")
    for page, language in ((phone, "zh-CN"), (desktop, "en")):
        page.evaluate(_SET_LANGUAGE, language)
        page.click("#tab-history")
        page.wait_for_function("() => document.querySelectorAll('#history-list li').length === 3")
    desktop.locator("#history-list .history-quality summary").first.click()
    assert "王芳 已拒绝" in phone.locator("#history-list li").first.inner_text()
    assert "You declined" in desktop.locator("#history-list li").first.inner_text()
    snap(phone, folder, "phone-history-zh")
    snap(desktop, folder, "desktop-history-en")


def test_the_readme_shows_the_screenshots() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    shots = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    names = [
        "phone-incoming-en",
        "phone-call-en",
        "desktop-call-zh",
        "desktop-incoming-zh",
        "phone-voice-en",
        "phone-history-zh",
        "desktop-history-en",
    ]
    for name in names:
        assert f"docs/screenshots/{name}.png" in readme, name
        assert 0 < (shots / f"{name}.png").stat().st_size <= MAX_BYTES, name
