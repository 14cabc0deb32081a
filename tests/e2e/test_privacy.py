"""After real calls, neither the logs nor the database hold SDP, ICE candidates or IP addresses."""

import ipaddress
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.e2e.helpers import assert_media_flows, wait_for_state
from tests.e2e.phone import call, ended_reason, sign_in
from tests.e2e.recorded_pages import ARTIFACTS
from tests.parley_server import running_server

pytestmark = pytest.mark.e2e

SDP_OR_CANDIDATE = re.compile(
    rb"a=candidate|candidate:\d|v=0\r?\n|a=fingerprint|a=ice-ufrag|m=audio"
)
ADDRESS_LIKE = re.compile(rb"[0-9a-fA-F:.]{3,}")


def addresses_in(blob: bytes) -> list[str]:
    """Every token that parses as an IP address (timestamps and versions do not)."""
    found = []
    for token in ADDRESS_LIKE.findall(blob):
        text = token.decode().strip(".:")
        if "." not in text and ":" not in text:
            continue
        try:
            ipaddress.ip_address(text)
        except ValueError:
            continue
        found.append(text)
    return found


@pytest.fixture(scope="module")
def watched_server(private_network: list[str]) -> Iterator[tuple[str, Path, Path]]:
    log = ARTIFACTS / "e2e-privacy-server.log"
    with (
        tempfile.TemporaryDirectory(prefix="parley-privacy-") as data,
        running_server("--log-level", "debug", log_path=log, data_dir=Path(data)) as url,
    ):
        yield url, log, Path(data)


def test_no_sdp_candidates_or_addresses_in_logs_or_database(
    watched_server: tuple[str, Path, Path], open_page: Callable[..., Page], room_name: str
) -> None:
    url, log, data = watched_server
    rooms = [open_page(f"{url}/r/{room_name}?autojoin=1") for _ in range(2)]
    for page in rooms:
        wait_for_state(page, "in-call", timeout_ms=30_000)
        assert_media_flows(page, ("audio", "video"))
    rooms[0].click("#hangup-button")
    wait_for_state(rooms[1], "ended")

    ana, bo = open_page("about:blank"), open_page("about:blank")
    sign_in(ana, url, "Ana")
    bo_id = sign_in(bo, url, "Bo")
    call(ana, bo_id)
    wait_for_state(bo, "incoming")
    bo.click("#accept-video")
    wait_for_state(ana, "in-call", timeout_ms=30_000)
    assert_media_flows(ana, ("audio", "video"))
    ana.click("#hangup-button")
    assert ended_reason(bo) == "hangup"

    logged = log.read_bytes()
    assert b"DEBUG" in logged, "the log was written (the check can fail)"
    assert addresses_in(b"peer 198.51.100.7 and 2001:db8::1 at 07:51:05") == [
        "198.51.100.7",
        "2001:db8::1",
    ], "the detector finds addresses and skips times"
    stored = b"".join(p.read_bytes() for p in data.glob("parley.db*"))
    assert b"Ana" in stored and b"Bo" in stored, "the call history was written"
    for name, blob in (("log", logged), ("database", stored)):
        assert not SDP_OR_CANDIDATE.search(blob), f"SDP or a candidate in the {name}"
        assert addresses_in(blob) == [], f"IP addresses in the {name}"
