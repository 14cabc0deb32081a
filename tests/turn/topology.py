"""A real coturn in a network namespace of its own, wired to the caller's namespace by a veth.

    caller's namespace               parley-turn-<id>                  parley-peer-<id>
    (private: e.g. after            ┌─────────────────────────┐       (optional; relay
     enter_private_netns())         │ coturn, UDP 3478        │        peers for tests)
    198.51.100.2/24    ── veth ──   │ 198.51.100.1/24         │
    2001:db8:1::2/64                │ 2001:db8:1::1/64        │
                                    │ 203.0.113.1/24   ── veth ──   203.0.113.2/24, .3/24
                                    │ 2001:db8:2::1/64        │     2001:db8:2::2/64, ::3/64
                                    │ lo: 127.0.0.1, ::1      │
                                    └─────────────────────────┘

coturn listens on, and relays from, 198.51.100.1 and 2001:db8:1::1.

Everything is made from the namespace of the *calling thread*, so the same code serves the
coturn tests and a browser test whose whole process already lives in a private namespace. It
refuses to run in a namespace holding any interface but loopback (and its own veths), and in
PID 1's: it would add interfaces to the host's.

Only documentation addresses (RFC 5737, RFC 3849) are used: none is in coturn's deny list, and
none can collide with a real network. Named namespaces are deleted, and coturn stopped, on exit,
however the body ends. Two topologies may not be open at once in one caller namespace (they
would share the caller-side subnet); one after another, in one process, is fine.

Sockets "inside" coturn's or the peer's namespace are made by a short-lived thread that enters
that namespace with setns(2): a socket belongs to the namespace it was created in, so the test
can then use it from any thread, while the test process itself stays where it is.
"""

import asyncio
import contextlib
import ctypes
import dataclasses
import os
import re
import secrets
import select
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from aioice import stun

from parley.turn.coturn import (
    CoturnSettings,
    Version,
    installed_coturn_version,
    render_config,
)
from parley.turn.credentials import TurnCredentialIssuer
from tests.netns import interface_names

TURNSERVER = "/usr/bin/turnserver"
CLONE_NEWNET = 0x40000000
START_SECONDS = 10.0  # coturn normally answers within a fraction of a second
STOP_SECONDS = 5.0
IP_COMMAND_SECONDS = 10.0

SERVER_ADDRESS = "198.51.100.1"
SERVER_ADDRESS6 = "2001:db8:1::1"
CALLER_ADDRESS = "198.51.100.2"
CALLER_ADDRESS6 = "2001:db8:1::2"
PEER_GATEWAY = "203.0.113.1"
PEER_GATEWAY6 = "2001:db8:2::1"
PEER_ADDRESS = "203.0.113.2"
PEER_ADDRESS6 = "2001:db8:2::2"
# A second address of the peer namespace, for a peer no configuration line mentions.
OTHER_PEER_ADDRESS = "203.0.113.3"
OTHER_PEER_ADDRESS6 = "2001:db8:2::3"

T = TypeVar("T")


class TopologyError(RuntimeError):
    """The namespaces or coturn could not be set up; the message says what failed."""


# --- namespaces ---------------------------------------------------------------------------


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


OWN_CALLER_VETH = re.compile(r"^pt[0-9a-f]{6}c$")


def _netns_inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:  # /proc/1 may be out of reach, even for root, inside a sandbox
        return None


def foreign_interfaces() -> list[str]:
    """Interfaces in the calling thread's namespace other than loopback and our own veths.

    A private test namespace has none; any other namespace (the host's) is not ours to change.
    """
    return [name for name in interface_names() if name != "lo" and not OWN_CALLER_VETH.match(name)]


def check_caller_namespace() -> None:
    here = _netns_inode("/proc/thread-self/ns/net")
    if here is not None and here == _netns_inode("/proc/1/ns/net"):
        raise TopologyError(
            "coturn_namespace() was called in PID 1's network namespace; call it from a private "
            "one (tests.netns.enter_private_netns()), it will not add interfaces to the host's"
        )
    foreign = foreign_interfaces()
    if foreign:
        raise TopologyError(
            f"coturn_namespace() was called in a network namespace with interfaces {foreign}: "
            "call it from a private one (tests.netns.enter_private_netns()) holding only "
            "loopback; it will not add interfaces to a namespace that is not the test's own"
        )


def run_ip(*args: str) -> None:
    """Runs `ip …` in the calling thread's namespace (or another one with `-n name`)."""
    try:
        subprocess.run(
            ["ip", *args], check=True, capture_output=True, text=True, timeout=IP_COMMAND_SECONDS
        )
    except subprocess.CalledProcessError as exc:
        raise TopologyError(f"`ip {' '.join(args)}` failed: {exc.stderr.strip()}") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TopologyError(f"`ip {' '.join(args)}` failed: {exc}") from exc


def run_ip_quietly(*args: str) -> None:
    """Cleanup: best effort, never raises (the thing may already be gone)."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["ip", *args], capture_output=True, timeout=IP_COMMAND_SECONDS, check=False)


def run_in_netns(namespace: str, function: Callable[[], T]) -> T:
    """Calls `function` on a fresh thread that has entered the named namespace, returns its
    result (or raises its exception). The calling thread's own namespace is untouched."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc().setns(fd, CLONE_NEWNET) != 0:
                    errno = ctypes.get_errno()
                    raise TopologyError(f"setns({namespace}) failed: {os.strerror(errno)}")
            finally:
                os.close(fd)
            outcome["value"] = function()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{namespace}", daemon=True)
    thread.start()
    thread.join(timeout=IP_COMMAND_SECONDS)
    if thread.is_alive():
        raise TopologyError(f"work inside namespace {namespace} did not finish")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


@contextlib.contextmanager
def named_namespace(prefix: str) -> Iterator[str]:
    """`ip netns add <prefix>-<random>` with loopback up; deleted on exit."""
    name = f"{prefix}-{secrets.token_hex(4)}"
    run_ip("netns", "add", name)
    try:
        run_ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        run_ip_quietly("netns", "del", name)


# --- UDP endpoints the test controls ------------------------------------------------------


def _family_of(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class UdpPeer:
    """A UDP socket the test drives, wherever (whichever namespace) it was created."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def host(self) -> str:
        return self.address[0]

    @property
    def port(self) -> int:
        return self.address[1]

    def send_to(self, data: bytes, address: tuple[str, int]) -> None:
        self.sock.sendto(data, address)

    def receive(self, within: float) -> tuple[bytes, tuple[str, int]] | None:
        """The next datagram and its source, or None when none arrives `within` seconds."""
        readable, _, _ = select.select([self.sock], [], [], within)
        if not readable:
            return None
        data, source = self.sock.recvfrom(65535)
        return data, (str(source[0]), int(source[1]))

    def receive_all(self, window: float) -> list[tuple[bytes, tuple[str, int]]]:
        """Every datagram arriving during the next `window` seconds."""
        received = []
        deadline = time.monotonic() + window
        for _ in range(10_000):  # bounded even under a flood
            left = deadline - time.monotonic()
            if left <= 0:
                break
            got = self.receive(left)
            if got is None:
                break
            received.append(got)
        return received

    async def areceive(self, within: float) -> tuple[bytes, tuple[str, int]] | None:
        """`receive` for async tests (`within` seconds): does not block the event loop."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(within):
                data, source = await loop.sock_recvfrom(self.sock, 65535)
        except TimeoutError:
            return None
        return data, (str(source[0]), int(source[1]))

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "UdpPeer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def udp_peer_in(namespace: str, host: str, port: int = 0) -> UdpPeer:
    """A UDP socket bound to host:port inside the named namespace."""

    def make() -> socket.socket:
        sock = socket.socket(_family_of(host), socket.SOCK_DGRAM)
        try:
            if ":" in host:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((host, port))
        except BaseException:
            sock.close()
            raise
        return sock

    return UdpPeer(run_in_netns(namespace, make))


# --- coturn -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PeerNamespace:
    """A namespace behind coturn's: reachable from coturn only, as a relay peer would be."""

    namespace: str
    address: str = PEER_ADDRESS
    address6: str = PEER_ADDRESS6
    other_address: str = OTHER_PEER_ADDRESS
    other_address6: str = OTHER_PEER_ADDRESS6

    def address_for(self, family: int) -> str:
        return self.address6 if family == 6 else self.address

    def other_address_for(self, family: int) -> str:
        return self.other_address6 if family == 6 else self.other_address

    def udp_listener(self, host: str | None = None, port: int = 0) -> UdpPeer:
        """A UDP socket in the peer namespace, on the peer's IPv4 address unless told."""
        return udp_peer_in(self.namespace, host or self.address, port)


@dataclasses.dataclass
class TurnServer:
    """A running coturn, and where to reach it from the caller's namespace."""

    namespace: str
    secret: str
    realm: str
    version: Version  # the coturn version the config was rendered for
    config: str  # the turnserver.conf coturn runs with, as render_config wrote it
    config_path: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    host: str = SERVER_ADDRESS
    host6: str = SERVER_ADDRESS6
    port: int = 3478
    caller_address: str = CALLER_ADDRESS
    caller_address6: str = CALLER_ADDRESS6

    # coturn relays from the addresses it listens on.
    @property
    def relay_address(self) -> str:
        return self.host

    @property
    def relay_address6(self) -> str:
        return self.host6

    def address_for(self, family: int) -> str:
        return self.host6 if family == 6 else self.host

    @property
    def url(self) -> str:
        return f"turn:{self.host}:{self.port}?transport=udp"

    @property
    def url6(self) -> str:
        return f"turn:[{self.host6}]:{self.port}?transport=udp"

    def issuer(self, lifetime: int = 3600) -> TurnCredentialIssuer:
        """Parley's credential issuer, with this server's secret and URLs."""
        return TurnCredentialIssuer(
            urls=(self.url, self.url6), secret=self.secret.encode(), lifetime=lifetime
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def is_running(self) -> bool:
        return self.process.poll() is None

    def assert_running(self) -> None:
        if not self.is_running():
            raise AssertionError(
                f"coturn exited with {self.process.returncode}; its log ends:\n{self.log_tail()}"
            )

    def udp_listener(self, host: str = "127.0.0.1", port: int = 0) -> UdpPeer:
        """A UDP socket inside coturn's namespace (by default on its loopback)."""
        return udp_peer_in(self.namespace, host, port)

    @contextlib.contextmanager
    def peer_namespace(self) -> Iterator[PeerNamespace]:
        """A second namespace behind coturn's, routed to and from it only: 203.0.113.2 and
        2001:db8:2::2 (`address`), plus 203.0.113.3 and 2001:db8:2::3 (`other_address`)."""
        with named_namespace("parley-peer") as name:
            veth = f"pp{secrets.token_hex(3)}"
            try:
                run_ip(
                    "-n", self.namespace, "link", "add", veth + "t", "type", "veth",
                    "peer", "name", veth + "p", "netns", name,
                )  # fmt: skip
                _address(self.namespace, veth + "t", f"{PEER_GATEWAY}/24", f"{PEER_GATEWAY6}/64")
                _address(name, veth + "p", f"{PEER_ADDRESS}/24", f"{PEER_ADDRESS6}/64")
                run_ip("-n", name, "addr", "add", f"{OTHER_PEER_ADDRESS}/24", "dev", veth + "p")
                run_ip(
                    "-n", name, "-6", "addr", "add", f"{OTHER_PEER_ADDRESS6}/64",
                    "dev", veth + "p", "nodad",
                )  # fmt: skip
                run_ip("-n", name, "route", "add", "default", "via", PEER_GATEWAY)
                run_ip("-n", name, "-6", "route", "add", "default", "via", PEER_GATEWAY6)
                yield PeerNamespace(name)
            finally:
                run_ip_quietly("-n", self.namespace, "link", "del", veth + "t")


def _address(namespace: str | None, device: str, cidr4: str, cidr6: str) -> None:
    where = ["-n", namespace] if namespace else []
    run_ip(*where, "addr", "add", cidr4, "dev", device)
    # nodad: an address still in duplicate address detection cannot be bound yet.
    run_ip(*where, "-6", "addr", "add", cidr6, "dev", device, "nodad")
    run_ip(*where, "link", "set", device, "up")


def _binding_answered(host: str, port: int) -> bool:
    """One STUN Binding request; True when a success response comes back."""
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    with socket.socket(_family_of(host), socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        try:
            sock.sendto(bytes(request), (host, port))
            data, _ = sock.recvfrom(2048)
        except OSError:  # timeout, or unreachable while the interface comes up
            return False
    try:
        response = stun.parse_message(data)
    except ValueError:
        return False
    return (
        response.transaction_id == request.transaction_id
        and response.message_class == stun.Class.RESPONSE
    )


def _wait_until_answering(server: TurnServer, deadline: float) -> None:
    pending = [server.host, server.host6]
    for _ in range(1000):  # bounded in count as well as in time
        if not server.is_running():
            raise TopologyError(
                f"coturn in {server.namespace} exited with {server.process.returncode} at "
                f"start; its log ends:\n{server.log_tail()}"
            )
        pending = [host for host in pending if not _binding_answered(host, server.port)]
        if not pending:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    raise TopologyError(
        f"coturn in {server.namespace} did not answer a STUN Binding on {pending} port "
        f"{server.port} within {START_SECONDS:.0f} s; its log ends:\n{server.log_tail()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_SECONDS)


@contextlib.contextmanager
def coturn_namespace(
    secret: str,
    *,
    realm: str = "parley.test",
    allowed_peer_ips: tuple[str, ...] = (),
    settings: Mapping[str, Any] | None = None,
    version: Version | None = None,
    log_path: Path | None = None,
) -> Iterator[TurnServer]:
    """Starts coturn in a new namespace linked to the calling thread's, yields it running.

    coturn's configuration is `render_config(CoturnSettings(...), version)` — Parley's own
    generator — with `version` defaulting to the installed coturn's. `settings` overrides any
    other CoturnSettings field (for example `{"user_quota": 2}`). `log_path` keeps coturn's log
    somewhere that outlives the context (by default it is in a temporary directory).
    Raises TopologyError, saying why, when anything cannot be set up.
    """
    check_caller_namespace()
    if not Path(TURNSERVER).exists():
        raise TopologyError(f"{TURNSERVER} is missing: install coturn (Debian package coturn)")
    version = version or installed_coturn_version(TURNSERVER)
    if version is None:
        raise TopologyError(f"could not read the version of {TURNSERVER}")

    with contextlib.ExitStack() as cleanup:
        scratch = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="parley-turn-")))
        name = cleanup.enter_context(named_namespace("parley-turn"))
        veth = f"pt{secrets.token_hex(3)}"
        caller_end, server_end = veth + "c", veth + "s"
        run_ip("link", "add", caller_end, "type", "veth", "peer", "name", server_end, "netns", name)
        # Deleting our end deletes both, at once (a namespace's own teardown is asynchronous).
        cleanup.callback(run_ip_quietly, "link", "del", caller_end)
        _address(None, caller_end, f"{CALLER_ADDRESS}/24", f"{CALLER_ADDRESS6}/64")
        _address(name, server_end, f"{SERVER_ADDRESS}/24", f"{SERVER_ADDRESS6}/64")

        fields: dict[str, Any] = {
            "realm": realm,
            "secret": secret,
            "listening_ips": (SERVER_ADDRESS, SERVER_ADDRESS6),
            "relay_ips": (SERVER_ADDRESS, SERVER_ADDRESS6),
            "allowed_peer_ips": tuple(allowed_peer_ips),
            "log_file": "stdout",
            # Keep coturn's own files out of /var: its pid file and (unused) user database.
            "extra": (f"pidfile={scratch / 'turnserver.pid'}", f"userdb={scratch / 'turndb'}"),
        }
        fields.update(settings or {})
        config = render_config(CoturnSettings(**fields), version)
        config_path = scratch / "turnserver.conf"
        config_path.write_text(config, encoding="utf-8")
        log_path = log_path or scratch / "turnserver.log"

        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                ["ip", "netns", "exec", name, TURNSERVER, "-c", str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=scratch,
            )
        cleanup.callback(_stop, process)
        server = TurnServer(
            namespace=name,
            secret=secret,
            realm=realm,
            version=version,
            config=config,
            config_path=config_path,
            log_path=log_path,
            process=process,
        )
        _wait_until_answering(server, time.monotonic() + START_SECONDS)
        yield server
