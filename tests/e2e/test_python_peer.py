"""Chromium and the Python peer (as users run it: the `parley` command) call each other."""

import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import pytest
from playwright.sync_api import Page

from tests.e2e.helpers import assert_media_flows, wait_for_remote_video, wait_for_state
from tests.e2e.phone import call, ended_reason, sign_in
from tests.netns import veth_pair

pytestmark = pytest.mark.e2e

OpenPage = Callable[..., Page]
LINE_SECONDS = 30.0


@pytest.fixture(scope="module", autouse=True)
def aiortc_link(private_network: list[str]) -> Iterator[None]:
    with veth_pair("198.51.100.30", "198.51.100.31"):
        yield


class PeerProcess:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []

    def wait_for(self, prefix: str, within: float = LINE_SECONDS) -> str:
        """The next output line starting with `prefix` (other lines are kept in `lines`)."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if not ready:
                continue
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip())
            if line.startswith(prefix):
                return line.strip()
        raise AssertionError(f"no line starting {prefix!r}; output so far: {self.lines}")

    def field(self, line: str, key: str) -> str:
        return dict(part.split("=", 1) for part in line.split() if "=" in part)[key]


@contextmanager
def parley(*args: str) -> Iterator[PeerProcess]:
    process = subprocess.Popen(
        [sys.executable, "-m", "parley", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield PeerProcess(process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _received(peer: PeerProcess, line: str) -> tuple[int, int]:
    return int(peer.field(line, "audio")), int(peer.field(line, "video"))


def test_browser_calls_the_python_peer_media_flows_both_ways(
    server_url: str, open_page: OpenPage
) -> None:
    page = open_page("about:blank")
    sign_in(page, server_url, "Ana")
    with parley("answer", "--auto", "--server", server_url, "--name", "Py") as peer:
        peer_id = peer.field(peer.wait_for("online"), "user")
        call(page, peer_id)
        wait_for_state(page, "in-call", timeout_ms=30_000)
        assert_media_flows(page, ("audio", "video"))
        wait_for_remote_video(page)
        page.wait_for_timeout(1500)
        page.click("#hangup-button")
        audio, video = _received(peer, peer.wait_for("received"))
        assert audio > 20 and video > 10, peer.lines
        assert peer.process.wait(timeout=15) == 0


def test_python_peer_calls_the_browser_media_flows_both_ways(
    server_url: str, open_page: OpenPage
) -> None:
    page = open_page("about:blank")
    ana_id = sign_in(page, server_url, "Ana")
    # `--` before the id: a guest id may begin with "-" (token_urlsafe), which reads as an option.
    with parley(
        "call", "--server", server_url, "--name", "Py", "--seconds", "8", "--", ana_id
    ) as peer:
        peer.wait_for("ringing")  # else the peer's own words on why not
        wait_for_state(page, "incoming")
        assert page.locator("#incoming-name").inner_text() == "Py"
        page.click("#accept-video")
        wait_for_state(page, "in-call", timeout_ms=30_000)
        assert_media_flows(page, ("audio", "video"))
        wait_for_remote_video(page)
        audio, video = _received(peer, peer.wait_for("received", within=30))
        assert audio > 20 and video > 10, peer.lines
    assert ended_reason(page) == "hangup"


def test_ctrl_c_hangs_the_python_peer_up_cleanly(server_url: str, open_page: OpenPage) -> None:
    page = open_page("about:blank")
    ana_id = sign_in(page, server_url, "Ana")
    with parley("call", "--server", server_url, "--name", "Py", "--", ana_id) as peer:
        peer.wait_for("ringing")  # else the peer's own words on why not
        wait_for_state(page, "incoming")
        page.click("#accept-voice")
        wait_for_state(page, "in-call", timeout_ms=30_000)
        peer.process.send_signal(signal.SIGINT)
        assert peer.process.wait(timeout=15) == 0
    assert ended_reason(page) == "hangup", "a hang-up, not a lost connection"
    assert page.locator("#ended-text").inner_text() == "Py hung up."


def test_echo_bot_sends_the_callers_own_video_back(server_url: str, open_page: OpenPage) -> None:
    page = open_page("about:blank")
    sign_in(page, server_url, "Ana")
    with parley("bot", "echo", "--server", server_url, "--calls", "1") as bot:
        bot_id = bot.field(bot.wait_for("online"), "user")
        call(page, bot_id)
        wait_for_state(page, "in-call", timeout_ms=30_000)
        assert_media_flows(page, ("audio", "video"))
        wait_for_remote_video(page)
        # Chromium's fake camera is 640x480; the bot has no camera: that is our own video.
        assert page.evaluate("() => document.getElementById('remote-video').videoWidth") == 640
        page.click("#hangup-button")
        bot.wait_for("ended")


def test_record_bot_writes_a_file_per_call_that_pyav_reads(
    server_url: str, open_page: OpenPage, tmp_path: Path
) -> None:
    page = open_page("about:blank")
    sign_in(page, server_url, "Ana")
    with parley("bot", "record", str(tmp_path), "--server", server_url, "--calls", "1") as bot:
        bot_id = bot.field(bot.wait_for("online"), "user")
        call(page, bot_id)
        wait_for_state(page, "in-call", timeout_ms=30_000)
        started = time.monotonic()
        page.wait_for_timeout(5000)
        page.click("#hangup-button")
        talked = time.monotonic() - started
        call_id = bot.field(bot.wait_for("ended"), "call")
        assert bot.process.wait(timeout=15) == 0
    recording = tmp_path / f"{call_id}.mkv"
    with av.open(str(recording)) as container:
        assert {s.type for s in container.streams} == {"audio", "video"}
        duration = (container.duration or 0) / 1_000_000
    assert abs(duration - talked) < 2.5, (duration, talked)
