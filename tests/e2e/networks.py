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
"""

import contextlib
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS
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
    # A bad link on the way out and in: this share of packets lost (nftables' random numbers)
    # and the rate capped (a token bucket). The kernel here has no netem, so no added delay.
    loss_percent: int = 0
    rate_kbit: int = 0
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


@dataclass(frozen=True)
class Home:
    host: str  # the namespace its browser runs in
    router: str
    public_address: str  # the router's outside address: what the internet sees
    lan_address: str  # the browser's own address
    wan: str  # the router's outside interface

    def set_router(self, router: Router) -> None:
        """Replaces the router's rules (and link shaping) while calls go on."""
        _in(self.router, "nft", "flush", "ruleset")
        _in(self.router, "nft", "-f", "-", stdin=router.ruleset(self.wan))
        _in(self.router, "tc", "qdisc", "replace", "dev", self.wan, "root", "pfifo")
        if router.rate_kbit:
            shape = f"tbf rate {router.rate_kbit}kbit burst 16kb latency 200ms"
            _in(self.router, "tc", "qdisc", "replace", "dev", self.wan, "root", *shape.split())


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
def _forwarding(namespace: str | None) -> Iterator[None]:
    path = Path("/proc/sys/net/ipv4/ip_forward")
    if namespace is not None:
        _in(namespace, "sh", "-c", f"echo 1 > {path}")
        yield
        return
    before = path.read_text(encoding="ascii").strip()
    path.write_text("1", encoding="ascii")
    try:
        yield
    finally:
        path.write_text(before, encoding="ascii")


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
        run_ip("addr", "add", f"192.0.2.{base + 1}/28", "dev", wan_here)
        run_ip("link", "set", wan_here, "up")
        run_ip("-n", router_ns, "addr", "add", f"192.0.2.{base + 2}/28", "dev", wan)
        run_ip("-n", router_ns, "link", "set", wan, "up")
        run_ip("-n", router_ns, "route", "add", "default", "via", f"192.0.2.{base + 1}")
        run_ip(
            "-n", router_ns, "link", "add", lan_router, "type", "veth",
            "peer", "name", lan_host, "netns", host_ns,
        )  # fmt: skip
        run_ip("-n", router_ns, "addr", "add", f"192.0.2.{lan + 1}/27", "dev", lan_router)
        run_ip("-n", router_ns, "link", "set", lan_router, "up")
        run_ip("-n", host_ns, "addr", "add", f"192.0.2.{lan + 2}/27", "dev", lan_host)
        run_ip("-n", host_ns, "link", "set", lan_host, "up")
        run_ip("-n", host_ns, "route", "add", "default", "via", f"192.0.2.{lan + 1}")
        stack.enter_context(_forwarding(router_ns))
        place = Home(host_ns, router_ns, f"192.0.2.{base + 2}", f"192.0.2.{lan + 2}", wan)
        place.set_router(router)
        yield place


@contextlib.contextmanager
def internet(turn_namespace: str) -> Iterator[None]:
    """This namespace forwards between the homes and coturn, and coturn routes back to the
    homes' outside addresses, for the block."""
    run_ip("-n", turn_namespace, "route", "add", DOCUMENTATION_NET, "via", CALLER_ADDRESS)
    try:
        with _forwarding(None):
            yield
    finally:
        run_ip_quietly("-n", turn_namespace, "route", "del", DOCUMENTATION_NET)
