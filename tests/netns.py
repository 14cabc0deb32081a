"""Private network namespaces for tests whose traffic must not leave the test.

The calling process moves into a fresh namespace with only loopback up, and every process it
starts afterwards (the server, Chromium, coturn, …) inherits it. Nothing in it can reach, or be
reached from, any other network.
"""

import contextlib
import ctypes
import os
import subprocess
from collections.abc import Iterator

CLONE_NEWNET = 0x40000000


def enter_private_netns() -> None:
    """Moves this process into a new network namespace with loopback up."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise RuntimeError(
            f"unshare(CLONE_NEWNET) failed: {os.strerror(errno)}; "
            "the WebRTC tests need root (or CAP_SYS_ADMIN) to make a private network"
        )
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


def without_ipv6(interface: str, namespace: str | None = None) -> None:
    """Turns IPv6 off on `interface`, before it comes up: else its link-local address finishes
    duplicate address detection a second or two after the link is up, an address change that a
    running Chromium takes for a network change, failing the loads in flight with
    ERR_NETWORK_CHANGED (seen in a full run: a page opened just after a link came up stayed
    blank). The tests' links carry IPv4 only."""
    path = f"/proc/sys/net/ipv6/conf/{interface}/disable_ipv6"
    if namespace is None:
        with open(path, "w", encoding="ascii") as switch:
            switch.write("1")
        return
    subprocess.run(
        ["ip", "netns", "exec", namespace, "sh", "-c", f"echo 1 > {path}"],
        check=True,
        capture_output=True,
        timeout=10,
    )


def interface_names() -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], check=True, capture_output=True, text=True)
    return [line.split(":")[1].strip().split("@")[0] for line in out.stdout.splitlines()]


@contextlib.contextmanager
def private_netns() -> Iterator[None]:
    """The calling thread in a fresh namespace (loopback only) for the block, then back where it
    was. Namespaces belong to threads, so this is exact: what ran before (a PostgreSQL started on
    the host's loopback, say) is reachable again afterwards."""
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        enter_private_netns()
        names = interface_names()
        assert names == ["lo"], f"the private test network must hold only loopback, found {names}"
        yield
    finally:
        libc = ctypes.CDLL(None, use_errno=True)
        result = libc.setns(original, CLONE_NEWNET)
        errno = ctypes.get_errno()
        os.close(original)
        if result != 0:
            raise RuntimeError(f"could not return to the original namespace: {os.strerror(errno)}")


@contextlib.contextmanager
def veth_pair(first: str, second: str, default_route: bool = False) -> Iterator[None]:
    """Two linked interfaces with documentation addresses, both in the current (private)
    namespace, removed afterwards: aioice leaves loopback out of its candidates, so aiortc
    needs a real interface. With `default_route`, the default route goes out of `first`'s
    interface to `second` (Firefox offers only that interface's address); what it carries
    reaches the same namespace and goes no further (a new namespace forwards nothing)."""
    commands = [
        ["ip", "addr", "add", f"{first}/24", "dev", "pv0"],
        ["ip", "addr", "add", f"{second}/24", "dev", "pv1"],
        ["ip", "link", "set", "pv0", "up"],
        ["ip", "link", "set", "pv1", "up"],
    ]
    if default_route:
        commands.append(["ip", "route", "add", "default", "via", second, "dev", "pv0"])
    try:
        subprocess.run(
            ["ip", "link", "add", "pv0", "type", "veth", "peer", "name", "pv1"],
            check=True,
            capture_output=True,
            timeout=10,
        )
        for interface in ("pv0", "pv1"):
            without_ipv6(interface)
        for command in commands:
            subprocess.run(command, check=True, capture_output=True, timeout=10)
        yield
    finally:
        subprocess.run(["ip", "link", "del", "pv0"], capture_output=True, timeout=10, check=False)
