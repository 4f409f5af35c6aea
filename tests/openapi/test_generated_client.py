"""A typed client generated from the served OpenAPI with openapi-python-client: generated
without a warning, a short usage script (client_usage.py) type-checked against it with
mypy --strict, then run against the service on the Salesforce emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.auth import mint_token
from app.config import Settings
from tests.test_fuzz_openapi import HOME, Served

BIN = Path(sys.executable).parent
USAGE = Path(__file__).with_name("client_usage.py")
CONFIG = "package_name_override: sfint_client\nproject_name_override: sfint-client\n"


@pytest.fixture
def served(sf_settings: Settings, sf_emulator: Any) -> Iterator[Served]:
    with Served(sf_settings, sf_emulator.base_url) as running:
        yield running


def run(*command: str | Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # The generator's post-hooks run ruff: the environment's tools come first on PATH.
    environment = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **env}
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_generated_client_type_checks_and_works(
    served: Served, sf_settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "openapi.json").write_text(json.dumps(served.openapi))
    (tmp_path / "config.yaml").write_text(CONFIG)
    generated = run(
        BIN / "openapi-python-client",
        "generate",
        "--path",
        "openapi.json",
        "--config",
        "config.yaml",
        cwd=tmp_path,
    )
    output = generated.stdout + generated.stderr
    assert generated.returncode == 0, output
    assert "warning" not in output.lower(), output
    project = tmp_path / "sfint-client"
    assert (project / "sfint_client" / "api" / "contacts" / "lookup_contact.py").exists()

    (project / "client_usage.py").write_text(USAGE.read_text())
    (project / "mypy.ini").write_text("[mypy]\n")
    checked = run(
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--no-incremental",
        "client_usage.py",
        cwd=project,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    token = mint_token(sf_settings, workspace_id=HOME, role="owner", user_id="client-1")
    used = run(sys.executable, "client_usage.py", served.url, token, HOME, cwd=project)
    assert used.returncode == 0, used.stdout + used.stderr
    assert "client usage: ok" in used.stdout
