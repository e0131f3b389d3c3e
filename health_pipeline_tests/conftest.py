import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from health_pipeline.engines import LocalStack
from health_pipeline.settings import PROJECT_ROOT, Settings

CLI = [sys.executable, "-m", "health_pipeline.cli"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def stack(settings: Settings) -> LocalStack:
    return LocalStack(settings)


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTH_PIPELINE_", "DAGSTER_"))}
    env["HEALTH_PIPELINE_HOME"] = str(settings.home)
    return env


def run_cli(env: dict[str, str], *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], input=stdin, capture_output=True, env=env, cwd=PROJECT_ROOT, timeout=120
    )


def jsonl(records: list[dict]) -> bytes:
    return b"".join((json.dumps(r, ensure_ascii=False) + "\n").encode() for r in records)
