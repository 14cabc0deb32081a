"""A throwaway PostgreSQL server for the test session, and a `database_url` fixture that runs a
test once on SQLite and once on that PostgreSQL.

The PostgreSQL server is private to the test session: its own data directory under /tmp,
listening on 127.0.0.1 only (plus a socket inside that directory), trust auth for the
`postgres` role from loopback, stopped and deleted when the session ends.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.raw_client import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_START_ATTEMPTS = 3  # a fresh port each time: another process may grab the one we picked
PG_START_SECONDS = 30
PG_COMMAND_SECONDS = 60

# Loopback only, and only the superuser the tests connect as.
PG_HBA = """\
local all postgres trust
host  all postgres 127.0.0.1/32 trust
"""


@dataclass(frozen=True)
class PostgresServer:
    port: int

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        _run_client("createdb", self.port, name)

    def drop_database(self, name: str) -> None:
        _run_client("dropdb", self.port, "--force", name)


def _run_client(tool: str, port: int, *args: str) -> None:
    subprocess.run(
        [str(PG_BIN / tool), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", *args],
        check=True,
        capture_output=True,
        timeout=PG_COMMAND_SECONDS,
    )


def _as_postgres(*command: str) -> list[str]:
    # PostgreSQL refuses to run as root; the tests usually do.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


def _scratch_dir() -> str | None:
    # A RAM disk when there is one: CREATE DATABASE per test costs several times more on disk.
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


def _run_as_postgres(root: Path, *command: str) -> subprocess.CompletedProcess[str]:
    # cwd inside the server's own directory: the postgres user may not read the repo's.
    return subprocess.run(
        _as_postgres(*command),
        cwd=root,
        capture_output=True,
        text=True,
        timeout=PG_COMMAND_SECONDS,
        check=False,
    )


def _fail_with(what: str, result: subprocess.CompletedProcess[str], log: Path | None) -> None:
    log_text = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    pytest.fail(
        f"PostgreSQL for the tests could not {what} "
        f"(exit {result.returncode}).\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}\n"
        f"server log:\n{log_text}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL 15 server for this test session; fails (never skips) if it cannot start."""
    if not (PG_BIN / "pg_ctl").exists():
        pytest.fail(f"PostgreSQL 15 is not installed at {PG_BIN}", pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="parley-pg-", dir=_scratch_dir()))
    data, log = root / "data", root / "server.log"
    started = False
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        result = _run_as_postgres(
            root,
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        if result.returncode != 0:
            _fail_with("initialise a data directory", result, None)
        (data / "pg_hba.conf").write_text(PG_HBA)
        for _ in range(PG_START_ATTEMPTS):
            port = free_port()
            # A timezone far from UTC, with a half-hour offset: the tests must not depend on
            # the server's session timezone to get UTC back.
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c timezone=America/St_Johns -c max_connections=50"
            )
            result = _run_as_postgres(
                root,
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                str(PG_START_SECONDS),
                "-o",
                options,
                "start",
            )
            if result.returncode == 0:
                started = True
                break
        else:
            _fail_with(f"start after {PG_START_ATTEMPTS} attempts", result, log)
        assert (data / "postmaster.pid").exists(), "pg_ctl said started, but no postmaster runs"
        yield PostgresServer(port)
    finally:
        if started:
            stop = _run_as_postgres(
                root, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"
            )
            if stop.returncode != 0:
                _kill_postmaster(data)
        shutil.rmtree(root, ignore_errors=True)


def _kill_postmaster(data: Path) -> None:
    # Only the postmaster this fixture started, found through its own pid file.
    try:
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 9)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: an SQLite file, or a fresh database on the session's PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"parley_{uuid.uuid4().hex[:16]}"
    server.create_database(name)
    yield server.url(name)
    server.drop_database(name)
