"""A Parley cluster in real Chromium: `parley serve` processes sharing one real Redis act as one
server. Browsers on different nodes call each other (phone and room), and when a node is killed
in the middle of a call the page behind nginx (deploy/cluster/nginx.conf) resumes its session on
another node while the media goes on.

The nodes share one data directory, as nodes on one machine may (deploy/cluster/README.md): the
same signing secret and the same SQLite call history.
"""

import contextlib
import http.client
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page

from parley.server.tls import self_signed_certificate
from tests.e2e.helpers import assert_media_flows, wait_for_remote_video, wait_for_state
from tests.e2e.phone import call, ended_reason, history_rows, sign_in
from tests.e2e.recorded_pages import ARTIFACTS
from tests.parley_server import LISTENING, LOOPBACK_CROWD_ARGS
from tests.redis_server import RedisServer
from tests.support.raw_client import free_port

pytestmark = pytest.mark.e2e

OpenPage = Callable[..., Page]
MEDIA = ("audio", "video")
NGINX_SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "cluster" / "nginx.conf"
# parley.cluster.redis_log.HEARTBEAT_TTL_SECONDS: a node silent this long is declared lost.
NODE_TTL_SECONDS = 3.0
# Short, so that the killed node's sessions end within the test; long enough for a resume.
RESUME_WINDOW = 6


# --- nodes ---------------------------------------------------------------------------------------


@dataclass
class Node:
    name: str
    process: subprocess.Popen[str]
    url: str
    log: Path
    data_dir: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def kill(self) -> None:
        """kill -9: no goodbye to the cluster, no close frames; its heartbeat just stops."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def metrics(self) -> dict[str, float]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", "/metrics")
            response = connection.getresponse()
            assert response.status == 200, f"{self.name} /metrics answered {response.status}"
            text = response.read().decode()
        finally:
            connection.close()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                values[key] = float(value)
        return values

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def start_node(name: str, redis_url: str, data_dir: Path, *extra: str) -> Node:
    log = ARTIFACTS / f"e2e-cluster-{name}.log"
    command = [sys.executable, "-m", "parley", "serve", "--host", "127.0.0.1", "--port", "0"]
    command += ["--data-dir", str(data_dir), "--redis-url", redis_url, *LOOPBACK_CROWD_ARGS, *extra]
    with open(log, "w") as log_file:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_file, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"node {name} exited early with {process.wait(timeout=5)}")
        match = LISTENING.search(line.strip())
        if match:
            return Node(name, process, match.group(1), log, data_dir)
    process.kill()
    raise RuntimeError(f"node {name} did not report its address within 30 s")


@contextlib.contextmanager
def running_cluster(label: str, *extra: str, nodes: int = 2) -> Iterator[list[Node]]:
    """A fresh Redis and `nodes` Parley processes on it, started one after the other (the
    first founds the cluster's log), all with one data directory. Redis stops last."""
    ARTIFACTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="parley-cluster-") as scratch:
        root = Path(scratch)
        (root / "redis").mkdir()
        redis = RedisServer(root / "redis")
        redis.start()
        started: list[Node] = []
        try:
            for number in range(1, nodes + 1):
                started.append(start_node(f"{label}-P{number}", redis.url, root / "data", *extra))
            yield started
        finally:
            for node in reversed(started):
                node.stop()
            redis.stop()


def metric(node: Node, key: str) -> float:
    return node.metrics().get(key, 0.0)


def wait_for_metrics(node: Node, expected: dict[str, float], within: float = 10.0) -> None:
    """Polls the node's /metrics until every key has its expected value."""
    deadline = time.monotonic() + within
    while True:
        current = node.metrics()
        seen = {key: current.get(key, 0.0) for key in expected}
        if seen == expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{node.name} /metrics: wanted {expected}, last saw {seen}")
        time.sleep(0.2)


def assert_no_errors_logged(*nodes: Node) -> None:
    for node in nodes:
        text = node.log_text()
        assert "Traceback" not in text and "could not write" not in text, (
            f"{node.name} logged an error; see {node.log}"
        )


# --- pages -----------------------------------------------------------------------------------


def person(open_page: OpenPage, base: str, name: str, **options: object) -> tuple[Page, str]:
    page = open_page("about:blank", **options)
    return page, sign_in(page, base, name)


def wait_connected(page: Page, timeout_ms: int = 30_000) -> None:
    page.wait_for_function("() => window.parley.connected", timeout=timeout_ms)


def online(page: Page, user_id: str) -> str:
    return f'#online-list li[data-user="{user_id}"]'


def answered_call(caller: Page, callee: Page, callee_id: str, caller_name: str) -> str:
    """The caller calls from the phone page; the callee's page rings and accepts with video.
    Returns the call id, once media flows both ways."""
    call(caller, callee_id)
    wait_for_state(caller, "outgoing")
    wait_for_state(callee, "incoming")
    assert callee.locator("#incoming-name").inner_text() == caller_name
    assert callee.locator("#incoming-label").inner_text() == "Incoming video call"
    assert callee.evaluate("() => window.parley.timerCount") == 1, "the ringtone plays"
    callee.click("#accept-video")
    for page in (caller, callee):
        wait_for_state(page, "in-call")
        assert_media_flows(page, MEDIA)
        wait_for_remote_video(page)
    call_id = caller.evaluate("() => window.parley.callId")
    assert isinstance(call_id, str) and callee.evaluate("() => window.parley.callId") == call_id
    return call_id


def finished_history(page: Page, base: str, within: float = 10.0) -> list[dict[str, object]]:
    """The user's history once its latest call is finished (the nodes write it a moment after
    the pages hear of the end)."""
    deadline = time.monotonic() + within
    while True:
        rows = history_rows(page, base)
        if rows and rows[0]["end_reason"] is not None:
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"the call was not finished in the history: {rows}")
        time.sleep(0.2)


def database_rows(database: Path, call_id: str) -> tuple[int, list[str]]:
    """The call in the shared SQLite file: how many rows, and whose quality reports."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        [(calls,)] = db.execute("SELECT count(*) FROM calls WHERE id = ?", (call_id,)).fetchall()
        users = [
            u for (u,) in db.execute("SELECT user FROM call_quality WHERE call_id = ?", (call_id,))
        ]
    return int(calls), sorted(users)


# --- two nodes, no proxy -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(private_network: list[str]) -> Iterator[list[Node]]:
    with running_cluster("shared") as nodes:
        yield nodes


def test_direct_call_between_browsers_on_two_processes(
    cluster: list[Node], open_page: OpenPage
) -> None:
    p1, p2 = cluster
    before = {node.name: node.metrics() for node in cluster}
    ana, ana_id = person(open_page, p1.url, "Ana")  # served by P1, talks to P1's /ws
    bo, bo_id = person(open_page, p2.url, "Bo")  # served by P2, talks to P2's /ws
    for node in cluster:
        wait_for_metrics(node, {"parley_connections": 1, "parley_users_online": 2})
    ana.wait_for_selector(online(ana, bo_id), timeout=10_000)
    bo.wait_for_selector(online(bo, ana_id), timeout=10_000)

    call_id = answered_call(ana, bo, bo_id, "Ana")
    for node in cluster:
        wait_for_metrics(node, {'parley_calls{state="active"}': 1})

    ana.click("#hangup-button")
    assert ended_reason(bo) == "hangup"
    assert bo.locator("#ended-text").inner_text() == "Ana hung up."
    assert ended_reason(ana) == "hangup"
    assert ana.locator("#ended-text").inner_text() == "You hung up."

    # One row, whichever node is asked; each side sees it from its own point of view.
    [row] = finished_history(ana, p1.url)
    [bo_row] = finished_history(bo, p2.url)
    assert row["id"] == bo_row["id"] == call_id
    assert (row["direction"], row["peer"]) == ("outgoing", bo_id)
    assert (bo_row["direction"], bo_row["peer"]) == ("incoming", ana_id)
    assert row["end_reason"] == "hangup" and row["ended_by"] == ana_id
    assert row["answered"] is not None
    assert isinstance(row["duration_seconds"], float) and row["duration_seconds"] > 0
    # Each node wrote only what its own sockets caused: one call row, one quality report per
    # side (every node writing every step would leave two of each report).
    ana.wait_for_timeout(500)
    assert database_rows(p1.data_dir / "parley.db", call_id) == (1, sorted([ana_id, bo_id]))
    after = {node.name: node.metrics() for node in cluster}

    def delta(node: Node, key: str) -> float:
        return after[node.name].get(key, 0.0) - before[node.name].get(key, 0.0)

    assert delta(p1, "parley_calls_started_total") == 1, "Ana's invite came in on P1"
    assert delta(p2, "parley_calls_started_total") == 0
    assert delta(p2, "parley_call_setup_seconds_count") == 1, "Bo's answer came in on P2"
    assert delta(p1, "parley_call_setup_seconds_count") == 0
    assert delta(p1, 'parley_calls_ended_total{reason="hangup"}') == 1, "Ana hung up on P1"
    assert delta(p2, 'parley_calls_ended_total{reason="hangup"}') == 0
    assert_no_errors_logged(*cluster)


_JOIN_BY_WEBSOCKET = """async (room) => {
  const ws = new WebSocket(`ws://${location.host}/ws`);
  const seen = [];
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no reply: ' + JSON.stringify(seen))), 10000);
    ws.onopen = () => ws.send(JSON.stringify({type: 'hello', v: 1, name: 'Dee'}));
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      seen.push(message.type);
      if (message.type === 'welcome') ws.send(JSON.stringify({type: 'join', room, id: 1}));
      else if (message.id === 1) { clearTimeout(timer); ws.close(1000); resolve(message); }
    };
    ws.onclose = (event) => reject(new Error('closed ' + event.code + ': ' + seen));
  });
}"""


def test_room_call_across_processes(
    cluster: list[Node], open_page: OpenPage, room_name: str
) -> None:
    p1, p2 = cluster
    alice = open_page(f"{p1.url}/r/{room_name}?autojoin=1")
    bob = open_page(f"{p2.url}/r/{room_name}?autojoin=1")
    for page in (alice, bob):
        wait_for_state(page, "in-call")
        assert_media_flows(page, MEDIA)
        wait_for_remote_video(page)
    assert alice.evaluate("() => window.parley.peerId") == bob.evaluate(
        "() => window.parley.sessionId"
    )
    rooms = [metric(node, "parley_rooms") for node in cluster]
    assert rooms[0] == rooms[1] >= 1, f"every node knows the cluster's rooms: {rooms}"

    # A third person on P2, in the browser: told the room is full, camera released.
    carol = open_page(f"{p2.url}/r/{room_name}?autojoin=1")
    wait_for_state(carol, "room-full")
    assert carol.locator("#notice").get_attribute("data-reason") == "roomFull"
    # And a plain WebSocket client on P1 (a page of P1's origin, no call page).
    dee = open_page(f"{p1.url}/healthz")
    reply = dee.evaluate(_JOIN_BY_WEBSOCKET, room_name)
    assert (reply["type"], reply["code"]) == ("error", "room-full"), reply

    for page in (alice, bob):
        assert_media_flows(page, MEDIA)
    alice.click("#hangup-button")
    wait_for_state(alice, "ended")
    wait_for_state(bob, "ended")
    assert bob.locator("#notice").get_attribute("data-reason") == "peerHungUp"
    assert_no_errors_logged(*cluster)


# --- nginx in front, and a node killed mid-call ---------------------------------------------------


def cluster_site(ports: list[int], https_port: int, http_port: int, cert: Path, key: Path) -> str:
    """deploy/cluster/nginx.conf itself, with only ports, names and certificate paths replaced
    (both upstream servers kept, no `backup`)."""
    site = NGINX_SAMPLE.read_text()
    replacements = {
        "server 127.0.0.1:8081 ": f"server 127.0.0.1:{ports[0]} ",
        "server 127.0.0.1:8082 ": f"server 127.0.0.1:{ports[1]} ",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",
        "/etc/letsencrypt/live/calls.example.org/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/calls.example.org/privkey.pem": str(key),
    }
    for old, new in replacements.items():
        assert site.count(old) == 1, f"the sample no longer contains {old!r} exactly once"
        site = site.replace(old, new)
    return site


@contextlib.contextmanager
def nginx_in_front(nodes: list[Node]) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="parley-cluster-nginx-") as scratch:
        root = Path(scratch)
        cert, key = self_signed_certificate(root / "tls")
        https_port, http_port = free_port(), free_port()
        site = cluster_site([node.port for node in nodes], https_port, http_port, cert, key)
        (root / "nginx.conf").write_text(
            f"pid {root}/nginx.pid;\nerror_log {root}/error.log;\nevents {{}}\n"
            f"http {{\n  client_body_temp_path {root}/body;\n  proxy_temp_path {root}/proxy;\n"
            f"{site}\n}}\n"
        )
        nginx = subprocess.Popen(
            ["nginx", "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                with contextlib.suppress(OSError):
                    probe = http.client.HTTPConnection("127.0.0.1", http_port, timeout=1)
                    probe.request("GET", "/")
                    probe.getresponse()
                    probe.close()
                    break
                if nginx.poll() is not None:
                    stderr = nginx.stderr.read() if nginx.stderr else b""
                    pytest.fail(f"nginx exited: {stderr!r}")
                if time.monotonic() > deadline:
                    pytest.fail("nginx did not listen within 10 s")
                time.sleep(0.1)
            yield f"https://127.0.0.1:{https_port}"
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)
            error_log = root / "error.log"
            (ARTIFACTS / "e2e-cluster-nginx-error.log").write_bytes(
                error_log.read_bytes() if error_log.exists() else b""
            )


def socket_home(nodes: list[Node], within: float = 10.0) -> Node:
    """The node holding the one WebSocket open in the cluster."""
    deadline = time.monotonic() + within
    while True:
        counts = [metric(node, "parley_connections") for node in nodes]
        if sorted(counts) == [0, 1]:
            return nodes[counts.index(1)]
        if time.monotonic() > deadline:
            raise AssertionError(f"expected one socket in the cluster, found {counts}")
        time.sleep(0.2)


def test_killing_a_node_mid_call_the_browser_resumes_on_another_and_hangup_still_arrives(
    private_network: list[str], open_page: OpenPage
) -> None:
    extra = ("--trusted-proxy", "127.0.0.1", "--resume-window", str(RESUME_WINDOW))
    with running_cluster("kill", *extra) as nodes, nginx_in_front(nodes) as proxy:
        p1, p2 = nodes
        ana, ana_id = person(open_page, proxy, "Ana", ignore_https_errors=True)
        ana_session = ana.evaluate("() => window.parley.sessionId")
        # Ana's socket went to whichever node nginx picked. She is to be on P1, the node that
        # founded the cluster (and fires its timers): a dropped socket resumes through nginx
        # on the next node in its rotation. This resumes across nodes, too.
        for _ in range(6):
            if socket_home(nodes) is p1:
                break
            ana.evaluate("() => window.parley.dropSignaling()")
            ana.wait_for_function("() => !window.parley.connected", timeout=5_000)
            wait_connected(ana)
        assert socket_home(nodes) is p1, "nginx never sent Ana's socket to P1"
        assert ana.evaluate("() => window.parley.sessionId") == ana_session

        bo, bo_id = person(open_page, p2.url, "Bo")  # directly on P2
        cy, cy_id = person(open_page, p1.url, "Cy")  # directly on P1: dies with it
        for user in (ana_id, cy_id):
            bo.wait_for_selector(online(bo, user), timeout=10_000)
        wait_for_metrics(p1, {"parley_connections": 2})
        wait_for_metrics(p2, {"parley_connections": 1, "parley_users_online": 3})

        call_id = answered_call(ana, bo, bo_id, "Ana")
        bo_session = bo.evaluate("() => window.parley.sessionId")
        assert bo.evaluate("() => window.parley.peerId") == ana_session
        welcomes: list[str] = []  # "parley: welcome resumed session" or "… new session"

        def on_console(message: ConsoleMessage) -> None:
            if message.text.startswith("parley: welcome"):
                welcomes.append(message.text)

        ana.on("console", on_console)

        p1.kill()
        killed_at = time.monotonic()
        ana.wait_for_function("() => !window.parley.connected", timeout=5_000)
        # The media is peer to peer: it goes on while Ana's page reconnects.
        for page in (ana, bo):
            assert_media_flows(page, MEDIA)
        wait_connected(ana, timeout_ms=20_000)
        assert welcomes == ["parley: welcome resumed session"], welcomes
        assert ana.evaluate("() => window.parley.sessionId") == ana_session
        assert ana.evaluate("() => window.parley.callId") == call_id
        assert ana.evaluate("() => window.parley.peerId") == bo_session
        assert bo.evaluate("() => window.parley.peerId") == ana_session
        assert bo.evaluate("() => window.parley.connected"), "Bo's node never went away"
        for page in (ana, bo):
            assert page.evaluate("() => document.body.dataset.state") == "in-call"
            assert_media_flows(page, MEDIA)
            assert page.evaluate("() => window.parley.iceRestarts") == 0, "media never broke"
        wait_for_metrics(p2, {"parley_connections": 2})
        # Once P1 stopped beating it is declared lost: Cy's session (its page cannot reach
        # P1) waits for a resume; Ana's was taken over already.
        wait_for_metrics(
            p2,
            {'parley_sessions{state="away"}': 1, 'parley_sessions{state="connected"}': 2},
            within=max(1.0, killed_at + NODE_TTL_SECONDS + RESUME_WINDOW - time.monotonic()),
        )

        ana.click("#hangup-button")
        assert ended_reason(bo) == "hangup"
        assert bo.locator("#ended-text").inner_text() == "Ana hung up."
        assert ended_reason(ana) == "hangup"

        # After the resume window nothing of P1's lives on: Cy went offline for Bo, and P2
        # counts only Ana's and Bo's sessions.
        remaining = max(1.0, killed_at + NODE_TTL_SECONDS + RESUME_WINDOW + 10 - time.monotonic())
        bo.wait_for_selector(online(bo, cy_id), state="detached", timeout=remaining * 1000)
        wait_for_metrics(
            p2,
            {
                "parley_connections": 2,
                'parley_sessions{state="connected"}': 2,
                'parley_sessions{state="away"}': 0,
                "parley_users_online": 2,
                'parley_calls{state="active"}': 0,
                'parley_calls{state="ringing"}': 0,
            },
        )
        assert bo.locator(online(bo, ana_id)).count() == 1, "Ana is still online"
        assert not cy.evaluate("() => window.parley.connected")

        [row] = finished_history(ana, proxy)
        assert row["id"] == call_id
        assert row["end_reason"] == "hangup" and row["ended_by"] == ana_id
        assert isinstance(row["duration_seconds"], float) and row["duration_seconds"] > 0
        ana.wait_for_timeout(500)
        assert database_rows(p2.data_dir / "parley.db", call_id) == (1, sorted([ana_id, bo_id]))
        assert_no_errors_logged(p1, p2)
