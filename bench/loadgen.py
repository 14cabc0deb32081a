"""The load generator: one process, pinned by the caller (taskset), speaking Parley's or
PeerServer's protocol over picows (a WebSocket client written in Cython) on uvloop.

It is started by bench/run.py with one JSON argument (the job) and answers with JSON lines on
stdout: {"event": "ready", ...} once its connections are up (for jobs that hold them), then
{"event": "result", ...}. Every loop here is bounded in count and in time; every address it
connects to is the loopback URL it was given.

Latency: each relayed message carries the sender's CLOCK_MONOTONIC nanoseconds, read just before
the frame is written, in a field both servers relay untouched (a candidate's foundation, an SDP's
o= session id), zero-padded to 19 digits so the frame size does not vary. The receiver reads its
own clock when picows hands it the frame. Both ends are in this process.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import os
import resource
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

now_ns = time.monotonic_ns
CLK_TCK = os.sysconf("SC_CLK_TCK")

# --- realistic payloads -----------------------------------------------------------------------

# A host candidate as Chromium's RTCIceCandidate.toJSON() gives it; the foundation carries the
# send time. The whole client frame is ~200 bytes (printed by the bench).
CANDIDATE_TEXT = (
    "candidate:{ts} 1 udp 2122260223 192.168.1.23 54321 typ host generation 0 "
    "ufrag Xq7b network-id 1 network-cost 10"
)


def sdp_text(target_bytes: int = 4096) -> str:
    """A Chromium-like audio+video offer, padded with more codec lines to ~target_bytes."""
    lines = [
        "v=0",
        "o=- {ts} 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "a=extmap-allow-mixed",
        "a=msid-semantic: WMS 5d3f1c2e-7a4b-4c1d-9e8f-0a1b2c3d4e5f",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:Xq7b",
        "a=ice-pwd:3Jf9kLm2Nq8Rs4Tv6Wx0Yz1AbCdEfGh",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 4F:2A:91:0C:7D:3E:B5:66:12:9A:CE:08:F1:7B:44:D2:"
        "3C:90:AB:5E:61:0F:D8:27:B3:4A:9C:E5:12:7F:6D:80",
        "a=setup:actpass",
        "a=mid:0",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=sendrecv",
        "a=msid:5d3f1c2e-7a4b-4c1d-9e8f-0a1b2c3d4e5f 8b1e2f3a-4c5d-6e7f-8091-a2b3c4d5e6f7",
        "a=rtcp-mux",
        "a=rtpmap:111 opus/48000/2",
        "a=rtcp-fb:111 transport-cc",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtpmap:63 red/48000/2",
        "a=fmtp:63 111/111",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:13 CN/8000",
        "a=rtpmap:110 telephone-event/48000",
        "a=rtpmap:126 telephone-event/8000",
        "a=ssrc:1829374650 cname:k3Jd9sLq2Wm8Xv4T",
        "a=ssrc:1829374650 msid:5d3f1c2e-7a4b-4c1d-9e8f-0a1b2c3d4e5f "
        "8b1e2f3a-4c5d-6e7f-8091-a2b3c4d5e6f7",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100 101 45 46 102 103",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:Xq7b",
        "a=ice-pwd:3Jf9kLm2Nq8Rs4Tv6Wx0Yz1AbCdEfGh",
        "a=ice-options:trickle",
        "a=setup:actpass",
        "a=mid:1",
        "a=sendrecv",
        "a=rtcp-mux",
        "a=rtcp-rsize",
    ]
    payload = 96
    while len("\r\n".join(lines)) < target_bytes - 200:
        lines += [
            f"a=rtpmap:{payload} VP8/90000",
            f"a=rtcp-fb:{payload} goog-remb",
            f"a=rtcp-fb:{payload} transport-cc",
            f"a=rtcp-fb:{payload} ccm fir",
            f"a=rtcp-fb:{payload} nack",
            f"a=rtcp-fb:{payload} nack pli",
            f"a=rtpmap:{payload + 1} rtx/90000",
            f"a=fmtp:{payload + 1} apt={payload}",
        ]
        payload += 2
    lines += [
        "a=ssrc-group:FID 2938475610 3847561029",
        "a=ssrc:2938475610 cname:k3Jd9sLq2Wm8Xv4T",
        "a=ssrc:3847561029 cname:k3Jd9sLq2Wm8Xv4T",
    ]
    return "\r\n".join(lines) + "\r\n"


TS_PLACEHOLDER = "{ts}"


def frame_template(server: str, kind: str, to: str) -> tuple[bytes, bytes]:
    """The frame a client sends, split around where the 19-digit timestamp goes."""
    if server == "parley":
        if kind == "candidate":
            body: dict[str, Any] = {
                "type": "candidate",
                "to": to,
                "candidate": {
                    "candidate": CANDIDATE_TEXT,
                    "sdpMid": "0",
                    "sdpMLineIndex": 0,
                    "usernameFragment": "Xq7b",
                },
            }
        else:
            body = {"type": "offer", "to": to, "sdp": sdp_text()}
    else:  # PeerServer: what the PeerJS client library sends
        connection = "mc_" + "a1b2c3d4e5f6g7h"
        if kind == "candidate":
            body = {
                "type": "CANDIDATE",
                "payload": {
                    "candidate": {
                        "candidate": CANDIDATE_TEXT,
                        "sdpMid": "0",
                        "sdpMLineIndex": 0,
                        "usernameFragment": "Xq7b",
                    },
                    "type": "media",
                    "connectionId": connection,
                },
                "dst": to,
            }
        else:
            body = {
                "type": "OFFER",
                "payload": {
                    "sdp": {"type": "offer", "sdp": sdp_text()},
                    "type": "media",
                    "connectionId": connection,
                },
                "dst": to,
            }
    text = json.dumps(body, separators=(",", ":"))
    before, after = text.split(TS_PLACEHOLDER)
    return before.encode(), after.encode()


def read_timestamp(payload: bytes) -> int:
    """The sender's timestamp in a relayed frame (candidate foundation or SDP o= line), or -1."""
    i = payload.find(b'"candidate:')
    if i >= 0:
        return int(payload[i + 11 : i + 30])
    i = payload.find(b"o=- ")
    if i >= 0:
        return int(payload[i + 4 : i + 23])
    return -1


# --- clients ----------------------------------------------------------------------------------


class Client(WSListener):
    """One WebSocket. Until `on_relay` is set, every text frame goes to a queue for setup code."""

    def __init__(self) -> None:
        self.transport: WSTransport | None = None
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.on_relay: Callable[[Client, bytes], None] | None = None
        self.closed = False
        self.close_code: int | None = None
        # Set up by the relay jobs.
        self.session = ""
        self.user = ""  # Parley's user id, from the welcome
        self.peer: Client | None = None
        self.frame_before = b""
        self.frame_after = b""
        self.stamped_sent = 0
        self.last_stamp = 0  # the latest send time received from the peer (order check)

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.TEXT:
            payload = frame.get_payload_as_bytes()
            if self.on_relay is not None:
                self.on_relay(self, payload)
            else:
                self.queue.put_nowait(payload)
        elif frame.msg_type is WSMsgType.CLOSE:
            self.close_code = frame.get_close_code().value
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.closed = True

    def send_json(self, message: dict[str, Any]) -> None:
        assert self.transport is not None
        self.transport.send(WSMsgType.TEXT, json.dumps(message).encode())

    async def expect(self, *types: str, timeout: float = 10.0) -> dict[str, Any]:  # noqa: ASYNC109
        """The next message of one of these types; others are skipped (bounded by time)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {types} in {timeout} s")
            message: dict[str, Any] = json.loads(
                await asyncio.wait_for(self.queue.get(), remaining)
            )
            if message.get("type") in types:
                return message
            if message.get("type") in ("error", "ERROR"):
                raise RuntimeError(f"server error while waiting for {types}: {message}")

    def send_stamped(self) -> None:
        assert self.transport is not None
        self.stamped_sent += 1
        self.transport.send(
            WSMsgType.TEXT, self.frame_before + b"%019d" % now_ns() + self.frame_after
        )

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.disconnect(graceful=False)


SOURCE_ADDRESSES = [f"127.0.0.{n}" for n in range(2, 10)]


async def connect(url: str, index: int, timeout: float = 15.0) -> Client:  # noqa: ASYNC109
    # Several loopback source addresses, so 20k sockets do not run out of ephemeral ports.
    source = SOURCE_ADDRESSES[index % len(SOURCE_ADDRESSES)]
    _, client = await asyncio.wait_for(
        ws_connect(Client, url, local_addr=(source, 0), websocket_handshake_timeout=timeout),
        timeout,
    )
    assert isinstance(client, Client)
    return client


async def open_parley(base: str, index: int, hello: dict[str, Any] | None = None) -> Client:
    client = await connect(base.replace("http", "ws", 1) + "/ws", index)
    client.send_json(hello or {"type": "hello", "v": 1})
    welcome = await client.expect("welcome")
    client.session = welcome["session"]
    client.user = welcome["user"]["id"]
    return client


async def open_peerserver(base: str, index: int) -> Client:
    peer_id = f"p{index}-{secrets.token_hex(6)}"
    url = (
        base.replace("http", "ws", 1)
        + f"/peerjs?key=peerjs&id={peer_id}&token={secrets.token_hex(4)}"
    )
    client = await connect(url, index)
    await client.expect("OPEN")
    client.session = peer_id
    return client


async def bounded_gather(factories: list[Callable[[], Any]], concurrency: int) -> list[Any]:
    """Runs the coroutine factories with at most `concurrency` at once, results in order."""
    results: list[Any] = [None] * len(factories)
    semaphore = asyncio.Semaphore(concurrency)

    async def run(i: int) -> None:
        async with semaphore:
            results[i] = await factories[i]()

    await asyncio.gather(*(run(i) for i in range(len(factories))))
    return results


async def make_pairs(job: dict[str, Any]) -> list[tuple[Client, Client]]:
    """`pairs` pairs in rooms of their own. With `url_b` (Parley only: a cluster's second
    node), each pair's second member connects there, so every relay crosses between nodes."""
    server, base, pairs = job["server"], job["url"], job["pairs"]
    base_b = job.get("url_b") or base
    kind = job.get("kind", "candidate")
    run_id = secrets.token_hex(4)

    async def pair(i: int) -> tuple[Client, Client]:
        if server == "parley":
            a = await open_parley(base, 2 * i)
            b = await open_parley(base_b, 2 * i + 1)
            room = f"bench-{run_id}-{i}"
            a.send_json({"type": "join", "room": room})
            await a.expect("joined")
            b.send_json({"type": "join", "room": room})
            await b.expect("joined")
            await a.expect("peer-joined")
        else:
            a = await open_peerserver(base, 2 * i)
            b = await open_peerserver(base, 2 * i + 1)
        a.peer, b.peer = b, a
        a.frame_before, a.frame_after = frame_template(server, kind, b.session)
        b.frame_before, b.frame_after = frame_template(server, kind, a.session)
        return a, b

    return await bounded_gather([functools.partial(pair, i) for i in range(pairs)], 50)


# --- measuring --------------------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of another process, in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds() -> tuple[float, float]:
    """CPU seconds all cores have spent busy since boot, and of those the hypervisor's steal:
    time a vCPU was ready to run and the host ran something else (from /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(f) for f in fields]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / CLK_TCK, ticks[7] / CLK_TCK


class Window:
    """A measurement window: wall time, this process's CPU, the server's CPU, and what every
    other process on the machine used meanwhile (in cores; anything well above 0 is noise).
    `steal_cpu` is the part of that noise the VM's host took (steal time), which no process in
    this machine can see or avoid.

    A server made of several processes (a cluster's nodes and its Redis) names them in `pids`:
    `server_cpu` is then their sum and `process_cpu` each one's share of a core."""

    def __init__(self, server_pid: int, pids: dict[str, int] | None = None) -> None:
        self.pids = dict(pids) if pids else {"server": server_pid}
        self.wall0 = time.monotonic()
        self.cpu0 = time.process_time()
        self.sys0 = os.times().system
        self.start = {name: proc_cpu_seconds(pid) for name, pid in self.pids.items()}
        self.busy0, self.steal0 = machine_busy_seconds()

    def close(self) -> dict[str, Any]:
        wall = time.monotonic() - self.wall0
        loadgen = (time.process_time() - self.cpu0) / wall
        loadgen_sys = (os.times().system - self.sys0) / wall
        each = {
            name: (proc_cpu_seconds(pid) - self.start[name]) / wall
            for name, pid in self.pids.items()
        }
        server = sum(each.values())
        busy_now, steal_now = machine_busy_seconds()
        busy = (busy_now - self.busy0) / wall
        measured: dict[str, Any] = {
            "seconds": wall,
            "loadgen_cpu": loadgen,
            "loadgen_sys_cpu": loadgen_sys,  # of which in the kernel (its syscalls)
            "server_cpu": server,
            "other_cpu": max(0.0, busy - loadgen - server),
            "steal_cpu": (steal_now - self.steal0) / wall,
        }
        if len(each) > 1:
            measured["process_cpu"] = each
        return measured


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    if not samples_ns:
        return {"count": 0}
    ordered = sorted(samples_ns)
    n = len(ordered)

    def at(q: float) -> float:
        return ordered[min(n - 1, int(q * n))] / 1e6

    return {
        "count": n,
        "p50_ms": at(0.50),
        "p99_ms": at(0.99),
        "p999_ms": at(0.999),
        "max_ms": ordered[-1] / 1e6,
        "mean_ms": sum(ordered) / n / 1e6,
    }


def hold_until(path: str | None, max_seconds: float) -> Any:
    async def wait() -> None:
        deadline = time.monotonic() + max_seconds
        while time.monotonic() < deadline:
            if path and os.path.exists(path):  # noqa: ASYNC240 - a stat on tmpfs
                return
            await asyncio.sleep(0.05)

    return wait()


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


# --- jobs -------------------------------------------------------------------------------------


async def relay(job: dict[str, Any]) -> dict[str, Any]:
    """Relays between `pairs` pairs of clients, both directions.

    mode "max": each direction keeps `window` messages in flight (closed loop): what the server
    can deliver. mode "rate": an open-loop schedule at `rate` messages a second in all, spread
    round-robin over the directions, sent in ~1 ms ticks. Counts and latencies are taken only
    inside the measurement window (after `warmup` seconds).
    """
    pairs = await make_pairs(job)
    clients = [c for pair in pairs for c in pair]
    # The generator's own pauses would count as server latency: no collector runs while it
    # measures (the hot path allocates no reference cycles).
    gc.collect()
    gc.disable()
    mode = job["mode"]
    warmup, duration = float(job.get("warmup", 1.0)), float(job.get("duration", 5.0))
    max_duration = float(job.get("max_duration", duration))
    # The counters are the closure's own variables, not a dict's items: this runs for every
    # frame, on the generator's one core, which must keep headroom.
    measuring = False
    sending = True
    delivered = received = other = reordered = 0
    latencies: list[int] = []
    record = latencies.append
    # With "timeline": also when each measured frame arrived (to line spikes up with server events).
    arrivals: list[int] | None = [] if job.get("timeline") else None
    send_next = mode == "max"

    def on_relay(client: Client, payload: bytes) -> None:
        nonlocal delivered, received, other, reordered
        received_at = now_ns()
        sent_at = read_timestamp(payload)
        if sent_at < 0:
            other += 1
            if other <= 3:
                print(f"unexpected frame: {payload[:200]!r}", file=sys.stderr)
            return
        received += 1
        # Each client hears from one peer only: its send times must arrive in order.
        if sent_at < client.last_stamp:
            reordered += 1
        client.last_stamp = sent_at
        if measuring:
            delivered += 1
            record(received_at - sent_at)
            if arrivals is not None:
                arrivals.append(received_at)
        if send_next and sending:
            # The one that sent this may send the next.
            client.peer.send_stamped()  # type: ignore[union-attr]

    for client in clients:
        client.on_relay = on_relay
    emit(
        "ready",
        connections=len(clients),
        frame_bytes=len(clients[0].frame_before) + 19 + len(clients[0].frame_after),
    )
    window: Window | None = None
    sent = 0
    if mode == "max":
        for client in clients:
            for _ in range(int(job.get("window", 4))):
                client.send_stamped()
        sent = -1
        await asyncio.sleep(warmup)
        latencies.clear()
        if arrivals is not None:
            arrivals.clear()
        measuring, window = True, Window(job["server_pid"], job.get("pids"))
        await asyncio.sleep(duration)
    else:
        rate = float(job["rate"])
        start = time.monotonic()
        measure_from = start + warmup
        stop_at = start + warmup + max_duration
        stop_file = job.get("stop_file")
        turn = 0
        lag_max = 0.0
        while True:
            now = time.monotonic()
            if window is None and now >= measure_from:
                latencies.clear()
                if arrivals is not None:
                    arrivals.clear()
                measuring, window = True, Window(job["server_pid"], job.get("pids"))
                sent_at_window = sent
            if now >= stop_at or (stop_file and os.path.exists(stop_file)):  # noqa: ASYNC240
                break
            due = int((now - start) * rate)
            lag_max = max(lag_max, (due - sent) / rate)
            burst = 0
            while sent < due and burst < 10_000:
                clients[turn].send_stamped()
                turn = (turn + 1) % len(clients)
                sent += 1
                burst += 1
            # uvloop's timers tick in whole milliseconds: a shorter sleep would spin.
            await asyncio.sleep(0.001)
    assert window is not None
    measured = window.close()
    measuring = False
    sending = False
    # Let what is in flight land, then hang up: 0.3 s by default; with `drain`, until all has
    # landed, or nothing has for 3 s, or `drain` seconds have passed. What never landed is
    # counted: a relay that was sent and not delivered (lost, or stuck for more than 3 s).
    sent_total = sum(c.stamped_sent for c in clients)
    drain_from = time.monotonic()
    drain_until = drain_from + max(0.3, float(job.get("drain", 0.3)))
    progress_at, received_then = drain_from, received
    for _ in range(int((drain_until - drain_from) * 100)):  # and by time: a busy loop is slower
        now = time.monotonic()
        if received != received_then:
            progress_at, received_then = now, received
        if received >= sent_total or now >= drain_until or now - progress_at > 3.0:
            break
        await asyncio.sleep(0.01)
    drained_in = time.monotonic() - drain_from
    for client in clients:
        client.close()
    result: dict[str, Any] = {
        "delivered": delivered,
        "delivered_per_s": delivered / measured["seconds"],
        "latency": percentiles(latencies),
        "other_frames": other,
        "closed_by_server": sum(1 for c in clients if c.close_code is not None),
        "sent_total": sent_total,
        "received_total": received,
        "undelivered": sent_total - received,
        "reordered": reordered,
        "drained_in_s": drained_in,
        **measured,
    }
    if mode == "rate":
        result["offered_per_s"] = (sent - sent_at_window) / measured["seconds"]
        result["max_schedule_lag_ms"] = lag_max * 1000
    if job.get("timeline"):
        result["latencies_ns"] = latencies
        result["arrivals_ns"] = arrivals
    return result


async def hold_connections(job: dict[str, Any]) -> dict[str, Any]:
    """Opens `count` connections (`concurrency` at a time), each saying hello (Parley) or
    waiting for OPEN (PeerServer), reports, then holds them until the stop file appears."""
    server, base, count = job["server"], job["url"], int(job["count"])
    offset = int(job.get("offset", 0))
    opened: list[Client] = []
    times: list[int] = []
    failures: list[str] = []

    async def one(i: int) -> None:
        t0 = now_ns()
        try:
            if server == "parley":
                client = await open_parley(base, offset + i, job.get("hello"))
            else:
                client = await open_peerserver(base, offset + i)
        except Exception as exc:  # counted and reported, never retried
            failures.append(type(exc).__name__ + ": " + str(exc)[:100])
            return
        times.append(now_ns() - t0)
        opened.append(client)

    if job.get("idle_priority"):
        # Background churn: never take the core from a latency probe sharing it.
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    window = Window(job["server_pid"])
    await bounded_gather([functools.partial(one, i) for i in range(count)], int(job["concurrency"]))
    measured = window.close()
    emit(
        "ready",
        opened=len(opened),
        failed=len(failures),
        failures=failures[:5],
        connect=percentiles(times),
        per_s=len(opened) / measured["seconds"],
        **measured,
    )
    await hold_until(job.get("stop_file"), float(job.get("max_hold", 120)))
    still_open = sum(1 for c in opened if not c.closed)
    for client in opened:
        client.close()
    await asyncio.sleep(0.2)
    return {"opened": len(opened), "still_open_at_end": still_open}


async def invites(job: dict[str, Any]) -> dict[str, Any]:
    """Direct calls, one at a time: invite -> callee's incoming-call (ringing) and the caller's
    `ringing` reply, then cancel. Callers rotate so no user passes the invite rate limit."""
    base, pairs, calls = job["url"], int(job["pairs"]), int(job["calls_per_pair"])
    tag = secrets.token_hex(3)

    async def user(i: int, role: str) -> Client:
        return await open_parley(
            base, i, {"type": "hello", "v": 1, "name": f"{role}-{tag}-{i}", "presence": True}
        )

    people = await bounded_gather(
        [
            functools.partial(user, i, "caller" if i % 2 == 0 else "callee")
            for i in range(2 * pairs)
        ],
        20,
    )
    await asyncio.sleep(0.5)
    for person in people:  # presence announcements so far are noise
        while not person.queue.empty():
            person.queue.get_nowait()
    to_callee: list[int] = []
    to_caller: list[int] = []
    window = Window(job["server_pid"])
    request = 0
    for round_ in range(calls):
        for p in range(pairs):
            caller, callee = people[2 * p], people[2 * p + 1]
            request += 1
            t0 = now_ns()
            caller.send_json({"type": "invite", "to": callee.user, "media": "video", "id": request})
            incoming = await callee.expect("incoming-call", timeout=5)
            t_callee = now_ns()
            ringing = await caller.expect("ringing", "call-ended", timeout=5)
            t_caller = now_ns()
            if ringing["type"] != "ringing":
                raise RuntimeError(f"invite {round_}/{p} ended: {ringing}")
            to_callee.append(t_callee - t0)
            to_caller.append(t_caller - t0)
            caller.send_json({"type": "cancel", "call": incoming["call"]})
            await caller.expect("call-ended", timeout=5)
            await callee.expect("call-ended", timeout=5)
    measured = window.close()
    for person in people:
        person.close()
    await asyncio.sleep(0.2)
    return {"to_callee": percentiles(to_callee), "to_caller": percentiles(to_caller), **measured}


async def churn(job: dict[str, Any]) -> dict[str, Any]:
    """Connect, sign in online for calls, close: as many cycles as `seconds` allow (at most
    `max_cycles`), one at a time, as the same user (its token). Measures cycles a second and
    the server's CPU per cycle (presence: what one client's churn costs the server)."""
    base, seconds = job["url"], float(job["seconds"])
    first = await connect(base.replace("http", "ws", 1) + "/ws", 0)
    first.send_json({"type": "hello", "v": 1, "name": "Churn", "presence": True})
    token = (await first.expect("welcome"))["token"]
    first.close()
    hello = {"type": "hello", "v": 1, "name": "Churn", "presence": True, "token": token}
    window = Window(job["server_pid"])
    cycles, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline and cycles < int(job.get("max_cycles", 100_000)):
        client = await open_parley(base, cycles, hello)
        client.close()
        cycles += 1
    measured = window.close()
    per_s = cycles / measured["seconds"]
    cpu_ms = 1000 * measured["server_cpu"] / per_s if per_s else None
    return {"cycles": cycles, "per_s": per_s, "server_ms_per_cycle": cpu_ms, **measured}


async def padded_flood(job: dict[str, Any]) -> dict[str, Any]:
    """Two sessions in a room; the sender relays `count` candidates to the receiver, each padded
    with unknown fields to `pad` bytes, and the receiver reads them (and drops them). The
    receiver's replay log keeps its last 320 messages even while connected (the newest may die
    with a socket), weighed against its 256 KiB cap. Reports once all were relayed; the caller
    reads the server's memory around it."""
    base, count, pad = job["url"], int(job["count"]), int(job["pad"])
    sender, receiver = await open_parley(base, 0), await open_parley(base, 1)
    room = "padded-" + secrets.token_hex(8)
    for client in (receiver, sender):
        client.send_json({"type": "join", "room": room})
        await client.expect("joined")
    receiver.on_relay = lambda client, payload: None  # read, and dropped
    padding = "x" * pad
    for _ in range(count):
        candidate = {"candidate": "candidate:1 1 udp 1 192.0.2.1 9 typ host", "pad": padding}
        sender.send_json({"type": "candidate", "to": receiver.session, "candidate": candidate})
        await asyncio.sleep(0)  # let the socket drain now and then
    sender.send_json({"type": "ice-servers", "id": "done"})
    await sender.expect("ice-servers", timeout=60)
    await asyncio.sleep(1.0)  # the receiver has read the last of them
    sender.close()
    receiver.close()
    return {"sent": count, "bytes_each": pad}


JOBS = {
    "relay": relay,
    "hold": hold_connections,
    "invites": invites,
    "churn": churn,
    "padded": padded_flood,
}


def main() -> None:
    job = json.loads(sys.argv[1])
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # Hard deadline for the whole process, whatever happens.
    limit = float(job.get("deadline", 300))

    async def run() -> None:
        result = await asyncio.wait_for(JOBS[job["job"]](job), limit)
        emit("result", **result)

    uvloop.run(run())


if __name__ == "__main__":
    main()
