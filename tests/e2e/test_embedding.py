"""A host app on another origin frames Parley's pages in real Chromium: an `--allowed-origin`
may (the README's embedding), any other site is refused by the browser (clickjacking)."""

import secrets

import pytest
from playwright.sync_api import Browser

from tests.e2e.helpers import wait_for_state
from tests.e2e.host_pages import HostPage, host_origin
from tests.e2e.recorded_pages import ARTIFACTS
from tests.parley_server import running_server

pytestmark = pytest.mark.e2e


def framed_page_state(browser: Browser, host: str) -> tuple[str, bool]:
    """The framed document's URL and whether Parley's page started in it (it left its
    `loading` state: a cross-site frame has no storage here, and once threw on it)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(host + "/")
        page.wait_for_load_state("load")
        frame = page.frame_locator("#call")
        frame.locator("body").wait_for(state="attached", timeout=10_000)
        inner = next(f for f in page.frames if f != page.main_frame)
        inner.wait_for_load_state("load")
        url = inner.url
        started = url.startswith("http")
        if started:
            denied = "() => { try { localStorage.length; return false } catch { return true } }"
            assert inner.evaluate(denied), "the frame has storage: the start proves little"
            inner.wait_for_selector('body:not([data-state="loading"])', state="attached")
        return url, started
    finally:
        context.close()


def test_an_allowed_origin_frames_the_phone_page_a_foreign_one_cannot(
    browser: Browser, private_network: list[str]
) -> None:
    with (
        host_origin("127.0.0.2") as allowed,
        host_origin("127.0.0.3") as foreign,
        running_server(
            "--allowed-origin",
            allowed.origin,
            log_path=ARTIFACTS / "embedding-server.log",
        ) as parley,
    ):
        allowed.body = foreign.body = HostPage.framing(parley + "/")
        url, started = framed_page_state(browser, allowed.origin)
        assert url == parley + "/" and started, f"the allowed host's frame shows {url}"
        url, started = framed_page_state(browser, foreign.origin)
        assert not started, "a foreign site framed Parley's page"
        assert url.startswith("chrome-error://"), url


def test_another_site_cannot_send_a_visitor_into_a_room_with_the_camera_on(
    browser: Browser, server_url: str
) -> None:
    """A foreign page navigates to `/r/<room>?autojoin=1`: the visitor sees the pre-join
    screen and no camera opens. A link on Parley's own page still joins at once."""
    room = f"{server_url}/r/embed-{secrets.token_urlsafe(8)}"
    with host_origin("127.0.0.3") as foreign:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(foreign.origin + "/")
            page.evaluate("url => { location.href = url }", room + "?autojoin=1")
            wait_for_state(page, "prejoin")
            assert "autojoin" not in page.url
            # The pre-join screen may show the visitor's own preview; nothing is sent: no
            # connection to anyone and no session in the room, until the visitor clicks Join.
            page.wait_for_timeout(2000)
            assert page.evaluate("() => document.body.dataset.state") == "prejoin"
            assert page.evaluate("() => window.parley.pc") is None, "media went out"
            assert page.evaluate("() => window.parley.sessionId") is None, "it joined the room"

            # Positive control: the same link from Parley's own origin joins without a click.
            page.evaluate("url => { location.href = url }", room + "?autojoin=1")
            wait_for_state(page, "waiting")
            assert "autojoin=1" in page.url
        finally:
            context.close()
