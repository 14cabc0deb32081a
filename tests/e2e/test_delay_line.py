"""The delay line that stands in for netem (tests/e2e/delay_line.py, wired by
tests/e2e/networks.py): a UDP round trip from a home to a far end on the internet takes the
delay asked for while it is on, and a LAN's fraction of a millisecond before and after.

    this (private) namespace: "the internet", forwarding     parley-far-<id>
    192.0.2.1/28 ── home 0 (router, host)       192.0.2.33/28 ── veth ── 192.0.2.34: UDP echo
"""

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from tests.e2e.delay_line import HELD_PACKETS, DelayLine
from tests.e2e.networks import DELAY_TABLE, Home, Router, delayed_from, forwarding, home
from tests.turn.topology import named_namespace, run_in_netns, run_ip, run_ip_quietly

pytestmark = pytest.mark.e2e

DELAY_MS = 200  # what the lossy-link test asks for (issue 26: 200 ms RTT)
OTHER_DELAY_MS = 100  # not 200: the figure measured is the one asked for, not a fixed one
# Nothing in these namespaces is slower than a LAN: a round trip takes ~0.1 ms idle, and has
# taken up to ~20 ms on a 2-core machine busy with other browsers.
UNDELAYED_MS = 50.0
PROBES = 5  # the fastest of these counts: a delay line can be late, never early
PROBE_TIMEOUT_SECONDS = 2.0
ECHO_SECONDS = 60.0  # the echo ends by itself even if a test forgets it
FAR_END = "192.0.2.34"
ECHO_PORT = 7


@contextlib.contextmanager
def far_end() -> Iterator[tuple[str, int]]:
    """A namespace on the internet's side, linked to this one, echoing UDP; its address."""
    with forwarding(None), named_namespace("parley-far") as namespace:
        run_ip("link", "add", "far0", "type", "veth", "peer", "name", "far1", "netns", namespace)
        try:
            run_ip("addr", "add", "192.0.2.33/28", "dev", "far0")
            run_ip("link", "set", "far0", "up")
            run_ip("-n", namespace, "addr", "add", f"{FAR_END}/28", "dev", "far1")
            run_ip("-n", namespace, "link", "set", "far1", "up")
            run_ip("-n", namespace, "route", "add", "default", "via", "192.0.2.33")
            echo = run_in_netns(namespace, lambda: _udp_socket((FAR_END, ECHO_PORT)))
            with _echoing(echo):
                yield FAR_END, ECHO_PORT
        finally:
            run_ip_quietly("link", "del", "far0")


def _udp_socket(bound_to: tuple[str, int]) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(bound_to)
    return sock


@contextlib.contextmanager
def _echoing(sock: socket.socket) -> Iterator[None]:
    """Sends back every datagram `sock` gets, on a thread, until the block ends."""
    stop = threading.Event()
    sock.settimeout(0.1)

    def serve() -> None:
        end = time.monotonic() + ECHO_SECONDS
        while not stop.is_set() and time.monotonic() < end:
            with contextlib.suppress(TimeoutError):
                data, sender = sock.recvfrom(2048)
                sock.sendto(data, sender)

    thread = threading.Thread(target=serve, name="udp-echo", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=1.0)
        sock.close()


def fastest_round_trip_ms(place: Home, target: tuple[str, int]) -> float:
    """The fastest of a few UDP round trips from the home's browser namespace to `target`."""
    sock = run_in_netns(place.host, lambda: _udp_socket(("0.0.0.0", 0)))
    sock.settimeout(PROBE_TIMEOUT_SECONDS)
    times = []
    with sock:
        for number in range(PROBES):
            sent = time.monotonic()
            sock.sendto(str(number).encode(), target)
            while sock.recv(64) != str(number).encode():  # a late echo of an earlier probe
                pass
            times.append((time.monotonic() - sent) * 1000)
    print(f"round trips from {place.host} to {target[0]}: {[f'{t:.1f}' for t in times]} ms")
    return min(times)


@pytest.fixture
def first_home(private_network: list[str]) -> Iterator[Home]:
    with home(0, Router()) as place:
        yield place


def test_a_router_with_delay_adds_it_to_the_round_trip_and_takes_it_away_again(
    first_home: Home,
) -> None:
    with far_end() as target:
        assert fastest_round_trip_ms(first_home, target) < UNDELAYED_MS
        first_home.set_router(Router(delay_ms=DELAY_MS))
        delayed = fastest_round_trip_ms(first_home, target)
        assert DELAY_MS <= delayed < DELAY_MS + UNDELAYED_MS
        first_home.set_router(Router())
        assert fastest_round_trip_ms(first_home, target) < UNDELAYED_MS


def _rules_and_devices() -> str:
    """This namespace's policy rules and interfaces, as `ip` lists them."""
    listings = [["ip", "rule", "show"], ["ip", "-o", "link", "show"]]
    return "\n".join(
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=10).stdout
        for command in listings
    )


def test_the_delay_line_carries_every_packet_and_leaves_nothing_behind(
    first_home: Home,
) -> None:
    before = _rules_and_devices()
    with (
        far_end() as target,
        delayed_from(first_home.internet_side, OTHER_DELAY_MS, DELAY_TABLE) as line,
    ):
        assert f"lookup {DELAY_TABLE}" in _rules_and_devices()
        assert line.device in _rules_and_devices()
        delayed = fastest_round_trip_ms(first_home, target)
        assert OTHER_DELAY_MS <= delayed < OTHER_DELAY_MS + UNDELAYED_MS
    # Each probe went through the line once (its echo comes back the short way).
    assert line.last_words == f"carried {PROBES} dropped 0", line.last_words
    assert _rules_and_devices() == before


def test_the_line_keeps_order_holds_each_packet_its_time_and_drops_past_its_bound() -> None:
    line = DelayLine(delay=0.2)
    for number in range(3):
        line.take(bytes([number]), now=10.0 + number * 0.05)
    assert line.due(10.1905) == []
    assert line.wait_ms(10.1905) == 10  # 9.5 ms to go, rounded up: the packet is due on waking
    assert line.due(10.25) == [b"\x00", b"\x01"]
    assert line.everything() == [b"\x02"] and line.due(99.0) == []
    for _ in range(HELD_PACKETS + 1):
        line.take(b"x", now=0.0)
    assert line.dropped == 1 and len(line.held) == HELD_PACKETS
