"""What the browser tests read from a page: media statistics and the page's own state."""

import time

from playwright.sync_api import Page

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


def inbound_bytes(page: Page) -> dict[str, int]:
    totals = page.evaluate(_INBOUND_BYTES)
    return totals or {}


def assert_media_flows(page: Page, kinds: tuple[str, ...], within: float = 15.0) -> None:
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


def wait_for_state(page: Page, state: str, timeout_ms: int = 20_000) -> None:
    page.wait_for_selector(f'body[data-state="{state}"]', timeout=timeout_ms, state="attached")


def remote_video_width(page: Page) -> int:
    return int(page.evaluate("() => document.getElementById('remote-video').videoWidth"))


def wait_for_remote_video(page: Page, timeout_ms: int = 15_000) -> None:
    page.wait_for_function(
        "() => document.getElementById('remote-video').videoWidth > 0", timeout=timeout_ms
    )


def all_local_tracks_ended(page: Page) -> bool:
    return bool(page.evaluate(_ALL_TRACKS_ENDED))


def video_receiver_count(page: Page) -> int:
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


def count_remote_loads(page: Page) -> None:
    """From now on, counts each time the remote media element starts loading, is emptied or
    aborts a load: reassigning its stream does all three, and cuts sound and picture."""
    page.evaluate(_COUNT_REMOTE_LOADS)


def remote_loads(page: Page) -> dict[str, int]:
    return dict(page.evaluate("() => window.remoteLoads"))
