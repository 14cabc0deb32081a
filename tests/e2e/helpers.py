"""What the browser tests read from a page: media statistics and the page's own state."""

import time
from pathlib import Path
from typing import Any, Literal, Protocol


class BrowserLocator(Protocol):
    def inner_text(self, *, timeout: float | None = None) -> str: ...
    def get_attribute(self, name: str, *, timeout: float | None = None) -> str | None: ...
    def is_hidden(self, *, timeout: float | None = None) -> bool: ...
    def count(self) -> int: ...


class BrowserKeyboard(Protocol):
    def press(self, key: str) -> None: ...


class BrowserPage(Protocol):
    """The part of Playwright's Page the shared helpers use: Playwright's Chromium pages have it,
    and so do Firefox's (tests/e2e/firefox.py)."""

    @property
    def keyboard(self) -> BrowserKeyboard: ...
    def goto(self, url: str) -> object: ...
    def fill(self, selector: str, value: str, *, timeout: float | None = None) -> None: ...
    def click(self, selector: str, *, timeout: float | None = None) -> None: ...
    def evaluate(self, expression: str, arg: Any = None) -> Any: ...
    def wait_for_function(
        self, expression: str, *, arg: Any = None, timeout: float | None = None
    ) -> object: ...
    def wait_for_selector(
        self,
        selector: str,
        *,
        state: Literal["attached", "detached", "hidden", "visible"] | None = None,
        timeout: float | None = None,
    ) -> object: ...
    def wait_for_timeout(self, timeout: float) -> None: ...
    def locator(self, selector: str) -> BrowserLocator: ...
    def screenshot(self, *, path: str | Path | None = None) -> object: ...


_INBOUND_BYTES = """async () => {
  const pc = window.parley.pc;
  if (!pc) return null;
  const totals = {};
  (await pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp') totals[s.kind] = (totals[s.kind] ?? 0) + (s.bytesReceived ?? 0);
  });
  return totals;
}"""

_ALL_TRACKS_ENDED = """() => window.parley.openedTracks.length > 0 &&
  window.parley.openedTracks.every((t) => t.readyState === 'ended')"""


def inbound_bytes(page: BrowserPage) -> dict[str, int]:
    totals = page.evaluate(_INBOUND_BYTES)
    return totals or {}


def assert_media_flows(page: BrowserPage, kinds: tuple[str, ...], within: float = 15.0) -> None:
    """Inbound RTP byte counters for every kind must grow between two samples."""
    deadline = time.monotonic() + within
    previous = inbound_bytes(page)
    while time.monotonic() < deadline:
        page.wait_for_timeout(500)
        current = inbound_bytes(page)
        if all(current.get(kind, 0) > previous.get(kind, 0) for kind in kinds):
            return
        previous = current
    raise AssertionError(f"inbound RTP bytes did not grow for {kinds}: last sample {previous}")


# The inbound-rtp counters the tests watch, for one kind (null while the page has no call).
_INBOUND_KIND = """(kind) => new Promise(async (resolve) => {
  const pc = window.parley.pc;
  if (!pc) return resolve(null);
  let found = null;
  (await pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === kind) found = {
      bytes: s.bytesReceived ?? 0, frames: s.framesDecoded ?? 0, energy: s.totalAudioEnergy ?? 0,
      samples: s.totalSamplesDuration ?? 0 };
  });
  resolve(found);
})"""


def inbound(page: BrowserPage, kind: str) -> dict[str, float]:
    found = page.evaluate(_INBOUND_KIND, kind)
    return found or {"bytes": 0, "frames": 0, "energy": 0.0, "samples": 0.0}


def grows(page: BrowserPage, kind: str, field: str, seconds: float = 2.0) -> float:
    """How much an inbound counter grew over a few seconds."""
    before = inbound(page, kind)[field]
    page.wait_for_timeout(seconds * 1000)
    return inbound(page, kind)[field] - before


def wait_until_grows(page: BrowserPage, kind: str, field: str, within: float = 15.0) -> None:
    for _ in range(int(within / 1.0)):
        if grows(page, kind, field, 1.0) > 0:
            return
    raise AssertionError(f"{kind} {field} did not grow within {within} s")


# Every counter a call's media checks read, in one getStats: what arrives by kind, and what the
# camera's sender puts on the wire (nothing while the page has no call).
_MEDIA_COUNTERS = """async () => {
  const counts = { audio_bytes: 0, audio_energy: 0, video_bytes: 0, video_frames: 0,
    sent_video_bytes: 0 };
  const pc = window.parley.pc;
  if (!pc) return counts;
  (await pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      counts.audio_bytes += s.bytesReceived ?? 0;
      counts.audio_energy += s.totalAudioEnergy ?? 0;
    } else if (s.type === 'inbound-rtp' && s.kind === 'video') {
      counts.video_bytes += s.bytesReceived ?? 0;
      counts.video_frames += s.framesDecoded ?? 0;
    } else if (s.type === 'outbound-rtp' && s.kind === 'video') {
      counts.sent_video_bytes += s.bytesSent ?? 0;
    }
  });
  return counts;
}"""


def media_counters(page: BrowserPage) -> dict[str, float]:
    """audio_bytes, audio_energy, video_bytes, video_frames received; sent_video_bytes."""
    return dict(page.evaluate(_MEDIA_COUNTERS))


def media_growth(pages: tuple[BrowserPage, ...], seconds: float = 2.0) -> list[dict[str, float]]:
    """How much each page's `media_counters` grew over the same few seconds."""
    before = [media_counters(page) for page in pages]
    time.sleep(seconds)
    return [
        {name: value - start[name] for name, value in media_counters(page).items()}
        for page, start in zip(pages, before, strict=True)
    ]


def seconds_until_media_flows_both_ways(
    pages: tuple[BrowserPage, BrowserPage], within: float, sample: float = 1.0
) -> float:
    """Until sound arrives and video is decoded on both pages, sampled every `sample` seconds;
    fails with the last sample and both pages' states after `within` seconds."""
    start = time.monotonic()
    grown: list[dict[str, float]] = []
    while time.monotonic() - start < within:
        grown = media_growth(pages, sample)
        if all(g["audio_bytes"] > 0 and g["video_frames"] > 0 for g in grown):
            return time.monotonic() - start
    states = [page.evaluate("() => document.body.dataset.state") for page in pages]
    raise AssertionError(f"no media both ways within {within:.0f} s: {grown}, {states}")


# The page's ICE credentials (its local description's ufrag line: a restart changes it), and
# whether its ICE is up with no negotiation under way.
ICE_UFRAG = """() => window.parley.pc.localDescription.sdp.split('\\r\\n')
  .find((line) => line.startsWith('a=ice-ufrag:'))"""
ICE_UP = """() => ['connected', 'completed'].includes(window.parley.pc.iceConnectionState)
  && window.parley.pc.signalingState === 'stable'"""


def assert_video_both_ways(
    first: BrowserPage, second: BrowserPage, label: str, seconds: float = 2.0
) -> None:
    """Over the same few seconds, each page receives sound and decodes video, and its camera's
    sender puts bytes on the wire."""
    grown = media_growth((first, second), seconds)
    print(f"{label}: grown in {seconds:.0f} s (first, second): {grown}")
    for each in grown:
        assert each["audio_bytes"] > 0 and each["video_bytes"] > 0, grown
        assert each["video_frames"] > 0 and each["sent_video_bytes"] > 0, grown
        assert each["audio_energy"] > 0, "sound, not silence"  # the fake microphones beep


def wait_for_state(page: BrowserPage, state: str, timeout_ms: int = 20_000) -> None:
    page.wait_for_selector(f'body[data-state="{state}"]', timeout=timeout_ms, state="attached")


def remote_video_width(page: BrowserPage) -> int:
    return int(page.evaluate("() => document.getElementById('remote-video').videoWidth"))


def wait_for_remote_video(page: BrowserPage, timeout_ms: int = 15_000) -> None:
    page.wait_for_function(
        "() => document.getElementById('remote-video').videoWidth > 0", timeout=timeout_ms
    )


def all_local_tracks_ended(page: BrowserPage) -> bool:
    return bool(page.evaluate(_ALL_TRACKS_ENDED))


def video_receiver_count(page: BrowserPage) -> int:
    return int(
        page.evaluate(
            """() => window.parley.pc.getTransceivers()
                 .filter((t) => t.receiver.track.kind === 'video').length"""
        )
    )


_COUNT_REMOTE_LOADS = """() => {
  window.remoteLoads = { loadstart: 0, emptied: 0, abort: 0 };
  for (const type of Object.keys(window.remoteLoads)) {
    // Media events do not bubble: caught on the way down, for elements made later too.
    document.addEventListener(type, (event) => {
      if (event.target.id === 'remote-video') window.remoteLoads[type] += 1;
    }, true);
  }
}"""


def count_remote_loads(page: BrowserPage) -> None:
    """From now on, counts each time the remote media element starts loading, is emptied or
    aborts a load: reassigning its stream does all three, and cuts sound and picture."""
    page.evaluate(_COUNT_REMOTE_LOADS)


def remote_loads(page: BrowserPage) -> dict[str, int]:
    return dict(page.evaluate("() => window.remoteLoads"))


_SHORTCUT = """(key) => document.dispatchEvent(new KeyboardEvent('keydown', {
  key, code: 'Key' + key.toUpperCase(), ctrlKey: true, bubbles: true, cancelable: true }))"""


def press_shortcut(page: BrowserPage, key: str) -> None:
    """Ctrl + `key` (a letter) as the in-call shortcuts take it: `d` the microphone, `e` the
    camera. Dispatched in the page, so it works the same in every browser driver (Puppeteer's
    keyboard takes no key combinations); tests of the real keyboard press it with Playwright."""
    page.evaluate(_SHORTCUT, key)
