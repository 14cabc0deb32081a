"""Calls that survive: a dropped signaling socket, a server restart and a network outage.

Media is peer to peer, so none of these may end a call: the page reconnects (and resumes its
session, or takes the call back after a restart), ICE restarts when the path broke, and a
hang-up afterwards still reaches the other side.
"""

import contextlib
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Playwright

from tests.e2e.helpers import (
    assert_media_flows,
    wait_for_remote_video,
    wait_for_state,
)
from tests.e2e.networks import browser_in
from tests.e2e.phone import call, ended_reason, history_rows, sign_in
from tests.e2e.recorded_pages import ARTIFACTS
from tests.netns import without_ipv6
from tests.parley_server import running_server
from tests.turn.topology import run_ip

pytestmark = pytest.mark.e2e

OpenPage = Callable[..., Page]
MEDIA = ("audio", "video")
OUTAGE_SECONDS = 10


def _person(open_page: OpenPage, base: str, name: str) -> tuple[Page, str]:
    page = open_page("about:blank")
    return page, sign_in(page, base, name)


def _in_call(caller: Page, callee: Page, callee_id: str) -> None:
    call(caller, callee_id)
    wait_for_state(callee, "incoming")
    callee.click("#accept-video")
    for page in (caller, callee):
        wait_for_state(page, "in-call")
        assert_media_flows(page, MEDIA)
        wait_for_remote_video(page)


def _wait_connected(page: Page, timeout_ms: int = 30_000) -> None:
    page.wait_for_function("() => window.parley.connected", timeout=timeout_ms)


def test_dropped_socket_resumes_the_session_and_the_call_goes_on(
    server_url: str, open_page: OpenPage
) -> None:
    ana, _ = _person(open_page, server_url, "Ana")
    bo, bo_id = _person(open_page, server_url, "Bo")
    _in_call(ana, bo, bo_id)
    session = ana.evaluate("() => window.parley.sessionId")

    ana.evaluate("() => window.parley.dropSignaling()")
    ana.wait_for_function("() => !window.parley.connected", timeout=5_000)
    # Media does not go through the server: it flows while the page reconnects.
    for page in (ana, bo):
        assert_media_flows(page, MEDIA)
    _wait_connected(ana)
    assert ana.evaluate("() => window.parley.sessionId") == session, "the session was resumed"
    assert ana.evaluate("() => window.parley.callId") is not None
    for page in (ana, bo):
        assert page.evaluate("() => document.body.dataset.state") == "in-call"
        assert_media_flows(page, MEDIA)

    ana.click("#hangup-button")
    assert ended_reason(bo) == "hangup"
    assert ended_reason(ana) == "hangup"
    [row] = history_rows(bo, server_url)
    assert row["end_reason"] == "hangup"


def test_server_restart_keeps_the_call_and_hangup_still_reaches_the_other_side(
    private_network: list[str], open_page: OpenPage, tmp_path: Path
) -> None:
    log = ARTIFACTS / "e2e-restart-server.log"
    with running_server(log_path=log, data_dir=tmp_path) as url:
        port = url.rsplit(":", 1)[1]
        ana, _ = _person(open_page, url, "Ana")
        bo, bo_id = _person(open_page, url, "Bo")
        _in_call(ana, bo, bo_id)
        call_id = ana.evaluate("() => window.parley.callId")
    # The server is gone (SIGTERM: it told both pages to reconnect). The call is not.
    for page in (ana, bo):
        page.wait_for_function("() => !window.parley.connected", timeout=5_000)
        assert page.evaluate("() => document.body.dataset.state") == "in-call"
        assert_media_flows(page, MEDIA)

    with running_server("--port", port, log_path=log.with_suffix(".2.log"), data_dir=tmp_path):
        for page in (ana, bo):
            _wait_connected(page)
        # Each page took the call back under its new session and talks to the other's.
        for me, other in ((ana, bo), (bo, ana)):
            other_session = other.evaluate("() => window.parley.sessionId")
            me.wait_for_function(
                "(peer) => window.parley.peerId === peer", arg=other_session, timeout=15_000
            )
            assert me.evaluate("() => window.parley.callId") == call_id
            assert_media_flows(me, MEDIA)

        ana.click("#hangup-button")
        assert ended_reason(bo) == "hangup"
        assert ended_reason(ana) == "hangup"
        [row] = history_rows(ana, url)
        assert row["id"] == call_id
        assert row["end_reason"] == "hangup"
        assert row["duration_seconds"] is not None and row["duration_seconds"] > 0


# --- a real network outage: two namespaces joined by a veth ------------------------------------

NEAR_ADDRESS = "192.0.2.1"  # TEST-NET-1 (RFC 5737): the server and Ana
FAR_ADDRESS = "192.0.2.2"  # Bo, in a namespace of his own


@contextlib.contextmanager
def far_namespace() -> Iterator[str]:
    """A named namespace reached from this (private) one only through the veth `pnear`."""
    name = "parley-far-" + secrets.token_hex(4)
    run_ip("netns", "add", name)
    try:
        run_ip("link", "add", "pnear", "type", "veth", "peer", "name", "pfar")
        run_ip("link", "set", "pfar", "netns", name)
        without_ipv6("pnear")
        without_ipv6("pfar", name)
        run_ip("addr", "add", f"{NEAR_ADDRESS}/24", "dev", "pnear")
        run_ip("link", "set", "pnear", "up")
        run_ip("-n", name, "addr", "add", f"{FAR_ADDRESS}/24", "dev", "pfar")
        run_ip("-n", name, "link", "set", "pfar", "up")
        run_ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "link", "del", "pnear"], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def _ufrag(page: Page) -> str:
    sdp = page.evaluate("() => window.parley.pc.localDescription.sdp")
    return next(line for line in sdp.splitlines() if line.startswith("a=ice-ufrag:"))


def test_network_outage_recovers_by_ice_restart(
    private_network: list[str],
    playwright: Playwright,
    open_page: OpenPage,
    tmp_path: Path,
) -> None:
    log = ARTIFACTS / "e2e-outage-server.log"
    with (
        far_namespace() as far,
        running_server("--host", "0.0.0.0", log_path=log) as url,
    ):
        port = url.rsplit(":", 1)[1]
        origin = f"http://{NEAR_ADDRESS}:{port}"
        ana, _ = _person(open_page, origin.replace(NEAR_ADDRESS, "127.0.0.1"), "Ana")
        with browser_in(playwright, far, tmp_path, origin) as far_browser:
            context = far_browser.new_context(locale="en-US")
            bo = context.new_page()
            bo_console: list[str] = []
            bo.on("console", lambda message: bo_console.append(f"{message.type}: {message.text}"))
            try:
                bo_id = sign_in(bo, origin, "Bo")
                _in_call(ana, bo, bo_id)
                before = {_ufrag(ana), _ufrag(bo)}

                run_ip("link", "set", "pnear", "down")
                outage_ends = time.monotonic() + OUTAGE_SECONDS
                ana.wait_for_function(
                    "() => document.getElementById('status').textContent.includes('Reconnecting')",
                    timeout=OUTAGE_SECONDS * 1000,
                )
                time.sleep(max(0.0, outage_ends - time.monotonic()))
                assert ana.evaluate("() => document.body.dataset.state") == "in-call"
                run_ip("link", "set", "pnear", "up")

                for page in (ana, bo):
                    page.wait_for_function(
                        "() => ['connected', 'completed'].includes("
                        "window.parley.pc.iceConnectionState)",
                        timeout=60_000,
                    )
                    assert_media_flows(page, MEDIA, within=30)
                restarts = ana.evaluate("() => window.parley.iceRestarts") + bo.evaluate(
                    "() => window.parley.iceRestarts"
                )
                assert restarts > 0, "recovered without an ICE restart"
                assert {_ufrag(ana), _ufrag(bo)}.isdisjoint(before), "new ICE credentials"

                ana.click("#hangup-button")
                assert ended_reason(bo) == "hangup"
                [row] = history_rows(ana, origin.replace(NEAR_ADDRESS, "127.0.0.1"))
                assert row["end_reason"] == "hangup"
            finally:
                (ARTIFACTS / "outage-far-page.console.log").write_text("\n".join(bo_console))
                bo.screenshot(path=str(ARTIFACTS / "outage-far-page.png"))
                context.close()
