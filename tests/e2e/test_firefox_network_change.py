"""A link cut and restored mid-call with Firefox in it (issue 26): media flows again both ways,
in direct calls (Chromium calling Firefox, Firefox calling Chromium, Firefox calling Firefox)
and in a room call of Chromium and Firefox.

Firefox's only path is the veth `pv0`, which holds the default route (the `firefox` fixture).
The cut takes the link down and its address with it, as a lost Wi-Fi takes its lease: a link
merely down cuts nothing here, since its address stays local to the namespace. The link comes
back with the same address, or with another one (another network, which needs an ICE restart:
Firefox has no candidate on it yet), and the default route. Signaling stays on loopback: only
media is cut. Chromium's own loopback path is left up; it just has nothing to reach.

With Firefox in the call the Firefox side restarts ICE (peer-call.js), and only once it has a
network again: a restart with none gathers nothing, the next one fails Firefox's ICE, and a
failed ICE takes Firefox's DTLS down for good (it never sends again on that connection). The
Chromium side waits for it, however long the outage: a restart Chromium starts toward Firefox
leaves Firefox receiving nothing, or is refused ("Failed to set SSL role") when Firefox made
the first offer. One outage is held long enough for Chromium's fallback to have restarted.
"""

import time
from collections.abc import Iterator
from typing import Literal

import pytest

from tests.e2e.conftest import FIREFOX_ADDRESSES, Engine, Open, room_of_two
from tests.e2e.firefox import Firefox
from tests.e2e.helpers import (
    ICE_UFRAG,
    BrowserPage,
    assert_video_both_ways,
    seconds_until_media_flows_both_ways,
)
from tests.e2e.phone import in_call, sign_in
from tests.turn.topology import run_ip, run_ip_quietly

pytestmark = pytest.mark.e2e

FIREFOX_ADDRESS, GATEWAY = FIREFOX_ADDRESSES
NEW_ADDRESS = "198.51.100.42"  # TEST-NET-2 (RFC 5737): the other network the link comes back on
Link = Literal["same-address", "new-address"]
# Bounds: ICE noticing the cut (Chromium takes about 8 s), media flowing again after the link is
# back (it took 2 to 7 s), and each sample of the media counters while waiting for it.
NOTICE_SECONDS = 15.0
RECOVER_SECONDS = 45.0
SAMPLE_SECONDS = 1.0
# Held after both sides see ICE down: longer than the 6 s after which the side that is not the
# restarter would restart in its stead (peer-call.js), which it must not do toward Firefox.
LONG_OUTAGE_EXTRA_SECONDS = 10.0

_ICE_DOWN = "() => !['connected', 'completed'].includes(window.parley.pc.iceConnectionState)"
_RESTARTS = "() => window.parley.iceRestarts"


@pytest.fixture
def veth(firefox: Firefox) -> Iterator[None]:
    """Leaves `pv0` as the `firefox` fixture made it, whatever the test did to it."""
    yield
    run_ip_quietly("addr", "flush", "dev", "pv0")
    run_ip_quietly("addr", "add", f"{FIREFOX_ADDRESS}/24", "dev", "pv0")
    run_ip_quietly("link", "set", "pv0", "up")
    run_ip_quietly("route", "replace", "default", "via", GATEWAY, "dev", "pv0")


def _cut() -> None:
    run_ip("link", "set", "pv0", "down")
    run_ip("addr", "flush", "dev", "pv0")


def _restore(address: str) -> None:
    run_ip("addr", "add", f"{address}/24", "dev", "pv0")
    run_ip("link", "set", "pv0", "up")
    run_ip("route", "replace", "default", "via", GATEWAY, "dev", "pv0")  # it went with the link


def _cut_and_restore(
    pages: tuple[BrowserPage, BrowserPage],
    engines: tuple[Engine, Engine],
    link_back: Link,
    extra_outage: float = 0.0,
) -> None:
    """Cuts the link mid-call until both pages see ICE down (and `extra_outage` seconds more),
    brings it back, and checks that media flows both ways again, restarted by the Firefox side
    if by anyone."""
    ufrags = [page.evaluate(ICE_UFRAG) for page in pages]
    restarts = [page.evaluate(_RESTARTS) for page in pages]
    cut_at = time.monotonic()
    _cut()
    for page in pages:
        page.wait_for_function(_ICE_DOWN, timeout=NOTICE_SECONDS * 1000)
    noticed = time.monotonic() - cut_at
    time.sleep(extra_outage)
    _restore(NEW_ADDRESS if link_back == "new-address" else FIREFOX_ADDRESS)

    back = seconds_until_media_flows_both_ways(pages, RECOVER_SECONDS, SAMPLE_SECONDS)
    label = f"{'->'.join(engines)}, link back with the {link_back.replace('-', ' ')}"
    assert_video_both_ways(*pages, label)
    for page in pages:
        assert page.evaluate("() => document.body.dataset.state") == "in-call"
    restarted = [page.evaluate(_RESTARTS) - n for page, n in zip(pages, restarts, strict=True)]
    renewed = [page.evaluate(ICE_UFRAG) != u for page, u in zip(pages, ufrags, strict=True)]
    print(
        f"{label}: ICE down on both sides {noticed:.1f} s after the cut, link back after "
        f"{noticed + extra_outage:.1f} s; media back both ways "
        f"{back:.1f} s after the link; ICE restarts {restarted}; new credentials {renewed}"
    )
    if link_back == "new-address":
        assert all(renewed), "Firefox's old address is gone: only an ICE restart reaches the new"
    if "chromium" in engines:
        # A restart Chromium starts toward Firefox leaves Firefox receiving nothing.
        chromium = engines.index("chromium")
        assert restarted[chromium] == 0, f"Chromium restarted ICE toward Firefox: {restarted}"


@pytest.mark.parametrize(
    ("caller_engine", "callee_engine", "link_back", "extra_outage"),
    [
        ("chromium", "firefox", "new-address", 0.0),
        ("firefox", "chromium", "new-address", LONG_OUTAGE_EXTRA_SECONDS),
        ("firefox", "firefox", "new-address", 0.0),
    ],
    ids=["chromium-firefox", "firefox-chromium-long-outage", "firefox-firefox"],
)
def test_direct_call_carries_media_both_ways_again_after_a_link_cut(
    server_url: str,
    open_in: Open,
    veth: None,
    caller_engine: Engine,
    callee_engine: Engine,
    link_back: Link,
    extra_outage: float,
) -> None:
    ana = open_in(caller_engine, "about:blank")
    sign_in(ana, server_url, "Ana")
    bo = open_in(callee_engine, "about:blank")
    sign_in(bo, server_url, "Bo")
    in_call(ana, bo)
    _cut_and_restore((ana, bo), (caller_engine, callee_engine), link_back, extra_outage)


# One order is enough: in a room the session ids, not the order of joining, decide which side
# offers first; the direct calls above have each engine offer first.
@pytest.mark.parametrize(
    ("first_engine", "second_engine", "link_back"),
    [("chromium", "firefox", "same-address")],
    ids=["chromium-firefox-same-address"],
)
def test_room_call_carries_media_both_ways_again_after_a_link_cut(
    server_url: str,
    open_in: Open,
    veth: None,
    room_name: str,
    first_engine: Engine,
    second_engine: Engine,
    link_back: Link,
) -> None:
    url = f"{server_url}/r/{room_name}?autojoin=1"
    first, second = room_of_two(open_in, url, first_engine, second_engine)
    _cut_and_restore((first, second), (first_engine, second_engine), link_back)
