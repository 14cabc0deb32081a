"""`parley turn-config` as an operator runs it."""

import stat
import subprocess
import sys
from pathlib import Path

from parley.turn.coturn import installed_coturn_version


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parley", "turn-config", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_writes_a_private_file_for_the_installed_coturn(tmp_path: Path) -> None:
    out = tmp_path / "turnserver.conf"
    result = run("--realm", "calls.example.org", "--turn-secret", "t0p", "--out", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    version = installed_coturn_version()
    assert version is not None
    assert f"# coturn version: {'.'.join(map(str, version))}" in text
    assert "static-auth-secret=t0p" in text
    assert "denied-peer-ip=::ffff:0.0.0.0-::ffff:255.255.255.255" in text, "Debian's is < 4.9"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600, "the file holds the shared secret"


def test_an_explicit_newer_version_drops_the_mapped_range() -> None:
    result = run("--realm", "r", "--turn-secret", "s", "--coturn-version", "4.9.1")
    assert result.returncode == 0, result.stderr
    assert "::ffff:0.0.0.0" not in result.stdout
    assert "denied-peer-ip=10.0.0.0-10.255.255.255" in result.stdout


def test_refuses_to_write_without_a_secret() -> None:
    result = run("--realm", "r")
    assert result.returncode != 0
    assert "turn-secret" in result.stderr
