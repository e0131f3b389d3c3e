"""The producer Lambda's figures of `make bench`: its package's size and its cold import.

- `lambda_zip_bytes`: the size of the package `make lambda` builds (target <= 1,000,000).
- `lambda_cold_import_ms`: `import health_pipeline.lambda_handler` in a fresh interpreter from the
  unpacked package, as a new Lambda instance runs it: no site-packages (-S), nothing of the project
  on the path but the package (-I), no bytecode cache (-B, a fresh directory each time: Lambda's
  /var/task is read-only, so each cold start compiles the sources). The best of ROUNDS, in ms
  (target <= 150). The interpreter's own start is not counted; boto3 is imported at the first
  invocation, not here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from health_pipeline.settings import PROJECT_ROOT

ROUNDS = 7
_IMPORT = """
import sys, time
sys.path.insert(0, sys.argv[1])
started = time.perf_counter()
import health_pipeline.lambda_handler
print((time.perf_counter() - started) * 1000)
"""


def lambda_figures(rounds: int = ROUNDS) -> dict:
    with tempfile.TemporaryDirectory(prefix="hp-bench-lambda-") as tmp:
        package = Path(tmp) / "health_pipeline_lambda.zip"
        subprocess.run(
            [sys.executable, str(PROJECT_ROOT / "scripts" / "build_lambda.py"), str(package)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        timings = []
        for n in range(rounds):
            task = Path(tmp) / f"task-{n}"
            with zipfile.ZipFile(package) as archive:
                archive.extractall(task)
            done = subprocess.run(
                [sys.executable, "-I", "-S", "-B", "-c", _IMPORT, str(task)],
                check=True,
                capture_output=True,
                text=True,
                timeout=60,
            )
            timings.append(float(done.stdout))
        figures = {"lambda_cold_import_ms": round(min(timings), 1), "lambda_zip_bytes": package.stat().st_size}
    print(
        f"lambda: package {figures['lambda_zip_bytes']:,} bytes; cold import of the handler best of {rounds}"
        f" {figures['lambda_cold_import_ms']} ms (all: {', '.join(f'{t:.1f}' for t in timings)})"
    )
    return figures


if __name__ == "__main__":
    print("FIGURES " + json.dumps(lambda_figures()))
