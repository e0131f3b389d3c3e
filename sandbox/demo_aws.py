"""`make demo-aws`: the demo in aws mode against a sandbox of its own. Starts `python -m sandbox`
(its stream's buffering interval 1 s, so the demo need not wait Terraform's 300 s), runs
`health-pipeline demo` with the sandbox.env it writes, copies the CSVs it exported from the
sandbox's S3 to `$HEALTH_PIPELINE_HOME/demo-aws/exports/` (the sandbox keeps nothing once stopped;
compare them with `make demo`'s under `$HEALTH_PIPELINE_HOME/exports/`), and stops the sandbox.

Arguments after `--` go to `health-pipeline demo` (e.g. `--users 50 --days 2`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from sandbox.client import SandboxProcess

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    base = Path(os.environ.get("HEALTH_PIPELINE_HOME", "").strip() or ".health_pipeline").expanduser().resolve()
    home = base / "demo-aws"
    shutil.rmtree(home, ignore_errors=True)  # the sandbox starts empty: so does the demo's state
    home.mkdir(parents=True)
    with SandboxProcess.started(home, firehose_interval_s=1) as sandbox:
        print(f"demo-aws: sandbox on {sandbox.endpoint}", flush=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTH_PIPELINE_", "AWS_", "DAGSTER_"))}
        env.update(sandbox.env, HEALTH_PIPELINE_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
        demo = subprocess.run([sys.executable, "-m", "health_pipeline.cli", "demo", *argv], env=env, cwd=PROJECT_ROOT)
        copied = sandbox.download_prefix(sandbox.env["HEALTH_PIPELINE_EXPORT_URI"], home / "exports")
        print(
            f"demo-aws: {copied} file(s) from {sandbox.env['HEALTH_PIPELINE_EXPORT_URI']} copied to {home / 'exports'}"
        )
    return demo.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
