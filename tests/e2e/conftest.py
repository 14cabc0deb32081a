"""Real browsers (Chromium; Firefox where a test asks for it) against a real Parley server, inside
a network namespace this test run makes."""

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.e2e.firefox import Firefox, FirefoxPage, running_firefox
from tests.e2e.helpers import (
    BrowserPage,
    assert_media_flows,
    wait_for_remote_video,
    wait_for_state,
)
from tests.e2e.recorded_pages import ARTIFACTS, RecordedPages, connection_states
from tests.netns import enter_private_netns, interface_names, veth_pair
from tests.parley_server import running_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Inside the private namespace loopback is the only interface; without this flag Chromium
    # gathers no loopback candidates and ICE has nothing to pair.
    "--allow-loopback-in-peer-connection",
]
FIREFOX_ADDRESSES = ("198.51.100.40", "198.51.100.41")  # TEST-NET-2 (RFC 5737)

Engine = Literal["chromium", "firefox"]
Open = Callable[[Engine, str], BrowserPage]


@pytest.fixture(scope="session")
def private_network() -> list[str]:
    enter_private_netns()
    names = interface_names()
    assert names == ["lo"], f"the test network must hold only loopback, found {names}"
    return names


@pytest.fixture(scope="session")
def server_url(private_network: list[str]) -> Iterator[str]:
    ARTIFACTS.mkdir(exist_ok=True)
    with running_server(log_path=ARTIFACTS / "e2e-server.log") as url:
        yield url


@pytest.fixture(scope="session")
def playwright(private_network: list[str]) -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    yield browser
    browser.close()


@pytest.fixture
def open_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    """Opens a page in its own browser context: each one is a separate person.

    Each page's console and a final screenshot land in test-artifacts/, to read after a failure.
    """
    pages = RecordedPages(browser, request.node.name)

    def open_(url: str, locale: str = "en-US", **context_options: object) -> Page:
        page = pages.new_page(locale, **context_options)
        page.goto(url)
        return page

    yield open_
    pages.close(final_state=connection_states)


@pytest.fixture(scope="module")
def firefox(private_network: list[str]) -> Iterator[Firefox]:
    """One firefox-esr for a test module (it takes seconds to start); people get contexts.

    Firefox offers no loopback candidate, only the address of the interface that holds the
    default route: a veth pair in the private namespace gives it one for the module."""
    forwarding = Path("/proc/sys/net/ipv4/ip_forward").read_text(encoding="ascii").strip()
    assert forwarding == "0", "the test namespace must not forward what its default route takes"
    ARTIFACTS.mkdir(exist_ok=True)
    with (
        veth_pair(*FIREFOX_ADDRESSES, default_route=True),
        running_firefox(ARTIFACTS / "firefox-driver.log") as browser,
    ):
        yield browser


@pytest.fixture
def open_firefox(
    firefox: Firefox, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], FirefoxPage]]:
    """As `open_page`, in Firefox: each page is a separate person, its console and a final
    screenshot in test-artifacts/."""
    opened: list[FirefoxPage] = []

    def open_(url: str) -> FirefoxPage:
        page = firefox.open()
        opened.append(page)
        page.goto(url)
        return page

    yield open_
    for number, page in enumerate(opened):
        stem = ARTIFACTS / f"{request.node.name}-firefox{number}"
        console = [*page.console(), f"final state: {connection_states(page)}"]
        stem.with_suffix(".console.log").write_text("\n".join(console), encoding="utf-8")
        try:
            page.screenshot(path=stem.with_suffix(".png"))
        finally:
            page.close()


@pytest.fixture
def open_in(
    open_page: Callable[..., BrowserPage], open_firefox: Callable[[str], BrowserPage]
) -> Iterator[Open]:
    """A person's page in the engine asked for (`open_page` or `open_firefox`), at `url`."""

    def open_(engine: Engine, url: str) -> BrowserPage:
        return open_firefox(url) if engine == "firefox" else open_page(url)

    yield open_


def room_of_two(open_in: Open, url: str, first: Engine, second: Engine) -> list[BrowserPage]:
    """Two people join the room at `url` one after the other; both pages, once media flows
    both ways and the other's picture shows."""
    pages = [open_in(first, url)]
    wait_for_state(pages[0], "waiting")
    pages.append(open_in(second, url))
    for page in pages:
        wait_for_state(page, "in-call")
        assert_media_flows(page, ("audio", "video"))
        wait_for_remote_video(page)
    return pages


@pytest.fixture
def room_name() -> str:
    return "e2e-" + secrets.token_urlsafe(12)
