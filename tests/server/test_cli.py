"""`python -m parley serve` as a real process: startup line, health, and SIGTERM shutdown."""

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from .helpers import (
    Client,
    ConnectWs,
    OpenRaw,
    flood,
    hello,
    join,
    join_stalled_pair,
    receive_close,
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
