"""Pages that are each a separate person (a browser context of their own) and leave a record:
each page's console, page errors and a last screenshot land in test-artifacts/ when the test ends,
to read after a failure."""

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Page

from tests.e2e.helpers import BrowserPage

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 720}


class RecordedPages:
    """Opens pages for one test (`name`, its node name) and saves what they said at `close`."""

    def __init__(self, browser: Browser, name: str, role: str = "page") -> None:
        self.browser = browser
        self.stem = f"{name}-{role}"
        # A test id holding a path separator would write its record outside test-artifacts/.
        assert Path(self.stem).name == self.stem, f"{self.stem!r} is not a file name"
        self.opened: list[tuple[Page, list[str]]] = []

    def new_page(self, locale: str = "en-US", **context_options: object) -> Page:
        options = {"viewport": DESKTOP, **context_options}
        page = self.browser.new_context(locale=locale, **options).new_page()  # type: ignore[arg-type]
        console: list[str] = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
        self.opened.append((page, console))
        return page

    def close(self, final_state: Callable[[Page], object] | None = None) -> None:
        """Writes each page's console (and `final_state` of it, if given) and a screenshot, and
        closes its context; a page that cannot be photographed is closed all the same."""
        ARTIFACTS.mkdir(exist_ok=True)
        for number, (page, console) in enumerate(self.opened):
            stem = ARTIFACTS / f"{self.stem}{number}"
            if final_state is not None:
                console.append(f"final state: {final_state(page)}")
            stem.with_suffix(".console.log").write_text("\n".join(console), encoding="utf-8")
            try:
                page.screenshot(path=str(stem.with_suffix(".png")))
            finally:
                page.context.close()


def connection_states(page: BrowserPage) -> object:
    """Where a page with a call stands: its screen, session and connection's states."""
    try:
        return page.evaluate(
            """() => { const pc = window.parley?.pc; return {
                 body: document.body.dataset.state, session: window.parley?.sessionId,
                 pc: pc && { connection: pc.connectionState, ice: pc.iceConnectionState,
                   signaling: pc.signalingState, gathering: pc.iceGatheringState,
                   local: pc.localDescription?.type, remote: pc.remoteDescription?.type } }; }"""
        )
    except Exception as exc:  # the page may have crashed; the log says so instead
        return repr(exc)
