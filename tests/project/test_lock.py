"""The lock files pin what pyproject.toml and package.json ask for, so `make test` on a fresh
clone tests the same program everywhere (a fresh install once pulled a newer msgspec and the
generated protocol doc changed under everyone)."""

import json
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCKS = {"run": ROOT / "requirements" / "run.txt", "test": ROOT / "requirements" / "test.txt"}
# A pinned requirement line of a uv/pip-tools lock: `name==version[ ; marker] \`.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def read_lock(path: Path) -> dict[str, tuple[str, str | None, int]]:
    """name -> (version, marker, number of hashes) for every package the lock pins."""
    pins: dict[str, tuple[str, str | None, int]] = {}
    current: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = (match.group(2), match.group(3), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, marker, hashes = pins[current]
            pins[current] = (version, marker, hashes + 1)
        elif line and not line.startswith(" "):
            current = None
    return pins


def project() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["project"]  # type: ignore[no-any-return]


def requirements_for(extras: list[str]) -> list[Requirement]:
    """pyproject's requirements for these extras, with `parley[x]` self-references unfolded."""
    table = project()
    optional: dict[str, list[str]] = table["optional-dependencies"]  # type: ignore[assignment]
    wanted = list(table["dependencies"])  # type: ignore[call-overload]
    pending = list(extras)
    seen: set[str] = set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in optional[extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == "parley":
                pending.extend(requirement.extras)
            else:
                wanted.append(text)
    return [Requirement(text) for text in wanted]


def applies(marker: object | None) -> bool:
    return marker is None or bool(marker.evaluate(default_environment()))  # type: ignore[attr-defined]


@pytest.mark.parametrize(("lock", "extras"), [("run", []), ("test", ["test"])])
def test_every_requirement_of_pyproject_is_pinned_within_its_range(
    lock: str, extras: list[str]
) -> None:
    pins = read_lock(LOCKS[lock])
    for requirement in requirements_for(extras):
        if not applies(requirement.marker):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is in pyproject.toml but not in {lock}.txt: make lock"
        version = pins[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock}.txt pins {name}=={version}, outside pyproject's {requirement}: make lock"
        )


def test_the_run_lock_leaves_out_the_python_peer() -> None:
    """`make run` serves: it installs neither aiortc nor PyAV (parley[peer])."""
    pins = read_lock(LOCKS["run"])
    assert "aiortc" not in pins
    assert "av" not in pins
    assert {"aiortc", "av"} <= set(read_lock(LOCKS["test"]))


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_pin_carries_hashes(lock: str) -> None:
    pins = read_lock(LOCKS[lock])
    assert len(pins) > 20, f"{lock}.txt looks empty or unreadable"
    unhashed = [name for name, (_, _, hashes) in pins.items() if hashes == 0]
    assert not unhashed, f"pinned without a hash in {lock}.txt: {unhashed}"


def test_the_installed_packages_are_the_locked_versions() -> None:
    """The environment the suite runs in was installed from the test lock (`make test`), not
    resolved afresh: a warm venv with other versions would hide a lock that no longer works."""
    drift = []
    for name, (version, marker, _) in read_lock(LOCKS["test"]).items():
        if marker and not applies(Requirement(f"x; {marker}").marker):
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            drift.append(f"{name} not installed (lock: {version})")
            continue
        if canonicalize_name(installed) != canonicalize_name(version):
            drift.append(f"{name} {installed} installed, lock says {version}")
    assert not drift, "run `make test` (it installs from the lock): " + "; ".join(drift)


def test_npm_tools_are_pinned_exactly_and_locked() -> None:
    package = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    wanted: dict[str, str] = package.get("devDependencies", {})
    assert {"typescript", "eslint"} <= set(wanted)
    assert not package.get("dependencies"), "the browser code ships without npm packages"
    assert lock["packages"][""]["devDependencies"] == wanted, "package-lock.json is stale"
    for name, version in wanted.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name}: pin an exact version"
        locked = lock["packages"][f"node_modules/{name}"]
        assert locked["version"] == version
    unhashed = [
        path
        for path, entry in lock["packages"].items()
        if path and not entry.get("link") and not entry.get("integrity")
    ]
    assert not unhashed, f"locked without an integrity hash: {unhashed}"
