"""`make demo-aws` (sandbox/demo_aws.py): the demo in aws mode against a sandbox of its own writes the
same CSV bytes as `make demo` writes for the same days."""

from __future__ import annotations

import os
import subprocess
import sys

from health_pipeline.settings import PROJECT_ROOT

ARGS = ["--users", "12", "--days", "2"]


def test_make_demo_aws_exports_the_csv_bytes_make_demo_exports(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTH_PIPELINE_", "AWS_", "DAGSTER_"))}
    aws = subprocess.run(
        [sys.executable, "-m", "sandbox.demo_aws", *ARGS], cwd=PROJECT_ROOT, capture_output=True, text=True,
        env={**env, "HEALTH_PIPELINE_HOME": str(tmp_path / "aws")}, timeout=900,
    )  # fmt: skip
    assert aws.returncode == 0, aws.stdout[-3000:] + aws.stderr[-3000:]
    local_home = tmp_path / "local"
    local = subprocess.run(
        [sys.executable, "-m", "health_pipeline.cli", "demo", *ARGS], cwd=PROJECT_ROOT, capture_output=True,
        text=True, env={**env, "HEALTH_PIPELINE_HOME": str(local_home), "DAGSTER_HOME": str(local_home / "dagster")},
        timeout=900,
    )  # fmt: skip
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]
    local_files = sorted(p.relative_to(local_home / "exports") for p in (local_home / "exports").rglob("*.csv"))
    aws_exports = tmp_path / "aws" / "demo-aws" / "exports"
    aws_files = sorted(p.relative_to(aws_exports) for p in aws_exports.rglob("*.csv"))
    assert len(local_files) == 2 and aws_files == local_files
    for name in local_files:
        assert (aws_exports / name).read_bytes() == (local_home / "exports" / name).read_bytes(), name
