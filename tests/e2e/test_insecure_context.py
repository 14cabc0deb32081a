"""Opened over plain http:// from another machine, the pages explain why calls cannot work."""

import time
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.helpers import wait_for_state
from tests.netns import veth_pair
from tests.parley_server import running_server

pytestmark = pytest.mark.e2e

LAN_ADDRESS = "198.51.100.40"
NETWORK_SETTLE_SECONDS = 2.0


@pytest.fixture(scope="module")
def lan_url(private_network: list[str]) -> Iterator[str]:
    """The server on an address that is not localhost, as a phone on the Wi-Fi would see it."""
    with veth_pair(LAN_ADDRESS, "198.51.100.41"):
        log = ARTIFACTS / "e2e-insecure-server.log"
        with running_server("--host", LAN_ADDRESS, log_path=log) as url:
            # The new interface is a network change to the running Chromium, which aborts the
            # loads in flight when it notices (ERR_NETWORK_CHANGED, seen once in a full run):
            # let it notice before the first page.
            time.sleep(NETWORK_SETTLE_SECONDS)
            yield url


def test_room_page_explains_the_insecure_context_in_plain_words(
    lan_url: str, open_page: Callable[..., Page]
) -> None:
    assert lan_url.startswith(f"http://{LAN_ADDRESS}:")
    page = open_page(f"{lan_url}/r/some-room?autojoin=1")
    wait_for_state(page, "insecure")
    assert page.evaluate("() => window.isSecureContext") is False
    assert page.locator("#notice-title").inner_text() == "Camera and microphone need a secure page"
    assert "https://" in page.locator("#notice-text").inner_text()
    assert page.evaluate("() => window.parley.openedTracks.length") == 0


def test_ice_tester_warns_about_http_in_chinese(
    lan_url: str, open_page: Callable[..., Page]
) -> None:
    page = open_page(f"{lan_url}/ice-test", locale="zh-CN")
    warning = page.locator("#insecure")
    warning.wait_for()
    assert "https://" in warning.inner_text() and "摄像头" in warning.inner_text()
