"""The dependency locks cover pyproject.toml, pin every file by hash, and are what the image, CI
and the README install (refreshed with `.ci/lock && .ci/run`)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def read_lock(name: str) -> dict[str, str]:
    """{canonical name: version}; every pinned entry must carry at least one sha256 hash."""
    pins: dict[str, str] = {}
    lines = (REPO / name).read_text().splitlines()
    for i, line in enumerate(lines):
        match = ENTRY.match(line)
        if match is None:
            assert not line.strip() or line.startswith((" ", "#")), f"{name}:{i + 1}: not a pin: {line!r}"
            continue
        assert line.rstrip().endswith("\\") and lines[i + 1].strip().startswith("--hash=sha256:"), (
            f"{name}:{i + 1}: {match.group(1)} has no hash"
        )
        pins[canonicalize_name(match.group(1))] = match.group(2)
    assert pins, f"{name} pins nothing"
    return pins


def _project() -> dict[str, object]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]  # type: ignore[no-any-return]


def _requirements(*extras: str) -> list[Requirement]:
    project = _project()
    found = [Requirement(r) for r in project["dependencies"]]  # type: ignore[attr-defined]
    for extra in extras:
        found += [Requirement(r) for r in project["optional-dependencies"][extra]]  # type: ignore[index]
    return found


@pytest.mark.parametrize(
    ("lock", "extras"), [("requirements.lock", ("flower",)), ("requirements-test.lock", ("flower", "test"))]
)
def test_the_lock_pins_every_dependency_inside_its_range(lock: str, extras: tuple[str, ...]) -> None:
    pins = read_lock(lock)
    for requirement in _requirements(*extras):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock} lacks {requirement.name}: run `.ci/lock` (see the README)"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{lock} pins {name}=={pins[name]} outside pyproject's {requirement.specifier}: run `.ci/lock`"
        )


def test_tests_run_on_exactly_the_versions_the_image_ships() -> None:
    image, tests = read_lock("requirements.lock"), read_lock("requirements-test.lock")
    assert {n: v for n, v in tests.items() if n in image} == image
    assert "pytest" in tests and "pytest" not in image  # test tools stay out of the image


def test_dockerfile_ci_and_readme_install_from_the_lock() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^COPY requirements\.lock ", dockerfile, flags=re.MULTILINE)
    assert "pip install --no-deps --require-hashes -r requirements.lock" in dockerfile
    assert re.search(r"pip install --no-deps \.", dockerfile)  # the package adds nothing beyond the lock
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.DOTALL)
    installs = [b.strip() for b in blocks if "pip install" in b]
    assert len(installs) == 2, installs  # the quick start and the test command, nothing else
    quick, test = installs
    # --no-deps: the lock is complete, and pip's resolver must not re-resolve extras against newer releases
    assert "--no-deps -r requirements.lock" in quick and "--no-deps -e ." in quick and "\n" not in quick
    assert "--no-deps -r requirements-test.lock" in test and "--no-deps -e ." in test and "\n" not in test
    assert test.endswith(".venv/bin/python -m pytest")
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert test in ci_lines, ".ci/run must run the README's test command word for word"
    assert ".ci/lock && .ci/run" in readme and (REPO / ".ci" / "lock").exists()


def test_the_environment_installed_from_the_lock_is_complete() -> None:
    """Installs take the lock with --no-deps, so nothing else would notice a dependency it lacks."""
    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
