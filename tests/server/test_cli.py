"""`python -m parley serve`: as a real process (startup line, health, SIGTERM shutdown, and no
import of the Python peer's media stack), and its options (defaults, ranges and rules, from
parley.config)."""

import asyncio
import dataclasses
import inspect
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from typer.testing import CliRunner

from parley.cli import app, serving
from parley.config import BOUNDS, ServeOptions, ServerSettings, SettingsError

from .helpers import (
    Client,
    ConnectWs,
    OpenRaw,
    flood,
    hello,
    join,
    join_stalled_pair,
    receive_close,
    ws_url,
)

LISTENING = re.compile(r"^Parley listening on (http://127\.0\.0\.1:(\d+)/)$")
STARTUP_SECONDS = 20.0
EXIT_SECONDS = 10.0


@dataclass
class ServeProcess:
    process: asyncio.subprocess.Process
    base_url: str
    stderr_path: Path

    async def terminate_and_wait(self) -> int | None:
        """Sends SIGTERM; returns the exit code, or None if it outlived EXIT_SECONDS."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout=EXIT_SECONDS)
        except TimeoutError:
            return None

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-4000:]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    # PARLEY_* variables from the outer environment would override the flags under test.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PARLEY_")}
    stderr_path = tmp_path / "serve.stderr"
    with stderr_path.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "parley",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
            # The stalled-reader test floods on purpose; the rate limit is tested elsewhere.
            "--messages-per-second",
            "100000",
            "--message-burst",
            "100000",
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
    try:
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=STARTUP_SECONDS)
        except TimeoutError:
            pytest.fail(f"no startup line within {STARTUP_SECONDS} s")
        match = LISTENING.match(line.decode().strip())
        assert match, f"unexpected startup line {line!r}; stderr: {stderr_path.read_text()}"
        assert int(match.group(2)) > 0
        yield ServeProcess(process, match.group(1), stderr_path)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_serve_prints_its_address_and_answers_healthz(
    serve: ServeProcess, http: aiohttp.ClientSession
) -> None:
    async with http.get(serve.base_url + "healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_sigterm_exits_with_code_0(serve: ServeProcess, http: aiohttp.ClientSession) -> None:
    async with http.get(serve.base_url + "healthz") as response:
        assert response.status == 200

    assert await serve.terminate_and_wait() == 0, serve.stderr()


async def test_sigterm_closes_websockets_with_1012_then_exits_0(
    serve: ServeProcess, connect_ws: ConnectWs, client: Client
) -> None:
    in_room = await client(serve.base_url)
    await join(in_room, "shutdown")
    just_welcomed = await client(serve.base_url)
    before_hello = await connect_ws(serve.base_url)
    # A round trip proves the server has taken the un-welcomed socket in before the signal.
    await hello(await connect_ws(serve.base_url))

    serve.process.send_signal(signal.SIGTERM)
    for ws in (in_room.ws, just_welcomed.ws, before_hello):
        assert await receive_close(ws, timeout=EXIT_SECONDS) == 1012  # restarting: reconnect

    exit_code = await asyncio.wait_for(serve.process.wait(), timeout=EXIT_SECONDS)
    assert exit_code == 0, serve.stderr()


async def test_sigterm_exits_promptly_with_a_client_that_stopped_reading(
    serve: ServeProcess, raw_ws: OpenRaw, client: Client
) -> None:
    """A client that never reads must not keep the server from shutting down."""
    flooder, stalled_session = await join_stalled_pair(serve.base_url, raw_ws, client, "stuck")
    # Enough to fill the TCP buffers towards the stalled client and its 1 MiB outbox.
    result = await flood(flooder, stalled_session, offers=400)

    exit_code = await serve.terminate_and_wait()
    assert exit_code == 0, (
        f"after {result.offers_sent} offers to a client that reads nothing, SIGTERM did not "
        f"stop the server within {EXIT_SECONDS} s (exit code {exit_code}); "
        f"stderr: {serve.stderr()}"
    )


# -- options: defaults, ranges and rules come from parley.config (no server is started)


def test_every_serve_option_is_a_serve_options_field_with_its_default() -> None:
    parameters = inspect.signature(serving.serve).parameters
    fields = {field.name for field in dataclasses.fields(ServeOptions)}
    assert set(parameters) == fields
    defaults = ServeOptions()
    for name, parameter in parameters.items():
        expected = getattr(defaults, name)
        assert parameter.default == (list(expected) if isinstance(expected, tuple) else expected)


def test_the_default_options_make_the_default_settings(tmp_path: Path) -> None:
    made = ServeOptions(data_dir=tmp_path).server_settings(None)
    assert made == ServerSettings(data_dir=tmp_path)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--workers", "2"], "--workers above 1 needs --redis-url"),
        (["--workers", "2", "--redis-url", "redis://x", "--port", "0"], "needs a fixed --port"),
        (["--auth", "jwt"], "--auth jwt needs --jwt-secret or --jwt-public-key"),
        (["--auth", "ldap"], "--auth is none or jwt"),
        (["--turn", "turn:example.org:3478"], "--turn needs --turn-secret"),
        (["--relay-only"], "--relay-only needs a TURN server"),
        (["--tls", "acme"], "--tls takes 'self-signed'"),
        (["--tls-cert", "cert.pem"], "--tls-cert and --tls-key go together"),
        (["--log-format", "xml"], "--log-format is text or json"),
        (["--room-capacity", "17"], "'--room-capacity' (env var: 'PARLEY_ROOM_CAPACITY'): Input"),
        (["--heartbeat", "0.1"], "greater than or equal to 0.2"),
        (["--stun", "http://example.org"], "Invalid value"),
    ],
)
def test_serve_refuses_bad_options_with_a_clear_error(arguments: list[str], message: str) -> None:
    env = {key: "" for key in os.environ if key.startswith("PARLEY_")}
    result = CliRunner().invoke(app, ["serve", *arguments], env=env)
    assert result.exit_code == 2, result.output
    # rich draws the error in a box and wraps its lines
    assert message in " ".join(result.output.replace("│", " ").split())
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_settings_built_in_code_obey_the_same_ranges_and_rules() -> None:
    with pytest.raises(SettingsError, match="--room-capacity is 2 to 16, not 17"):
        ServeOptions(room_capacity=17)
    with pytest.raises(SettingsError, match="--relay-only needs a TURN server"):
        ServeOptions(relay_only=True)
    assert BOUNDS.keys() <= {field.name for field in dataclasses.fields(ServeOptions)}


# -- `parley serve` never loads the Python peer's media stack (aiortc, PyAV): they come with the
# optional extra parley[peer], and would cost every server and worker their import time and
# memory. The real command runs through a wrapper that writes the names of every module loaded
# when the process exits: after startup, a page, a signaling socket and SIGTERM, so that what
# serving imports late is counted too.

# Packages (with all their submodules) and modules that only the Python peer needs.
PEER_PACKAGES = ("aiortc", "av")
PEER_MODULES = ("parley.peer.call", "parley.peer.media", "parley.peer.phone")
# Runs `python -m parley <args>` and writes sys.modules's names to argv[1] at exit.
WRAPPER = """
import atexit, runpy, sys
out, args = sys.argv[1], sys.argv[2:]
def write_modules():
    with open(out, "w") as f:
        f.write("\\n".join(sorted(sys.modules)))
atexit.register(write_modules)
sys.argv = ["parley", *args]
runpy.run_module("parley", run_name="__main__", alter_sys=True)
"""


async def test_parley_serve_never_imports_aiortc_or_av(tmp_path: Path) -> None:
    modules_path = tmp_path / "modules.txt"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PARLEY_")}
    serve = ["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", str(tmp_path / "data")]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WRAPPER,
        str(modules_path),
        *serve,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), STARTUP_SECONDS)
        match = LISTENING.match(line.decode().strip())
        assert match, f"unexpected startup line {line!r}"
        base_url = match.group(1)
        async with aiohttp.ClientSession() as http:
            async with http.get(base_url + "healthz") as response:
                assert response.status == 200
            async with http.ws_connect(ws_url(base_url)) as ws:
                await hello(ws)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), EXIT_SECONDS)
        assert process.returncode == 0, stderr.decode(errors="replace")[-3000:]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    loaded = set(modules_path.read_text().split())
    assert "parley.server.app" in loaded, "the wrapper did not see the server start"
    assert "parley.workers" in loaded  # `--workers N` forks this same process: it is covered
    peer_only = sorted(
        name for name in loaded if name.partition(".")[0] in PEER_PACKAGES or name in PEER_MODULES
    )
    assert not peer_only, f"parley serve imported the peer's media stack: {peer_only[:10]}"
