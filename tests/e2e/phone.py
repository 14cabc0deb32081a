"""Driving the phone page (/) like a person: sign in with a name, call, answer."""

import time
from typing import Any

from tests.e2e.helpers import (
    BrowserPage,
    assert_media_flows,
    wait_for_remote_video,
    wait_for_state,
)


def sign_in(page: BrowserPage, base_url: str, name: str) -> str:
    """Opens the phone and picks a name; returns the user id the server gave."""
    page.goto(base_url + "/")
    page.fill("#name-input", name)
    page.click("#name-form button[type=submit]")
    wait_for_state(page, "idle")
    return str(page.evaluate("() => window.parley.user.id"))


def call(page: BrowserPage, user_id: str, media: str = "video") -> None:
    button = ".call-video" if media == "video" else ".call-voice"
    page.click(f'#online-list li[data-user="{user_id}"] {button}', timeout=10_000)


def ended_reason(page: BrowserPage) -> str | None:
    wait_for_state(page, "ended")
    return page.locator("#ended").get_attribute("data-reason")


def history_rows(page: BrowserPage, base_url: str) -> list[dict[str, object]]:
    """The signed-in user's history, straight from the API, as the page itself asks for it."""
    rows = page.evaluate(
        """async () => (await (await fetch('/api/calls', {headers: {Authorization:
             'Bearer ' + localStorage.getItem('parley.token')}})).json()).calls"""
    )
    assert isinstance(rows, list)
    return rows


def latest_call_with_quality(
    page: BrowserPage, base_url: str, within: float = 10.0
) -> dict[str, Any]:
    """The newest history row once its quality report is stored (the page sends it as the
    call ends), or as it is after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        latest: dict[str, Any] = history_rows(page, base_url)[0]
        if latest.get("quality") or time.monotonic() > deadline:
            return latest
        time.sleep(0.25)


def in_call(caller: BrowserPage, callee: BrowserPage, media: str = "video") -> None:
    call(caller, str(callee.evaluate("() => window.parley.user.id")), media)
    wait_for_state(callee, "incoming")
    callee.click("#accept-video" if media == "video" else "#accept-voice")
    kinds = ("audio", "video") if media == "video" else ("audio",)
    for page in (caller, callee):
        wait_for_state(page, "in-call")
        assert_media_flows(page, kinds)
    if media == "video":
        for page in (caller, callee):
            wait_for_remote_video(page)
