"""Call set-up time in Chromium, through Parley and against the in-page lower bound.

Runs as its own process (bench/run.py starts it): it moves into a fresh network namespace with
only loopback, starts Parley there, and drives Debian's Chromium with Playwright, so no ICE
candidate or packet can leave the machine. Prints one JSON line with every repetition.

Through Parley (a direct call on the phone page `/`): the callee clicks "Accept with video";
that click is t0. The caller made its RTCPeerConnection, offer and candidates while the call
rang, and the callee's page opened its camera and microphone for its preview while it rang
(the fake media UI counts as allowed for good), and with the preview's tracks and the caller's
offer it made its answer while it rang (held, with its candidates); the click comes a second
after the ringing starts, as a person's would. After t0 the callee's `accept` carries that
answer, the caller gets it with `call-accepted` and sends its held candidates, and the callee
sends its own. We
take the later of the two pages' ICE `connected`, and the later of the two pages' first remote
video frame (requestVideoFrameCallback on a video element fed by the `track` event). A call in
which the callee's camera opened only after the click is flagged (`callee_camera_after_click`):
it would not be comparable with the bound.

Lower bound (one page, no server): both streams opened before t0 with the same constraints, as
on the phone page; from t0, two RTCPeerConnections wired to each other directly
(offer/answer/candidates by function call). Same two measurements, same video sink.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import machine_busy_seconds
from servers import Parley

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
    "--allow-loopback-in-peer-connection",
]

# Records, in absolute ms (timeOrigin + now, comparable across pages of one browser), the
# accept click, each RTCPeerConnection's first ICE connected, and its first remote video frame.
INSTRUMENT = """
(() => {
  const at = () => performance.timeOrigin + performance.now();
  const marks = { accept: null, ice: [], frame: [], events: [] };
  const note = (what) => marks.events.push([what, at()]);
  window.__bench = marks;
  // Waiting happens here, woken by the marks themselves: polling the pages from Playwright
  // would take their main threads (and a core) during the very interval measured.
  const waiters = [];
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  window.__benchUntil = (ice, frames, ms) => new Promise((resolve) => {
    const check = () => {
      if (marks.ice.length >= ice && marks.frame.length >= frames) resolve(marks);
      else waiters.push(check);
    };
    setTimeout(() => resolve(marks), ms);
    check();
  });
  document.addEventListener('click', (e) => {
    if (e.target && e.target.id === 'accept-video' && marks.accept === null) marks.accept = at();
  }, true);
  window.__benchWatch = (pc) => {
    note('pc-created');
    pc.addEventListener('signalingstatechange', () => note('signaling:' + pc.signalingState));
    pc.addEventListener('icegatheringstatechange', () => note('gathering:' + pc.iceGatheringState));
    pc.addEventListener('connectionstatechange', () => note('connection:' + pc.connectionState));
    let iceDone = false;
    pc.addEventListener('iceconnectionstatechange', () => {
      const state = pc.iceConnectionState;
      if (!iceDone && (state === 'connected' || state === 'completed')) {
        iceDone = true; marks.ice.push(at()); wake();
      }
    });
    let frameDone = false;
    pc.addEventListener('track', (event) => {
      if (event.track.kind !== 'video' || frameDone) return;
      frameDone = true;
      const video = document.createElement('video');
      video.muted = true; video.autoplay = true; video.playsInline = true;
      video.style.cssText = 'position:fixed;left:0;top:0;width:64px;height:36px;opacity:0.01';
      video.srcObject = new MediaStream([event.track]);
      document.documentElement.append(video);
      video.requestVideoFrameCallback(() => { marks.frame.push(at()); wake(); });
      video.play().catch(() => {});
    });
  };
  const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    note('camera-asked');
    const stream = await getUserMedia(constraints);
    note('camera-open');
    return stream;
  };
  // Signaling as the page sees it: each message's type, when sent and when received.
  const NativeSocket = window.WebSocket;
  window.WebSocket = class extends NativeSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', ({ data }) => note('got:' + JSON.parse(data).type));
    }
    send(data) { note('sent:' + JSON.parse(data).type); super.send(data); }
  };
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) { super(...args); window.__benchWatch(this); }
  };
})();
"""

BOUND = """
async () => {
  const constraints = {
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    video: { width: { ideal: 1280 }, height: { ideal: 720 } },
  };
  // Both streams open before t0, as on the phone page: the caller's before it calls, the
  // callee's while the call rings.
  const callerStream = await navigator.mediaDevices.getUserMedia(constraints);
  const calleeStream = await navigator.mediaDevices.getUserMedia(constraints);
  const t0 = performance.timeOrigin + performance.now();
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  a.onicecandidate = (e) => { if (e.candidate) b.addIceCandidate(e.candidate); };
  b.onicecandidate = (e) => { if (e.candidate) a.addIceCandidate(e.candidate); };
  for (const t of callerStream.getTracks()) a.addTrack(t, callerStream);
  for (const t of calleeStream.getTracks()) b.addTrack(t, calleeStream);
  const offer = await a.createOffer();
  await a.setLocalDescription(offer);
  await b.setRemoteDescription(offer);
  const answer = await b.createAnswer();
  await b.setLocalDescription(answer);
  await a.setRemoteDescription(answer);
  const marks = await window.__benchUntil(2, 2, 20000);
  const result = { ice_ms: Math.max(...marks.ice) - t0, frame_ms: Math.max(...marks.frame) - t0,
                   complete: marks.ice.length >= 2 && marks.frame.length >= 2,
                   timeline: marks.events.filter(([, when]) => when >= t0)
                     .map(([what, when]) => [what, Math.round((when - t0) * 10) / 10]) };
  for (const pc of [a, b]) pc.close();
  for (const s of [callerStream, calleeStream]) for (const t of s.getTracks()) t.stop();
  marks.ice.length = 0; marks.frame.length = 0; marks.events.length = 0;
  return result;
}
"""

UNTIL_CONNECTED = "() => window.__benchUntil(1, 1, 20000)"


def with_steal(measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`measure()`'s result with the host's steal meanwhile, in cores (noise no page can see)."""
    stolen, began = machine_busy_seconds()[1], time.monotonic()
    result = measure()
    stolen_by_now = machine_busy_seconds()[1]
    result["steal_cpu"] = round((stolen_by_now - stolen) / (time.monotonic() - began), 3)
    return result


def enter_private_netns() -> None:
    """This process (and all it starts) into a new network namespace with only loopback up."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x40000000) != 0:  # CLONE_NEWNET
        raise RuntimeError(f"unshare(CLONE_NEWNET): {os.strerror(ctypes.get_errno())} (needs root)")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True)
    names = [line.split(":")[1].strip() for line in out.stdout.splitlines()]
    if names != ["lo"]:
        raise RuntimeError(f"the private network must hold only loopback, found {names}")


def new_page(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US")
    context.add_init_script(INSTRUMENT)
    return context.new_page()


def sign_in(page: Page, base: str, name: str) -> str:
    page.goto(base + "/")
    page.fill("#name-input", name)
    page.click("#name-form button[type=submit]")
    page.wait_for_selector('body[data-state="idle"]', state="attached", timeout=20_000)
    return str(page.evaluate("() => window.parley.user.id"))


def parley_call(browser: Browser, base: str, rep: int) -> dict[str, Any]:
    caller, callee = new_page(browser), new_page(browser)
    try:
        sign_in(caller, base, f"Caller {rep}")
        callee_id = sign_in(callee, base, f"Callee {rep}")
        caller.click(f'#online-list li[data-user="{callee_id}"] .call-video', timeout=10_000)
        callee.wait_for_selector("#accept-video", state="visible", timeout=10_000)
        callee.wait_for_timeout(1000)  # a person takes a second or more to answer
        callee.click("#accept-video")
        # One after the other is fine: the marks are absolute times, taken in the pages.
        marks = [page.evaluate(UNTIL_CONNECTED) for page in (callee, caller)]
        t0 = marks[0]["accept"]
        complete = all(len(m["ice"]) >= 1 and len(m["frame"]) >= 1 for m in marks)
        if t0 is None or not complete:
            return {"complete": False, "marks": marks}
        return {
            "complete": True,
            # The bound opens both cameras before t0; so must the page, or it is not comparable.
            "callee_camera_after_click": any(
                what == "camera-asked" and when >= t0 for what, when in marks[0]["events"]
            ),
            "ice_ms": max(m["ice"][0] for m in marks) - t0,
            "frame_ms": max(m["frame"][0] for m in marks) - t0,
            # What happened when on each page, in ms after the accept click (for diagnosis).
            "timeline": {
                side: [(what, round(when - t0, 1)) for what, when in m["events"]]
                for side, m in zip(("callee", "caller"), marks, strict=True)
            },
        }
    finally:
        for page in (caller, callee):
            page.context.close()


def bound(browser: Browser, base: str) -> dict[str, Any]:
    page = new_page(browser)
    try:
        # Any page of the server's origin: a secure context (loopback) for getUserMedia.
        page.route(
            re.compile(r".*/bench-bound$"),
            lambda route: route.fulfill(
                body="<!doctype html><title>bound</title>", content_type="text/html"
            ),
        )
        page.goto(base + "/bench-bound")
        result: dict[str, Any] = page.evaluate(BOUND)
        return result
    finally:
        page.context.close()


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    # run.py idles pinned to the load generator's core, and a child inherits that: Chromium
    # would get one core for two pages, the GPU process and the server.
    os.sched_setaffinity(0, range(os.cpu_count() or 1))
    enter_private_netns()
    parley_runs: list[dict[str, Any]] = []
    bound_runs: list[dict[str, Any]] = []
    with Parley(pin=False) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            bound(browser, server.url)  # warm-up: first camera open, codec set-up
            for rep in range(reps):  # interleaved, so drift hits both alike
                bound_runs.append(with_steal(partial(bound, browser, server.url)))
                parley_runs.append(with_steal(partial(parley_call, browser, server.url, rep)))
        finally:
            browser.close()

    def median(runs: list[dict[str, Any]], key: str) -> float | None:
        values = [r[key] for r in runs if r.get("complete")]
        return statistics.median(values) if values else None

    print(
        json.dumps(
            {
                "reps": reps,
                "parley": {
                    "callee_camera_after_click": sum(
                        1 for r in parley_runs if r.get("callee_camera_after_click")
                    ),
                    "ice_ms": median(parley_runs, "ice_ms"),
                    "frame_ms": median(parley_runs, "frame_ms"),
                    "runs": parley_runs,
                },
                "bound": {
                    "ice_ms": median(bound_runs, "ice_ms"),
                    "frame_ms": median(bound_runs, "frame_ms"),
                    "runs": bound_runs,
                },
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
