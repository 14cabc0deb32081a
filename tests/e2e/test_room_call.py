"""Two people in one room, in real Chromium: media must really flow, both ways."""

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from tests.e2e.helpers import (
    all_local_tracks_ended,
    assert_media_flows,
    count_remote_loads,
    remote_loads,
    remote_video_width,
    video_receiver_count,
    wait_for_remote_video,
    wait_for_state,
)
from tests.e2e.recorded_pages import ARTIFACTS

pytestmark = pytest.mark.e2e

OpenPage = Callable[..., Page]


def _assert_video_call(page: Page) -> None:
    wait_for_state(page, "in-call")
    assert_media_flows(page, ("audio", "video"))
    wait_for_remote_video(page)
    assert remote_video_width(page) > 0


def _assert_call_ended_cleanly(page: Page) -> None:
    assert all_local_tracks_ended(page), "a local track is still live after the call ended"
    assert page.evaluate("() => window.parley.pc") is None
    assert page.evaluate("() => window.parley.timerCount") == 0
    assert page.evaluate("() => window.parley.inRoom") is False


def test_video_call_flows_both_ways_third_is_refused_hangup_ends_both_and_they_call_again(
    server_url: str, open_page: OpenPage, room_name: str
) -> None:
    url = f"{server_url}/r/{room_name}?autojoin=1"
    alice = open_page(url)
    bob = open_page(url)
    for page in (alice, bob):
        _assert_video_call(page)
    alice.screenshot(path=str(ARTIFACTS / "call-video.png"))

    carol = open_page(url)
    wait_for_state(carol, "room-full")
    assert carol.locator("#notice").get_attribute("data-reason") == "roomFull"
    assert carol.locator("#notice-title").inner_text() == "This room is full"
    assert all_local_tracks_ended(carol), "a refused visitor's camera must be released"
    # The refused visitor changed nothing: the call goes on.
    assert_media_flows(alice, ("audio", "video"))

    alice.click("#hangup-button")
    wait_for_state(alice, "ended")
    wait_for_state(bob, "ended")
    assert bob.locator("#notice").get_attribute("data-reason") == "peerHungUp"
    assert alice.locator("#notice").get_attribute("data-reason") == "youHungUp"
    for page in (alice, bob):
        _assert_call_ended_cleanly(page)

    # A new call without reloading either page.
    for page in (alice, bob):
        count_remote_loads(page)
    alice.click("#again-button")
    bob.click("#again-button")
    for page in (alice, bob):
        _assert_video_call(page)
        # Both tracks arrived after the view was shown: the element loaded the stream once.
        assert remote_loads(page) == {"loadstart": 1, "emptied": 0, "abort": 0}


def test_voice_only_call_carries_audio_and_no_video(
    server_url: str, open_page: OpenPage, room_name: str
) -> None:
    url = f"{server_url}/r/{room_name}?autojoin=1&media=audio"
    alice = open_page(url)
    bob = open_page(url)
    for page in (alice, bob):
        wait_for_state(page, "in-call")
        assert_media_flows(page, ("audio",))
        assert "video" not in page.evaluate(
            """async () => { const kinds = [];
                 (await window.parley.pc.getStats()).forEach((s) => {
                   if (s.type === 'inbound-rtp') kinds.push(s.kind); });
                 return kinds; }"""
        )
        assert video_receiver_count(page) == 0
        assert page.evaluate("() => window.parley.openedTracks.every((t) => t.kind === 'audio')"), (
            "a voice-only call must not open the camera"
        )


def test_prejoin_preview_in_chinese_then_join(
    server_url: str, open_page: OpenPage, room_name: str
) -> None:
    host = open_page(f"{server_url}/r/{room_name}", locale="zh-CN")
    wait_for_state(host, "prejoin")
    assert host.locator("html").get_attribute("lang") == "zh-CN"
    assert host.locator("#join-button").inner_text() == "加入通话"
    host.wait_for_function("() => document.getElementById('preview').videoWidth > 0")

    host.select_option("#locale", "en")
    assert host.locator("#join-button").inner_text() == "Join call"
    host.select_option("#locale", "zh-CN")

    host.click("#join-button")
    wait_for_state(host, "waiting")
    assert host.locator("#status").inner_text() == "正在等待对方加入，请分享链接。"

    guest = open_page(f"{server_url}/r/{room_name}?autojoin=1")
    for page in (host, guest):
        _assert_video_call(page)
    assert host.locator("#status").inner_text() == "通话中"
