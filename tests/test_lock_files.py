"""The lock files (requirements/*.txt, written by `make lock`) pin every dependency that
pyproject.toml declares, with hashes, and agree with each other on every version."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {
    "service.txt": (),
    "run.txt": ("embedded",),
    "dev.txt": ("embedded", "dev"),
}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def pins(name: str) -> dict[str, str]:
    """Package -> pinned version of one lock file; every pin must carry a hash."""
    text = (ROOT / "requirements" / name).read_text()
    found: dict[str, str] = {}
    for block in re.split(r"\n(?=\S)", text):
        match = PIN.match(block)
        if match is None:
            continue
        assert "--hash=sha256:" in block, f"{name}: {match.group(1)} has no hash"
        found[canonicalize_name(match.group(1))] = match.group(3)
    return found


def declared(extras: tuple[str, ...]) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = list(project["dependencies"])
    for extra in extras:
        names += project["optional-dependencies"][extra]
    return {canonicalize_name(Requirement(n).name) for n in names}


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_declared_dependency_is_pinned_with_hashes(lock: str) -> None:
    missing = declared(LOCKS[lock]) - set(pins(lock))
    assert not missing, f"requirements/{lock} lacks {sorted(missing)}: run `make lock UPGRADE=`"


def test_the_lock_files_agree_on_every_version() -> None:
    files = {lock: pins(lock) for lock in LOCKS}
    versions: dict[str, set[str]] = {}
    for found in files.values():
        for package, version in found.items():
            versions.setdefault(package, set()).add(version)
    differ = {p: v for p, v in versions.items() if len(v) > 1}
    assert not differ, f"versions differ between lock files: {differ}"


def test_the_run_lock_holds_no_test_tools() -> None:
    run = set(pins("run.txt"))
    assert {"pytest", "playwright", "schemathesis", "mypy"}.isdisjoint(run)
