"""Browsers on networks of their own: Chromium started inside a named namespace, and homes
behind real NAT routers on a small internet, all made by the test.

    this (private) namespace: "the internet"          parley-turn-<id>
    Parley on 192.0.2.1 ─┬─ forwards between ──────── coturn 198.51.100.1 (UDP/TCP 3478,
                         │  its links                  TLS 443), routed back to 192.0.2.0/24
        192.0.2.1/28  ───┤                 192.0.2.17/28 ───┐
               │ veth                             │ veth
        parley-router-a (NAT, firewall)     parley-router-b
        WAN 192.0.2.2, LAN 192.0.2.65/27    WAN 192.0.2.18, LAN 192.0.2.97/27
               │ veth                             │ veth
        parley-home-a: Chromium 192.0.2.66  parley-home-b: Chromium 192.0.2.98

Every address is TEST-NET-1 (RFC 5737). The homes' LANs are never routed on the internet side:
a peer reaches the other only through the NATs (or the relay), as across real homes. Each router
is nftables: `masquerade` is a port-preserving NAT whose mapping does not depend on the far end
(two of them punch through to each other: srflx), `masquerade fully-random` picks a new port for
each far end (symmetric: only the relay gets through); a firewall may drop UDP, or everything but
chosen TCP ports.

A bad link loses packets (nftables' random numbers, in the router), is slow (a `tbf` token bucket
on the router's outside interface) and is far away. This kernel has no `netem` (nor `fq`), so the
distance is a delay line in userspace (tests/e2e/delay_line.py) on a TUN device in this
namespace, where nothing is NATed: policy routing sends what arrives from the home's link into
the device, the delay line writes each packet back `delay_ms` later, and the kernel forwards it
on by the main table (the rule matches only what comes in from the home). Only the way out of the
home is delayed, so every forwarded path through it (to the other home, to coturn) gains
`delay_ms` of round trip; what the home sends to Parley itself is delivered here, decided by the
kernel's local table before any rule of ours, and is not delayed.
"""

import contextlib
import secrets
import select
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS
from tests.netns import without_ipv6
from tests.turn.topology import (
    CALLER_ADDRESS,
    TopologyError,
    named_namespace,
    run_ip,
    run_ip_quietly,
)

# The selected candidate pair, from this side: each end's candidate type, how this side reaches
# its relay when it uses one (udp, tcp or tls), the far end's address, and the ICE policy.
_SELECTED_PAIR = """async () => {
  const pc = window.parley.pc, stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) {
      pair = stats.get(s.selectedCandidatePairId);
    }
  });
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId), remote = stats.get(pair.remoteCandidateId);
  return { local: local.candidateType, remote: remote.candidateType,
           relayProtocol: local.relayProtocol ?? null, remoteAddress: remote.address,
           policy: pc.getConfiguration().iceTransportPolicy };
}"""
INTERNET = "192.0.2.1"  # where Parley listens, on the first home's link
DOCUMENTATION_NET = "192.0.2.0/24"
COMMAND_SECONDS = 10
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # where `python -m tests.e2e...` resolves
# A Python start takes ~0.1 s; a machine busy with two Chromiums has taken seconds.
DELAY_LINE_START_SECONDS = 10.0
DELAY_LINE_STOP_SECONDS = 5.0  # it stops within 0.2 s of SIGTERM (its idle poll)
# Longer than any one test may run (pytest's timeout is 180 s): a delay line left behind by a
# killed run ends by itself.
DELAY_LINE_SECONDS = 600.0
DELAY_TABLE = 100  # policy routing tables 100, 101: one per home


@contextlib.contextmanager
def browser_in(
    playwright: Playwright, namespace: str, tmp_path: Path, origin: str, *flags: str
) -> Iterator[Browser]:
    """Chromium started inside `namespace` (Playwright talks to it over a pipe, not the net),
    with `flags` besides the usual ones."""
    launcher = tmp_path / f"chromium-in-{namespace}"
    launcher.write_text(f'#!/bin/sh\nexec ip netns exec {namespace} {CHROMIUM} "$@"\n')
    launcher.chmod(0o755)
    browser = playwright.chromium.launch(
        executable_path=str(launcher),
        # The page is served over plain http from a non-loopback address.
        args=[*CHROMIUM_FLAGS, f"--unsafely-treat-insecure-origin-as-secure={origin}", *flags],
    )
    try:
        yield browser
    finally:
        browser.close()


def selected_pair(page: Page) -> dict[str, str | None]:
    pair = page.evaluate(_SELECTED_PAIR)
    assert pair is not None, "no candidate pair is selected"
    return dict(pair)


@dataclass(frozen=True)
class Router:
    """What a home's router does to what leaves it."""

    symmetric: bool = False  # a new outside port for each far end
    block_udp: bool = False
    # When set, only these TCP destination ports get out (a firewall that lets the web through).
    tcp_ports: tuple[int, ...] | None = None
    # A bad link: this share of packets lost on the way out and in (nftables' random numbers),
    # the rate out capped (a token bucket), and this much round trip added to every path through
    # the home (a delay line on what leaves it: this kernel has no netem).
    loss_percent: int = 0
    rate_kbit: int = 0
    delay_ms: int = 0
    # Media dropped but ICE's own checks let through (a STUN packet carries the magic cookie
    # 0x2112A442 at bytes 4-7 of the UDP payload): the path looks alive to ICE, and is dead.
    drop_media: bool = False

    def ruleset(self, wan: str) -> str:
        nat = "masquerade fully-random" if self.symmetric else "masquerade"
        forward = ["ct state established,related accept"]
        if self.block_udp or self.tcp_ports is not None:
            forward.append("meta l4proto udp drop")
        if self.tcp_ports is not None:
            ports = ", ".join(map(str, self.tcp_ports))
            forward += [f"tcp dport {{ {ports} }} accept", "meta l4proto tcp drop"]
        if self.drop_media:
            forward.insert(0, "meta l4proto udp @th,96,32 != 0x2112a442 drop")
        if self.loss_percent:
            # Both ways: the rule sits before the state check, so replies are lost too.
            forward.insert(0, f"numgen random mod 100 < {self.loss_percent} drop")
        return "\n".join(
            [
                "table ip home {",
                "  chain postrouting { type nat hook postrouting priority srcnat;",
                f'    oifname "{wan}" {nat}',
                "  }",
                # What no one inside asked for is dropped silently, as home routers do; were it
                # taken in (to no listener), its conntrack entry would take the outside port a
                # hole punched from inside needs, and the NAT would map that flow elsewhere.
                "  chain input { type filter hook input priority filter;",
                f'    iifname "{wan}" ct state new drop',
                "  }",
                "  chain forward { type filter hook forward priority filter; policy accept;",
                *(f"    {rule}" for rule in forward),
                "  }",
                "}",
            ]
        )


@dataclass
class DelayLineRun:
    """One delay line while it runs; what it said as it ended, once it has."""

    device: str
    last_words: str = ""


@contextlib.contextmanager
def delayed_from(interface: str, delay_ms: int, table: int) -> Iterator[DelayLineRun]:
    """Everything that comes in on `interface` (of this namespace) and is forwarded is held
    `delay_ms` first, by a delay line on a TUN device of its own; as before on exit."""
    run = DelayLineRun(f"dly{secrets.token_hex(3)}")
    with contextlib.ExitStack() as stack:
        line = stack.enter_context(_delay_line(run, delay_ms))
        # Else the kernel's own IPv6 chatter on a new link (router solicitations, MLD) goes
        # round the line too: only what is routed in should.
        without_ipv6(run.device)
        run_ip("link", "set", run.device, "up")
        # A packet written into the device comes in *on* it, from an address routed out of
        # `interface`: strict reverse-path filtering would drop it (the larger of `all` and
        # the device's own setting counts, so both).
        stack.enter_context(_sysctl("net/ipv4/conf/all/rp_filter", "0"))
        _sysctl_set(f"net/ipv4/conf/{run.device}/rp_filter", "0")
        run_ip("route", "add", "default", "dev", run.device, "table", str(table))
        stack.callback(run_ip_quietly, "route", "flush", "table", str(table))
        run_ip("rule", "add", "iif", interface, "lookup", str(table), "pref", str(table))
        # First to go, so what comes next takes the short way while the line empties.
        stack.callback(run_ip_quietly, "rule", "del", "pref", str(table))
        yield line


@contextlib.contextmanager
def _delay_line(run: DelayLineRun, delay_ms: int) -> Iterator[DelayLineRun]:
    """tests/e2e/delay_line.py in a process of its own (so in this namespace), once it says
    its device is there; stopped (SIGTERM, then SIGKILL) on exit."""
    command = [
        sys.executable, "-m", "tests.e2e.delay_line", "--device", run.device,
        "--delay-ms", str(delay_ms), "--seconds", str(DELAY_LINE_SECONDS),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], DELAY_LINE_START_SECONDS)
        if not ready or process.stdout.readline().strip() != "ready":
            _stop(process, run)
            raise TopologyError(f"the delay line did not start: {run.last_words}")
        yield run
    finally:
        if process.returncode is None:
            _stop(process, run)


def _stop(process: subprocess.Popen[str], run: DelayLineRun) -> None:
    process.terminate()
    try:
        out, err = process.communicate(timeout=DELAY_LINE_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    run.last_words = (out + err).strip()


def _sysctl_set(key: str, value: str) -> None:
    Path("/proc/sys", key).write_text(value, encoding="ascii")


@contextlib.contextmanager
def _sysctl(key: str, value: str) -> Iterator[None]:
    """`key` set to `value` in this namespace for the block, then as it was."""
    path = Path("/proc/sys", key)
    before = path.read_text(encoding="ascii").strip()
    path.write_text(value, encoding="ascii")
    try:
        yield
    finally:
        path.write_text(before, encoding="ascii")


class _DelaySwitch:
    """The delay on one home's way out: on, off, or changed while calls go on."""

    def __init__(self, interface: str, table: int) -> None:
        self.interface, self.table = interface, table
        self.delay_ms = 0
        self.stack = contextlib.ExitStack()

    def set(self, delay_ms: int) -> None:
        if delay_ms == self.delay_ms:
            return
        self.close()
        if delay_ms:
            self.stack.enter_context(delayed_from(self.interface, delay_ms, self.table))
            self.delay_ms = delay_ms

    def close(self) -> None:
        self.delay_ms = 0
        self.stack.close()


@dataclass(frozen=True)
class Home:
    host: str  # the namespace its browser runs in
    router: str
    public_address: str  # the router's outside address: what the internet sees
    lan_address: str  # the browser's own address
    wan: str  # the router's outside interface
    internet_side: str  # the other end of that link, in this namespace
    delay: _DelaySwitch

    def set_router(self, router: Router) -> None:
        """Replaces the router's rules (and link shaping, and delay) while calls go on."""
        _in(self.router, "nft", "flush", "ruleset")
        _in(self.router, "nft", "-f", "-", stdin=router.ruleset(self.wan))
        _in(self.router, "tc", "qdisc", "replace", "dev", self.wan, "root", "pfifo")
        if router.rate_kbit:
            shape = f"tbf rate {router.rate_kbit}kbit burst 16kb latency 200ms"
            _in(self.router, "tc", "qdisc", "replace", "dev", self.wan, "root", *shape.split())
        # The delay is one way, on what leaves the home: the whole of `delay_ms` is added to
        # every round trip through it.
        self.delay.set(router.delay_ms)


def _in(namespace: str, *command: str, stdin: str | None = None) -> None:
    try:
        subprocess.run(
            ["ip", "netns", "exec", namespace, *command],
            input=stdin,
            check=True,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
        )
    except subprocess.CalledProcessError as exc:
        raise TopologyError(f"`{' '.join(command)}` in {namespace}: {exc.stderr.strip()}") from exc


@contextlib.contextmanager
def forwarding(namespace: str | None) -> Iterator[None]:
    """IPv4 forwarding on in `namespace`, or in this one (None) for the block only."""
    if namespace is not None:
        _in(namespace, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
        yield
        return
    with _sysctl("net/ipv4/ip_forward", "1"):
        yield


@contextlib.contextmanager
def home(index: int, router: Router) -> Iterator[Home]:
    """Home `index` (0 or 1) behind `router`, linked to this namespace; removed on exit."""
    base = 16 * index  # the /28 of the WAN link
    lan = 64 + 32 * index  # the /27 of the LAN
    with contextlib.ExitStack() as stack:
        router_ns = stack.enter_context(named_namespace(f"parley-router-{'ab'[index]}"))
        host_ns = stack.enter_context(named_namespace(f"parley-home-{'ab'[index]}"))
        tag = secrets.token_hex(3)
        wan_here, wan, lan_router, lan_host = (f"w{tag}i", f"w{tag}r", f"l{tag}r", f"l{tag}h")
        run_ip("link", "add", wan_here, "type", "veth", "peer", "name", wan, "netns", router_ns)
        stack.callback(run_ip_quietly, "link", "del", wan_here)
        without_ipv6(wan_here)
        without_ipv6(wan, router_ns)
        run_ip("addr", "add", f"192.0.2.{base + 1}/28", "dev", wan_here)
        run_ip("link", "set", wan_here, "up")
        run_ip("-n", router_ns, "addr", "add", f"192.0.2.{base + 2}/28", "dev", wan)
        run_ip("-n", router_ns, "link", "set", wan, "up")
        run_ip("-n", router_ns, "route", "add", "default", "via", f"192.0.2.{base + 1}")
        run_ip(
            "-n", router_ns, "link", "add", lan_router, "type", "veth",
            "peer", "name", lan_host, "netns", host_ns,
        )  # fmt: skip
        without_ipv6(lan_router, router_ns)
        without_ipv6(lan_host, host_ns)
        run_ip("-n", router_ns, "addr", "add", f"192.0.2.{lan + 1}/27", "dev", lan_router)
        run_ip("-n", router_ns, "link", "set", lan_router, "up")
        run_ip("-n", host_ns, "addr", "add", f"192.0.2.{lan + 2}/27", "dev", lan_host)
        run_ip("-n", host_ns, "link", "set", lan_host, "up")
        run_ip("-n", host_ns, "route", "add", "default", "via", f"192.0.2.{lan + 1}")
        stack.enter_context(forwarding(router_ns))
        delay = _DelaySwitch(wan_here, DELAY_TABLE + index)
        stack.callback(delay.close)  # before the link it routes from goes
        place = Home(
            host_ns, router_ns, f"192.0.2.{base + 2}", f"192.0.2.{lan + 2}", wan, wan_here, delay
        )
        place.set_router(router)
        yield place


@contextlib.contextmanager
def internet(turn_namespace: str) -> Iterator[None]:
    """This namespace forwards between the homes and coturn, and coturn routes back to the
    homes' outside addresses, for the block."""
    run_ip("-n", turn_namespace, "route", "add", DOCUMENTATION_NET, "via", CALLER_ADDRESS)
    try:
        with forwarding(None):
            yield
    finally:
        run_ip_quietly("-n", turn_namespace, "route", "del", DOCUMENTATION_NET)
