"""A delay line on a TUN device: every packet the kernel routes into the device comes back out
of it `--delay-ms` later, in the order it went in, and the kernel routes it on from there.

This kernel has no `netem` qdisc (nor `fq`, whose per-packet time stamps could stand in), so a
link's delay is made here in userspace instead. tests/e2e/networks.py routes what a home sends
into the device and runs this as

    python -m tests.e2e.delay_line --device NAME --delay-ms 200 --seconds 300

The device is made by this process (not persistent): it vanishes, and the routes through it
with it, when the process ends. The process ends by itself after `--seconds`, when its parent
goes, or on SIGTERM/SIGINT; whatever is still held then is sent at once, not lost. It prints
`ready` once the device exists, and `carried N dropped M` as it leaves.
"""

import argparse
import collections
import fcntl
import math
import os
import select
import signal
import struct
import sys
import time
from dataclasses import dataclass, field

TUNSETIFF = 0x400454CA  # _IOW('T', 202, int), linux/if_tun.h
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000  # bare IP packets, no 4-byte protocol header in front
PACKET_BYTES = 65_536  # the largest IP packet: nothing read is ever cut short
# A bound on what is held, as a real queue has one: 1 Mbit/s for 200 ms is ~20 packets of
# 1200 bytes, a LAN's 100 Mbit/s ~2000; past this many the newest packet is dropped.
HELD_PACKETS = 10_000
READS_PER_WAKE = 256  # then send what is due, so a flood in cannot starve what goes out
IDLE_POLL_MS = 200  # how often an idle line checks its lifetime and its parent


@dataclass
class DelayLine:
    """Packets held until their time comes, oldest first."""

    delay: float  # seconds
    held: collections.deque[tuple[float, bytes]] = field(default_factory=collections.deque)
    carried: int = 0
    dropped: int = 0

    def take(self, packet: bytes, now: float) -> None:
        if len(self.held) >= HELD_PACKETS:
            self.dropped += 1
            return
        self.held.append((now + self.delay, packet))

    def due(self, now: float) -> list[bytes]:
        """The packets whose time has come, in the order they came in."""
        out = []
        while self.held and self.held[0][0] <= now:
            out.append(self.held.popleft()[1])
        return out

    def everything(self) -> list[bytes]:
        out = [packet for _, packet in self.held]
        self.held.clear()
        return out

    def wait_ms(self, now: float) -> int:
        """How long to sleep: until the oldest packet is due (rounded up, so it is), or a
        while when nothing is held."""
        if not self.held:
            return IDLE_POLL_MS
        return max(0, min(IDLE_POLL_MS, math.ceil((self.held[0][0] - now) * 1000)))


def open_tun(name: str) -> int:
    # struct's "16s" would cut a longer name short silently: a device the routes do not name.
    assert len(name.encode()) < 16, f"{name!r}: a device name has at most 15 bytes (IFNAMSIZ)"
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


def send(fd: int, packets: list[bytes], line: DelayLine) -> None:
    for packet in packets:
        try:
            written = os.write(fd, packet)
        except OSError:  # the kernel refused it (say, the device went down): as a lost packet
            line.dropped += 1
            continue
        # A TUN device takes a packet whole or not at all: a part would be a corrupt packet.
        assert written == len(packet), f"{written} of {len(packet)} bytes written"
        line.carried += 1


def read_some(fd: int, line: DelayLine) -> None:
    for _ in range(READS_PER_WAKE):
        try:
            packet = os.read(fd, PACKET_BYTES)
        except BlockingIOError:
            return
        line.take(packet, time.monotonic())


class Stop:
    """Set by SIGTERM or SIGINT: the line empties itself and ends."""

    asked = False

    @classmethod
    def ask(cls, _signal: int, _frame: object) -> None:
        cls.asked = True


def run(device: str, delay_ms: int, seconds: float) -> DelayLine:
    fd = open_tun(device)
    line = DelayLine(delay_ms / 1000)
    parent = os.getppid()
    end = time.monotonic() + seconds
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    print("ready", flush=True)
    try:
        while not Stop.asked and time.monotonic() < end and os.getppid() == parent:
            if poller.poll(line.wait_ms(time.monotonic())):
                read_some(fd, line)
            send(fd, line.due(time.monotonic()), line)
        # Sent now rather than lost: the link is lifted, not cut.
        send(fd, line.everything(), line)
    finally:
        os.close(fd)
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Holds each packet routed into a TUN device.")
    parser.add_argument("--device", required=True, help="the TUN device to make, e.g. dly0")
    parser.add_argument("--delay-ms", type=int, required=True, help="added one-way delay")
    parser.add_argument("--seconds", type=float, required=True, help="lifetime, then it ends")
    args = parser.parse_args(argv)
    if not 0 < args.delay_ms <= 10_000 or not 0 < args.seconds <= 3600:
        parser.error("--delay-ms must be in 1..10000 and --seconds in (0, 3600]")
    signal.signal(signal.SIGTERM, Stop.ask)
    signal.signal(signal.SIGINT, Stop.ask)
    line = run(args.device, args.delay_ms, args.seconds)
    print(f"carried {line.carried} dropped {line.dropped}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
