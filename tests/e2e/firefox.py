"""Debian's stock Firefox (firefox-esr) for the browser tests, driven over WebDriver BiDi.

`firefox_driver.mjs` runs puppeteer-core in Node and takes one JSON command a line; this module
starts it and gives each person a `FirefoxPage`, which answers the part of Playwright's `Page`
that the tests use (`tests.e2e.helpers.BrowserPage`), so the same helpers drive both browsers.
Every wait is bounded; closing stops Firefox, and kills it (by its process id) if it hangs.
"""

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

FIREFOX = "/usr/bin/firefox-esr"
ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("firefox_driver.mjs")
DEFAULT_TIMEOUT_MS = 30_000
POLL_SECONDS = 0.1
# Beyond a command's own timeout, which the driver enforces, before this side gives up on it.
GRACE_SECONDS = 10.0

SelectorState = Literal["attached", "detached", "hidden", "visible"]

# Playwright's meaning: visible is a non-empty box without `visibility: hidden`.
_SELECTOR_IN_STATE = """([selector, state]) => {
  const element = document.querySelector(selector);
  const box = element?.getBoundingClientRect();
  const visible = !!element && box.width > 0 && box.height > 0
    && getComputedStyle(element).visibility !== 'hidden';
  return { attached: !!element, detached: !element, visible, hidden: !visible }[state];
}"""


class DriverError(RuntimeError):
    """A command failed in the browser (or the driver stopped answering)."""


class Firefox:
    """One Firefox process; each `open` is a new person in a browser context of their own."""

    def __init__(self, process: subprocess.Popen[str], log: Path) -> None:
        self._process = process
        self._log = log
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._next_id = 1
        threading.Thread(target=self._read, daemon=True).start()
        ready = self._reply(0, 60.0)
        self.version: str = ready["version"]
        self.pid: int | None = ready["pid"]

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            if line.strip():
                self._replies.put(json.loads(line))
        self._replies.put(None)  # the driver is gone

    def _reply(self, wanted: int, seconds: float) -> Any:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                reply = self._replies.get(timeout=left)
            except queue.Empty:
                break
            if reply is None:
                raise DriverError(f"the Firefox driver exited; see {self._log}")
            if reply["id"] != wanted:
                continue  # the late answer to a command this side gave up on
            if not reply["ok"]:
                raise DriverError(reply["error"])
            return reply["value"]
        raise DriverError(f"no answer from the Firefox driver within {seconds:.0f} s")

    def command(self, op: str, timeout_ms: float = DEFAULT_TIMEOUT_MS, **fields: Any) -> Any:
        number = self._next_id
        self._next_id += 1
        assert self._process.stdin is not None
        message = {"id": number, "op": op, "timeout": int(timeout_ms), **fields}
        try:
            self._process.stdin.write(json.dumps(message) + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise DriverError(f"the Firefox driver is gone; see {self._log}") from exc
        return self._reply(number, timeout_ms / 1000 + GRACE_SECONDS)

    def open(self, url: str = "") -> "FirefoxPage":
        return FirefoxPage(self, int(self.command("open", url=url)))

    def close(self) -> None:
        """Asks Firefox to quit; kills the driver and Firefox by their ids if they linger."""
        with contextlib.suppress(DriverError):
            self.command("quit", timeout_ms=5_000)
        with contextlib.suppress(OSError, ValueError):
            assert self._process.stdin is not None
            self._process.stdin.close()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5)
        if self.pid is not None:
            # puppeteer starts Firefox in a process group of its own: anything left of it goes.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)


@contextlib.contextmanager
def running_firefox(log: Path) -> Iterator[Firefox]:
    """Firefox with a fresh profile (removed afterwards), its driver's errors in `log`."""
    node = shutil.which("node")
    assert node, "Node.js runs the Firefox driver"
    assert Path(FIREFOX).exists(), "firefox-esr is installed by scripts/install-system-deps.sh"
    with tempfile.TemporaryDirectory(prefix="parley-firefox-") as profile, log.open("w") as err:
        process = subprocess.Popen(
            [node, str(DRIVER), FIREFOX, profile],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            firefox = Firefox(process, log)
        except BaseException:
            process.kill()
            process.wait(timeout=5)
            raise
        try:
            yield firefox
        finally:
            firefox.close()


class FirefoxLocator:
    def __init__(self, page: "FirefoxPage", selector: str) -> None:
        self._page = page
        self._selector = selector

    def _read(self, expression: str, timeout: float | None) -> Any:
        self._page.wait_for_selector(self._selector, state="attached", timeout=timeout)
        return self._page.evaluate(
            f"(selector) => {{ const e = document.querySelector(selector); return {expression}; }}",
            self._selector,
        )

    def inner_text(self, *, timeout: float | None = None) -> str:
        return str(self._read("e.innerText", timeout))

    def get_attribute(self, name: str, *, timeout: float | None = None) -> str | None:
        value = self._read(f"e.getAttribute({json.dumps(name)})", timeout)
        return None if value is None else str(value)

    def is_hidden(self, *, timeout: float | None = None) -> bool:
        return bool(self._page.evaluate(_SELECTOR_IN_STATE, [self._selector, "hidden"]))

    def count(self) -> int:
        return int(
            self._page.evaluate("(s) => document.querySelectorAll(s).length", self._selector)
        )


class FirefoxKeyboard:
    def __init__(self, page: "FirefoxPage") -> None:
        self._page = page

    def press(self, key: str) -> None:
        self._page.firefox.command("press", page=self._page.number, key=key)


class FirefoxPage:
    """A person's page in Firefox, with the methods of Playwright's Page the tests call."""

    def __init__(self, firefox: Firefox, number: int) -> None:
        self.firefox = firefox
        self.number = number
        self.keyboard = FirefoxKeyboard(self)

    def _command(self, op: str, timeout: float | None = None, **fields: Any) -> Any:
        return self.firefox.command(
            op, timeout_ms=timeout or DEFAULT_TIMEOUT_MS, page=self.number, **fields
        )

    def goto(self, url: str) -> None:
        self._command("goto", url=url)

    def fill(self, selector: str, value: str, *, timeout: float | None = None) -> None:
        self._command("fill", timeout, selector=selector, value=value)

    def click(self, selector: str, *, timeout: float | None = None) -> None:
        self._command("click", timeout, selector=selector)

    def evaluate(self, expression: str, arg: Any = None) -> Any:
        return self._command("evaluate", source=expression, arg=arg)

    def wait_for_function(
        self, expression: str, *, arg: Any = None, timeout: float | None = None
    ) -> Any:
        """Polls until the function returns something truthy, and returns that."""
        limit = timeout or DEFAULT_TIMEOUT_MS
        deadline = time.monotonic() + limit / 1000
        while True:
            value = self.evaluate(expression, arg)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression!r} stayed falsy for {limit:.0f} ms")
            time.sleep(POLL_SECONDS)

    def wait_for_selector(
        self, selector: str, *, state: SelectorState | None = None, timeout: float | None = None
    ) -> None:
        self.wait_for_function(
            _SELECTOR_IN_STATE, arg=[selector, state or "visible"], timeout=timeout
        )

    def wait_for_timeout(self, timeout: float) -> None:
        time.sleep(timeout / 1000)

    def locator(self, selector: str) -> FirefoxLocator:
        return FirefoxLocator(self, selector)

    def screenshot(self, *, path: str | Path | None = None) -> None:
        self._command("screenshot", path=str(path))

    def console(self) -> list[str]:
        return [str(line) for line in self._command("console")]

    def close(self) -> None:
        self._command("close")
