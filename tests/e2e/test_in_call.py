"""The in-call experience in real Chromium: devices, mute, camera off, video by consent,
screen share, live statistics, the stored quality summary, and a phone-sized layout.

Chromium here has three fake cameras and microphones (`device-count=3`) and picks the whole
screen when a page asks to share one. Every media claim is checked in getStats on the receiving
side: frames decoded, audio energy, bytes.
"""

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS
from tests.e2e.helpers import (
    assert_media_flows,
    count_remote_loads,
    grows,
    inbound,
    remote_loads,
    wait_for_remote_video,
    wait_for_state,
    wait_until_grows,
)
from tests.e2e.phone import ended_reason, history_rows, in_call, sign_in
from tests.e2e.recorded_pages import ARTIFACTS, RecordedPages

pytestmark = pytest.mark.e2e

FAKE_DEVICES = "--use-fake-device-for-media-stream"
FLAGS = [flag for flag in CHROMIUM_FLAGS if flag != FAKE_DEVICES] + [
    f"{FAKE_DEVICES}=device-count=3",
    "--auto-select-desktop-capture-source=Entire screen",
]

_SENT_VIDEO = """() => {
  const sender = window.parley.pc.getTransceivers()
    .find((t) => t.receiver.track.kind === 'video')?.sender;
  const track = sender?.track;
  return track ? { id: track.id, label: track.label, device: track.getSettings().deviceId,
                   surface: track.getSettings().displaySurface ?? null } : null;
}"""

OpenPage = Callable[..., Page]


@pytest.fixture(scope="module")
def devices_browser(playwright: Playwright, private_network: list[str]) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    yield browser
    browser.close()


@pytest.fixture
def person(devices_browser: Browser, request: pytest.FixtureRequest) -> Iterator[OpenPage]:
    pages = RecordedPages(devices_browser, request.node.name)

    def open_(base: str, name: str, locale: str = "en-US", **options: object) -> Page:
        page = pages.new_page(locale, **options)
        sign_in(page, base, name)
        return page

    yield open_
    pages.close()


def test_switching_camera_mid_call_changes_the_sent_track_and_frames_keep_coming(
    server_url: str, person: OpenPage
) -> None:
    ana, bo = person(server_url, "Ana"), person(server_url, "Bo")
    in_call(ana, bo)
    before = ana.evaluate(_SENT_VIDEO)
    ana.click(".control.more")
    cameras = ana.locator(".in-call-overlay .device-videoinput option")
    assert cameras.count() == 3
    # Chromium's second fake camera is a 16-bit depth camera; the third is an ordinary one.
    other = cameras.nth(2).get_attribute("value")
    assert other != before["device"]
    ana.select_option(".in-call-overlay .device-videoinput", other)
    ana.wait_for_function(
        "(old) => window.parley.pc.getSenders().some((s) => s.track?.kind === 'video' "
        "&& s.track.id !== old)",
        arg=before["id"],
    )
    after = ana.evaluate(_SENT_VIDEO)
    assert after["device"] == other and after["id"] != before["id"]
    assert grows(bo, "video", "frames") > 0, "Bo keeps receiving frames from the new camera"
    assert grows(ana, "audio", "bytes") > 0, "the other direction never paused"
    assert ana.evaluate("() => JSON.parse(localStorage.getItem('parley.devices')).videoinput") == (
        other
    ), "the choice is remembered for the next visit"


def test_mute_silences_and_camera_off_stops_frames_with_marks_on_the_other_side(
    server_url: str, person: OpenPage
) -> None:
    ana, bo = person(server_url, "Ana"), person(server_url, "Bo")
    in_call(ana, bo)
    wait_until_grows(bo, "audio", "energy")

    ana.click(".control.mute")
    bo.wait_for_selector(".remote-muted:not([hidden])")
    bo.wait_for_timeout(1000)  # what was in flight plays out
    assert grows(bo, "audio", "energy", 3.0) == pytest.approx(0, abs=1e-6), "silence"
    assert grows(bo, "audio", "bytes") > 0, "muting sends silence, not nothing"
    ana.keyboard.press("Control+d")  # the shortcut unmutes
    bo.wait_for_selector(".remote-muted", state="hidden")
    wait_until_grows(bo, "audio", "energy")

    ana.click(".control.camera")
    bo.wait_for_selector(".remote-camera-off:not([hidden])")
    bo.wait_for_timeout(1000)
    assert grows(bo, "video", "frames", 3.0) == 0, "no frames while the camera is off"
    assert ana.evaluate(_SENT_VIDEO) is None
    ana.click(".control.camera")
    bo.wait_for_selector(".remote-camera-off", state="hidden")
    wait_until_grows(bo, "video", "frames")
    assert ana.evaluate("() => window.parley.pc.getTransceivers().length") == 2, (
        "no renegotiation added anything"
    )


def test_voice_call_upgraded_to_video_with_consent_then_video_flows_both_ways(
    server_url: str, person: OpenPage
) -> None:
    ana, bo = person(server_url, "Ana"), person(server_url, "Bo")
    for page in (ana, bo):
        count_remote_loads(page)
    in_call(ana, bo, media="audio")
    assert inbound(ana, "video")["bytes"] == 0
    ana.click(".control.add-video")
    bo.wait_for_selector(".video-prompt:not([hidden])")
    assert "Ana" in bo.locator(".video-prompt-text").inner_text()
    bo.click(".video-accept")
    for page in (ana, bo):
        wait_until_grows(page, "video", "frames", within=20)
        wait_for_remote_video(page)
        assert_media_flows(page, ("audio", "video"))
        video_lines = page.evaluate(
            "() => window.parley.pc.getTransceivers()"
            ".filter((t) => t.receiver.track.kind === 'video').length"
        )
        assert video_lines == 1, "one video m-line: only the asking side added it"
        # The video joined the stream the element already plays: no reload, no gap in sound.
        assert remote_loads(page) == {"loadstart": 1, "emptied": 0, "abort": 0}
    # And off again, without ending the call.
    ana.click(".control.camera")
    bo.wait_for_selector(".remote-camera-off:not([hidden])")
    assert_media_flows(bo, ("audio",))


def test_a_video_call_loads_the_remote_media_element_once_for_both_tracks(
    server_url: str, person: OpenPage
) -> None:
    ana, bo = person(server_url, "Ana"), person(server_url, "Bo")
    for page in (ana, bo):
        count_remote_loads(page)
    in_call(ana, bo, media="video")
    for page in (ana, bo):
        # Audio and video arrive as two track events; the element loads the stream once.
        assert remote_loads(page) == {"loadstart": 1, "emptied": 0, "abort": 0}
        assert (
            page.evaluate(
                "() => document.getElementById('remote-video').srcObject.getTracks().length"
            )
            == 2
        )
        assert page.evaluate("() => !document.getElementById('remote-video').paused")


def test_voice_call_upgrade_declined_stays_voice_only(server_url: str, person: OpenPage) -> None:
    ana, bo = person(server_url, "Ana"), person(server_url, "Bo")
    in_call(ana, bo, media="audio")
    ana.click(".control.add-video")
    bo.wait_for_selector(".video-prompt:not([hidden])")
    bo.click(".video-decline")
    ana.wait_for_function(
        "() => document.getElementById('status').textContent.includes('prefers to stay on voice')"
    )
    ana.wait_for_timeout(2000)
    for page in (ana, bo):
        assert inbound(page, "video")["bytes"] == 0
        assert page.evaluate(
            "() => window.parley.pc.getSenders().every((s) => s.track?.kind !== 'video')"
        )
        assert_media_flows(page, ("audio",))


def test_screen_share_replaces_the_camera_and_stopping_it_restores_the_camera(
    server_url: str, person: OpenPage
) -> None:
    ana, bo = person(server_url, "Ana"), person(server_url, "Bo")
    in_call(ana, bo)
    camera = ana.evaluate(_SENT_VIDEO)
    ana.click(".control.share")
    ana.wait_for_function(
        "() => window.parley.pc.getSenders().some((s) => s.track?.getSettings().displaySurface)"
    )
    assert ana.evaluate(_SENT_VIDEO)["surface"] == "monitor"
    bo.wait_for_selector(".remote-screen:not([hidden])")
    assert grows(bo, "video", "frames") > 0

    ana.click(".control.share")  # our button stops it
    ana.wait_for_function(
        "() => window.parley.pc.getSenders().some((s) => s.track?.kind === 'video' "
        "&& !s.track.getSettings().displaySurface)"
    )
    assert ana.evaluate(_SENT_VIDEO)["device"] == camera["device"]
    bo.wait_for_selector(".remote-screen", state="hidden")
    assert grows(bo, "video", "frames") > 0

    ana.click(".control.share")  # and the browser's own "Stop sharing" (the track ends)
    ana.wait_for_function("() => window.parley.inCall.local.screen")
    ana.evaluate(
        """() => window.parley.pc.getSenders().find((s) => s.track?.getSettings().displaySurface)
             .track.dispatchEvent(new Event('ended'))"""
    )
    ana.wait_for_function("() => !window.parley.inCall.local.screen")
    assert ana.evaluate(_SENT_VIDEO)["surface"] is None
    assert grows(bo, "video", "frames") > 0


def test_stats_panel_shows_path_and_round_trip_and_the_summary_lands_in_history(
    server_url: str, person: OpenPage
) -> None:
    ana, bo = person(server_url, "Ana"), person(server_url, "Bo")
    in_call(ana, bo)
    ana.click(".control.more")
    ana.click(".control.stats")
    ana.wait_for_function(
        """() => /^(host|srflx|prflx|relay) \\/ (udp|tcp)$/.test(
             document.querySelector('[data-stat="path"]')?.textContent ?? '')"""
    )
    ana.wait_for_function(
        "() => /^\\d+ ms$/.test(document.querySelector('[data-stat=\"rtt\"]')?.textContent ?? '')"
    )
    assert ana.locator(".quality-mark").inner_text() == "Connection: good"
    ana.wait_for_timeout(3000)  # a few samples for the summary

    ana.click("#hangup-button")
    assert ended_reason(bo) == "hangup"
    for page in (ana, bo):
        [row] = history_rows(page, server_url)
        quality = row["quality"]
        assert isinstance(quality, dict), row
        assert quality["candidate_type"] == "host" and quality["protocol"] == "udp"
        assert quality["rtt_mean_ms"] is not None and 0 <= quality["rtt_mean_ms"] < 100
        assert quality["receive_kbps"] is not None and quality["receive_kbps"] > 0
    ana.click("#ended-ok")
    ana.click("#tab-history")
    entry = ana.locator("#history-list li").first
    assert entry.locator(".history-quality summary").inner_text() == "Quality: good · Details"
    figures = entry.locator(".history-quality .figures")
    assert figures.is_hidden(), "the figures wait behind Details"
    entry.locator(".history-quality summary").click()
    assert "(host/udp)" in figures.inner_text() and "Round trip" in figures.inner_text()


def test_phone_sized_layout_has_no_horizontal_scroll_in_english_and_chinese(
    server_url: str, person: OpenPage
) -> None:
    phone = {"width": 390, "height": 844}
    ana = person(server_url, "Ana", viewport=phone, is_mobile=True, has_touch=True)
    bo = person(server_url, "波", locale="zh-CN", viewport=phone, is_mobile=True, has_touch=True)
    in_call(ana, bo)
    for page, language in ((ana, "en"), (bo, "zh")):
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{language}: {overflow}px of horizontal scroll"
        page.screenshot(path=str(ARTIFACTS / f"in-call-390x844-{language}.png"))
    assert bo.locator(".control.mute").inner_text() == "静音"
    assert bo.locator(".control.mute").get_attribute("aria-pressed") == "false"
    ana.click("#hangup-button")
    assert ended_reason(bo) == "hangup"


def test_devices_chosen_before_joining_are_used_in_the_call(
    server_url: str, devices_browser: Browser, room_name: str
) -> None:
    context = devices_browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{server_url}/r/{room_name}")
        wait_for_state(page, "prejoin")
        page.click("#device-settings summary")
        page.wait_for_function(
            "() => document.querySelectorAll('#device-settings .device-videoinput option').length"
            " === 3"
        )
        chosen = page.locator("#device-settings .device-videoinput option").nth(2)
        chosen_id = chosen.get_attribute("value")
        page.select_option("#device-settings .device-videoinput", chosen_id)
        page.wait_for_function(
            "(id) => document.getElementById('preview').srcObject?.getVideoTracks()[0]"
            "?.getSettings().deviceId === id",
            arg=chosen_id,
        )
        page.click("#join-button")
        other = context.browser.new_context(locale="en-US").new_page()  # type: ignore[union-attr]
        try:
            other.goto(f"{server_url}/r/{room_name}?autojoin=1")
            for each in (page, other):
                wait_for_state(each, "in-call")
            assert page.evaluate(_SENT_VIDEO)["device"] == chosen_id
            assert grows(other, "video", "frames") > 0
        finally:
            other.context.close()
    finally:
        context.close()
