"""The descriptor table of `parley serve` is grown once at start-up (parley.server.descriptors),
so that accepting clients never waits for the kernel to grow it (an RCU grace period each time,
10-35 ms measured while 5,000 clients connected)."""

import errno
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from parley.server import descriptors
from parley.server.descriptors import MAX_SLOTS
from tests.parley_server import running_server

# Run in a fresh process: the test runner's own table has grown already.
_GROW = """
import fcntl, os, resource
soft, hard = {soft}, max({soft}, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
except (ValueError, OSError):
    raise SystemExit(3)  # not allowed to raise the limit this high here
def table():
    return int(next(l for l in open('/proc/self/status') if l.startswith('FDSize')).split()[1])
kept = None
if {keep_highest}:
    kept = os.open(os.devnull, os.O_RDONLY)
    os.dup2(kept, soft - 1)
import parley.server.descriptors as descriptors
descriptors.MAX_SLOTS = {cap}
before = table()
open_before = sorted(os.listdir('/proc/self/fd'))
slots = descriptors.grow_descriptor_table()
try:
    top_open = fcntl.fcntl(soft - 1, fcntl.F_GETFD) >= 0
except OSError:
    top_open = False
same_open = sorted(os.listdir('/proc/self/fd')) == open_before
print(before, table(), slots, same_open, top_open)
"""


def _grow_in_child(
    soft: int, keep_highest: bool = False, cap: int = MAX_SLOTS
) -> tuple[int, int, int, bool, bool]:
    script = _GROW.format(soft=soft, keep_highest=keep_highest, cap=cap)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    if done.returncode == 3:
        pytest.skip(f"this user may not raise the open-files limit to {soft}")
    assert done.returncode == 0, done.stderr
    before, after, slots, same_open, top_open = done.stdout.split()
    return int(before), int(after), int(slots), same_open == "True", top_open == "True"


def test_a_table_that_cannot_grow_does_not_stop_the_server(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse() -> int:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(descriptors, "_grow", refuse)
    assert descriptors.grow_descriptor_table() == 0
    assert "could not grow the descriptor table" in caplog.text


def _table_of(pid: int | str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("FDSize")).split()[1])


def test_the_table_grows_to_the_open_files_limit_and_no_descriptor_is_left_open() -> None:
    before, after, slots, same_open, top_open = _grow_in_child(4096)
    assert before < 4096
    assert after >= 4096 and slots == 4096
    assert same_open and not top_open, "the descriptors used to grow it are closed again"


def test_a_descriptor_already_open_at_the_top_is_left_alone() -> None:
    *_, top_open = _grow_in_child(2048, keep_highest=True)
    assert top_open


def test_a_limit_above_the_cap_grows_the_table_to_the_cap_only() -> None:
    _, after, slots, _, _ = _grow_in_child(4096, cap=1024)
    assert slots == 1024
    assert 1024 <= after < 4096


def test_parley_serve_starts_with_its_table_grown(tmp_path: Path) -> None:
    with running_server(data_dir=tmp_path) as url:
        assert url.startswith("http://")  # listening: start-up is over
        marker = str(tmp_path).encode()
        server = next(
            pid for pid in os.listdir("/proc") if pid.isdigit() and marker in _cmdline(pid)
        )
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert _table_of(server) >= min(soft, MAX_SLOTS)


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
