"""Private network namespaces for tests whose traffic must not leave the test.

The calling process moves into a fresh namespace with only loopback up, and every process it
starts afterwards (the server, Chromium, coturn, …) inherits it. Nothing in it can reach, or be
reached from, any other network.
"""

import ctypes
import os
import subprocess

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


def interface_names() -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], check=True, capture_output=True, text=True)
    return [line.split(":")[1].strip().split("@")[0] for line in out.stdout.splitlines()]
