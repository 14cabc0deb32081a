"""axe-core (the npm package, pinned in package.json) over every state of the pages, in English
and Chinese, light and dark: no serious and no critical violation anywhere.

One walk through the states, with as few calls as it takes: at each state the language is
switched in the page and the colour scheme emulated, so four checks cost no new call."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.helpers import wait_for_state
from tests.e2e.phone import call, in_call, sign_in
from tests.e2e.recorded_pages import ARTIFACTS
from tests.e2e.test_call_screen import assert_fits_a_finger

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
LANGUAGES = ("en", "zh-CN")
SCHEMES = ("light", "dark")
FAILING = ("serious", "critical")

# axe's own run, limited to the WCAG 2.1 A/AA rules and its best practices.
_RUN_AXE = """async () => {
  const result = await axe.run(document, { runOnly: { type: 'tag',
    values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
  return result.violations.map((v) => ({ id: v.id, impact: v.impact,
    targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }));
}"""

# The language as the page's own picker switches it (also while the header is hidden).
_SET_LANGUAGE = """(code) => { const select = document.getElementById('locale');
  select.value = code; select.dispatchEvent(new Event('change')); }"""

# The words in Latin letters a reader meets (text on screen, and the names of controls), less
# what is not the page's to translate: people's and rooms' names, keys, the language picker's
# own "English", and figures with their units.
_LATIN_WORDS = """() => {
  const own = '.who, .tag, .peer-name, #incoming-name, #outgoing-name, #me-name, code, kbd, '
    + 'option, .brand, #candidates tbody, .stats-panel dd, .figures';
  const words = new Set();
  const add = (text) => (text.match(/[A-Za-z]{2,}/g) ?? []).forEach((w) => words.add(w));
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const parent = walker.currentNode.parentElement;
    if (parent && parent.checkVisibility() && !parent.closest(own)) {
      add(walker.currentNode.textContent);
    }
  }
  for (const el of document.querySelectorAll('[aria-label], [title], [placeholder]')) {
    if (!el.checkVisibility() || el.closest(own)) continue;
    add(`${el.getAttribute('aria-label') ?? ''} ${el.getAttribute('title') ?? ''}`);
    // (An example URL as a placeholder is the same in every language.)
    if (el.id !== 'ice-url') add(el.getAttribute('placeholder') ?? '');
  }
  return [...words];
}"""
# Names the tests give people, and words that are the same in every language.
_NOT_WORDS = {"Ana", "Bo", "Parley", "ms", "kbit", "fps", "Ctrl", "NAT", "STUN", "TURN"}
# Names of things, the same in every language.
_NOT_WORDS |= {"WebRTC", "Chrome", "Edge", "Firefox", "Safari"}

# Exactly one h1 that a reader meets (a hidden screen's heading is not on the page for them).
_H1_COUNT = """() => [...document.querySelectorAll('h1')]
  .filter((h) => !h.closest('[hidden]') && h.getClientRects().length).length"""


class Audit:
    """Runs axe on page states and keeps every violation found, by impact."""

    def __init__(self) -> None:
        self.found: list[dict[str, object]] = []
        self.runs = 0
        self.untranslated: dict[str, list[str]] = {}

    def check(self, page: Page, state: str) -> None:
        if not page.evaluate("() => typeof axe !== 'undefined'"):
            page.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
        assert page.evaluate(_H1_COUNT) == 1, f"{state}: one h1 on screen"
        if (page.viewport_size or DESKTOP)["width"] < 600:
            assert_fits_a_finger(page, state)
        for language in LANGUAGES:
            page.evaluate(_SET_LANGUAGE, language)
            assert page.evaluate("() => document.documentElement.lang") == language
            if language != "en":
                left = sorted(set(page.evaluate(_LATIN_WORDS)) - _NOT_WORDS)
                if left:
                    self.untranslated[state] = left
            for scheme in SCHEMES:
                page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
                self.runs += 1
                for violation in page.evaluate(_RUN_AXE):
                    self.found.append(
                        {"state": state, "language": language, "scheme": scheme, **violation}
                    )
        page.evaluate(_SET_LANGUAGE, "en")
        page.emulate_media(color_scheme="light")

    def failing(self) -> list[dict[str, object]]:
        return [v for v in self.found if v["impact"] in FAILING]


@pytest.fixture
def audit(request: pytest.FixtureRequest) -> Iterator[Audit]:
    found = Audit()
    yield found
    ARTIFACTS.mkdir(exist_ok=True)
    report = {"runs": found.runs, "violations": found.found}
    (ARTIFACTS / f"{request.node.name}-axe.json").write_text(json.dumps(report, indent=1))


@pytest.fixture
def people(browser: Browser) -> Iterator[Callable[..., Page]]:
    pages: list[Page] = []

    def open_(url: str, viewport: dict[str, int]) -> Page:
        mobile = viewport["width"] < 600
        context = browser.new_context(
            locale="en-US",
            viewport=viewport,
            is_mobile=mobile,
            has_touch=mobile,  # type: ignore[arg-type]
        )
        page = context.new_page()
        pages.append(page)
        page.goto(url)
        return page

    yield open_
    for page in pages:
        page.context.close()


def test_every_phone_page_state_has_no_serious_or_critical_violation(
    server_url: str, people: Callable[..., Page], audit: Audit
) -> None:
    bo = people(server_url, PHONE)
    wait_for_state(bo, "name")
    audit.check(bo, "first visit")
    ana = people(server_url, DESKTOP)
    sign_in(ana, server_url, "Ana")
    sign_in(bo, server_url, "Bo")
    ana.wait_for_selector("#online-list li")
    audit.check(ana, "online list")

    call(ana, str(bo.evaluate("() => window.parley.user.id")))
    wait_for_state(bo, "incoming")
    audit.check(ana, "outgoing")
    audit.check(bo, "incoming")
    bo.click("#accept-video")
    for page in (ana, bo):
        wait_for_state(page, "in-call")
    audit.check(ana, "in call (video)")
    audit.check(bo, "in call (video, phone)")
    ana.click(".control.more")
    audit.check(ana, "more sheet")
    ana.click(".control.stats")
    ana.wait_for_selector("[data-stat='rtt']", state="attached")
    audit.check(ana, "stats")
    ana.keyboard.press("Escape")
    bo.click(".control.camera")
    ana.wait_for_selector(".remote-camera-off:not([hidden])")
    audit.check(ana, "remote camera off")
    ana.click("#hangup-button")
    wait_for_state(bo, "ended")
    audit.check(bo, "ended")
    for page in (ana, bo):
        page.click("#ended-ok")

    in_call(ana, bo, media="audio")
    audit.check(bo, "in call (voice)")
    bo.click("#hangup-button")
    wait_for_state(ana, "ended")
    for page in (ana, bo):
        page.click("#ended-ok")
    for page in (ana, bo):
        page.click("#tab-history")
        page.wait_for_selector("#history-list li")
    audit.check(ana, "history")
    audit.check(bo, "history (phone)")
    assert audit.failing() == [], json.dumps(audit.failing(), indent=1, ensure_ascii=False)
    assert audit.untranslated == {}, "English left on the Chinese page"


def test_every_room_and_connection_test_state_has_no_serious_or_critical_violation(
    server_url: str, people: Callable[..., Page], audit: Audit, room_name: str
) -> None:
    host = people(f"{server_url}/r/{room_name}", PHONE)
    wait_for_state(host, "prejoin")
    audit.check(host, "room pre-join")
    host.click("#join-button")
    guest = people(f"{server_url}/r/{room_name}?autojoin=1", DESKTOP)
    for page in (host, guest):
        wait_for_state(page, "in-call")
    audit.check(host, "room in call")
    third = people(f"{server_url}/r/{room_name}?autojoin=1", DESKTOP)
    wait_for_state(third, "room-full")
    audit.check(third, "room full")
    tester = people(f"{server_url}/ice-test", DESKTOP)
    tester.click("#gather")
    wait_for_state(tester, "done", timeout_ms=30_000)
    audit.check(tester, "/ice-test")
    for path, state in (("/", "phone page"), (f"/r/{room_name}", "room page")):
        page = people("about:blank", PHONE)
        page.add_init_script("delete window.RTCPeerConnection")
        page.goto(server_url + path)
        wait_for_state(page, "unsupported")
        audit.check(page, f"{state}, no WebRTC")
    assert audit.failing() == [], json.dumps(audit.failing(), indent=1, ensure_ascii=False)
    assert audit.untranslated == {}, "English left on the Chinese page"


def test_the_audit_finds_what_it_looks_for(server_url: str, people: Callable[..., Page]) -> None:
    """The positive control: a nameless button, an image without words, a name that does not
    hold the visible label, text of too little contrast, and English words on the Chinese page
    fail the audit."""
    page = people(server_url, DESKTOP)
    wait_for_state(page, "name")
    page.evaluate(
        """() => { document.querySelector('main').insertAdjacentHTML('beforeend',
             '<button type="button" id="nameless"></button><img src="/favicon" id="wordless">'
             + '<button type="button" aria-label="Microphone on or off">Mute</button>'
             + '<p id="grey">grey on white</p><p>Not translated</p>');
           // (Set through the DOM: the pages' CSP drops style attributes.)
           Object.assign(document.getElementById('grey').style, { color: '#999' });
        }"""
    )
    audit = Audit()
    audit.check(page, "broken on purpose")
    assert {"Not", "translated", "Mute", "grey"} <= set(audit.untranslated["broken on purpose"])
    found = {(v["id"], v["impact"]) for v in audit.failing()}
    assert {
        ("button-name", "critical"),
        ("image-alt", "critical"),
        ("label-content-name-mismatch", "serious"),
        ("color-contrast", "serious"),
    } <= found, found
    assert audit.runs == len(LANGUAGES) * len(SCHEMES)
