"""`python -m app.cli dev-token` works outside `make run`, with no environment set up."""

from __future__ import annotations

import os
import subprocess
import sys

from app.auth import TokenVerifier
from app.config import Settings


def test_dev_token_without_environment_is_a_development_token(tmp_path: object) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"ENVIRONMENT", "SERVICE_JWT_SECRET"}}
    env["PYTHONPATH"] = os.getcwd()
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "dev-token", "--workspace", "ws-9", "--role", "agent"],
        cwd=str(tmp_path),  # no .env there
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    development = Settings(_env_file=None, environment="development")  # type: ignore[call-arg]
    caller = TokenVerifier(development).verify(result.stdout.strip())
    assert (caller.workspace_id, caller.role) == ("ws-9", "agent")
