"""Calls through a real coturn, in namespaces this test makes: relay-only media, the ICE tester
page, and `parley ice-test` from the command line."""

import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page

from tests.e2e.helpers import assert_media_flows, wait_for_remote_video, wait_for_state
from tests.e2e.networks import selected_pair
from tests.e2e.phone import call, ended_reason, latest_call_with_quality, sign_in
from tests.e2e.recorded_pages import ARTIFACTS
from tests.parley_server import running_server
from tests.turn.topology import TurnServer, coturn_namespace

pytestmark = pytest.mark.e2e

OpenPage = Callable[..., Page]


@pytest.fixture(scope="module")
def coturn(private_network: list[str]) -> Iterator[TurnServer]:
    ARTIFACTS.mkdir(exist_ok=True)
    with coturn_namespace(secrets.token_hex(16), log_path=ARTIFACTS / "coturn.log") as server:
        yield server


@pytest.fixture(scope="module")
def relay_only_url(coturn: TurnServer) -> Iterator[str]:
    log = ARTIFACTS / "e2e-relay-server.log"
    args = ("--turn", coturn.url, "--turn-secret", coturn.secret, "--relay-only")
    with running_server(*args, log_path=log) as url:
        yield url


@pytest.fixture(scope="module")
def refused_relay_url(coturn: TurnServer) -> Iterator[str]:
    """Relay only, with a secret coturn does not share: every TURN allocation gets a 401."""
    log = ARTIFACTS / "e2e-refused-relay-server.log"
    args = ("--turn", coturn.url, "--turn-secret", "not-" + coturn.secret, "--relay-only")
    with running_server(*args, log_path=log) as url:
        yield url


@pytest.fixture(scope="module")
def unreachable_relay_url(coturn: TurnServer) -> Iterator[str]:
    """Relay only, with a TURN server where nothing answers (coturn's address, another port)."""
    log = ARTIFACTS / "e2e-unreachable-relay-server.log"
    nowhere = f"turn:{coturn.host}:{coturn.port + 1}?transport=udp"
    with running_server(
        "--turn", nowhere, "--turn-secret", coturn.secret, "--relay-only", log_path=log
    ) as url:
        yield url


def test_relay_only_call_carries_media_both_ways_through_coturn(
    relay_only_url: str, open_page: OpenPage, room_name: str, coturn: TurnServer
) -> None:
    url = f"{relay_only_url}/r/{room_name}?autojoin=1"
    pages = [open_page(url), open_page(url)]
    for page in pages:
        wait_for_state(page, "in-call", timeout_ms=30_000)
        assert_media_flows(page, ("audio", "video"))
        wait_for_remote_video(page)
    for page in pages:
        pair = selected_pair(page)
        assert (pair["local"], pair["remote"], pair["policy"]) == ("relay", "relay", "relay"), pair
    coturn.assert_running()


def test_ice_test_page_shows_a_relay_candidate_from_coturn(
    relay_only_url: str, open_page: OpenPage, coturn: TurnServer
) -> None:
    page = open_page(f"{relay_only_url}/ice-test")
    page.click("#gather")
    wait_for_state(page, "done", timeout_ms=30_000)
    relay_rows = page.locator('#candidates tbody tr[data-type="relay"]')
    assert relay_rows.count() >= 1
    assert coturn.relay_address in relay_rows.first.inner_text()
    verdicts = page.locator("#verdicts li").evaluate_all(
        "items => items.map(i => i.dataset.verdict)"
    )
    assert "ice.turnRejected" not in verdicts and "ice.turnUnreachable" not in verdicts, verdicts


def test_ice_test_page_says_when_turn_credentials_are_rejected(
    relay_only_url: str, open_page: OpenPage, coturn: TurnServer
) -> None:
    page = open_page(f"{relay_only_url}/ice-test")
    page.check('input[name="source"][value="custom"]')
    page.fill("#ice-url", coturn.url)
    page.fill("#ice-username", "4102444800:mallory")
    page.fill("#ice-credential", "not-the-password")
    page.click("#gather")
    wait_for_state(page, "done", timeout_ms=30_000)
    assert page.locator('#candidates tbody tr[data-type="relay"]').count() == 0
    rejected = page.locator('#verdicts li[data-verdict="ice.turnRejected"]')
    assert rejected.count() == 1
    assert "TURN credentials rejected" in rejected.inner_text()


def _ice_test_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parley", "ice-test", "--step-seconds", "5", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )


def test_parley_ice_test_finds_host_and_relay_and_names_a_wrong_secret(coturn: TurnServer) -> None:
    good = _ice_test_cli("--turn", coturn.url, "--turn-secret", coturn.secret)
    assert good.returncode == 0, good.stdout + good.stderr
    rows = [line for line in good.stdout.splitlines() if "│" in line]
    assert any("relay" in row and coturn.relay_address in row for row in rows), good.stdout
    assert any("host" in row and coturn.caller_address in row for row in rows), good.stdout

    bad = _ice_test_cli("--turn", coturn.url, "--turn-secret", "wrong-" + coturn.secret)
    assert bad.returncode == 1
    assert "TURN credentials rejected" in bad.stdout
    assert not any("relay" in line for line in bad.stdout.splitlines() if "│" in line)


# The media watchdog gives up after 30 s without media (sdk/media-watch.js), then both hear it.
GIVE_UP_MS = 30_000


def test_turn_refusing_the_credentials_is_said_in_plain_words_and_the_call_ends_as_media_failed(
    refused_relay_url: str, open_page: OpenPage
) -> None:
    ana, bo = open_page(refused_relay_url + "/"), open_page(refused_relay_url + "/", "zh-CN")
    sign_in(ana, refused_relay_url, "Ana")
    bo_id = sign_in(bo, refused_relay_url, "Bo")
    call(ana, bo_id)
    wait_for_state(bo, "incoming")
    bo.click("#accept-video")
    # Each side says why nothing gets through, in its language, with the connection test.
    for page, words in ((ana, "refused this call's credentials"), (bo, "拒绝了本次通话的凭据")):
        trouble = page.locator(".trouble")
        trouble.wait_for(state="visible", timeout=20_000)
        assert trouble.get_attribute("data-trouble") == "turn-refused"
        assert words in trouble.inner_text()
        assert page.locator(".trouble-link").get_attribute("href") == "/ice-test"
    # Then the call ends, on both sides, as what it is: no media, not a hang-up.
    for page in (ana, bo):
        wait_for_state(page, "ended", timeout_ms=GIVE_UP_MS + 20_000)
        assert ended_reason(page) == "media-failed"
    assert "no sound or picture got through" in ana.locator("#ended-text").inner_text()
    # Each side's history keeps the cause with its quality report, and says it in plain words.
    for page, words in (
        (ana, "the relay server (TURN) refused the call's credentials"),
        (bo, "中继服务器（TURN）拒绝了本次通话的凭据"),
    ):
        latest = latest_call_with_quality(page, refused_relay_url)
        assert latest["end_reason"] == "media-failed", latest
        assert latest["quality"]["trouble"] == "turn-refused", latest
        page.click("#ended-ok")
        page.click("#tab-history")
        said = page.locator("#history-list li").first.locator(".history-trouble")
        said.wait_for()
        assert words in said.inner_text()


def test_a_turn_server_that_cannot_be_reached_is_said_so_with_the_connection_test(
    unreachable_relay_url: str, open_page: OpenPage
) -> None:
    ana, bo = open_page(unreachable_relay_url + "/"), open_page(unreachable_relay_url + "/")
    sign_in(ana, unreachable_relay_url, "Ana")
    call(ana, sign_in(bo, unreachable_relay_url, "Bo"))
    wait_for_state(bo, "incoming")
    bo.click("#accept-voice")
    for page in (ana, bo):
        trouble = page.locator(".trouble")
        trouble.wait_for(state="visible", timeout=20_000)
        assert trouble.get_attribute("data-trouble") == "turn-unreachable"
        assert "relay server (TURN) cannot be reached" in trouble.inner_text()
        assert page.locator(".trouble-link").is_visible()
    ana.click("#hangup-button")
    assert ended_reason(bo) == "hangup"
    # Hung up by a person, yet each side's report keeps what stopped the media.
    for page in (ana, bo):
        latest = latest_call_with_quality(page, unreachable_relay_url)
        assert latest["end_reason"] == "hangup", latest
        assert latest["quality"]["trouble"] == "turn-unreachable", latest
