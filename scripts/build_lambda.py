#!/usr/bin/env python3
"""Build the producer Lambda's deployment package: `make lambda` runs

    python3 scripts/build_lambda.py dist/health_pipeline_lambda.zip

The package holds exactly the project modules that `import health_pipeline.lambda_handler` loads,
found by importing it in a fresh interpreter without site-packages (`-I -S`): if the handler needed
anything beyond the standard library and its own package, that import fails and so does the build.
boto3 is not in it: the Lambda Python runtime provides it, and the handler imports it on its first
invocation only. Sources only (no bytecode: it depends on the runtime's Python version).

The same commit gives the same bytes: entries in name order, each with the same fixed time
(1980-01-01 00:00:00) and mode (0644), deflated at level 9. It prints the base64 SHA-256 that
terraform/envs/prod takes as `producer_package_base64sha256`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDLER = "health_pipeline.lambda_handler"
PACKAGE = "health_pipeline"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can hold
DEFAULT_OUTPUT = ROOT / "dist" / "health_pipeline_lambda.zip"

# Run by `python -I -S`: only the standard library and the project directory on the path.
_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
before = set(sys.modules)
import {handler}
loaded = {{name: getattr(module, "__file__", None) for name, module in sys.modules.items() if name not in before}}
print(json.dumps(loaded))
"""


class PackageError(RuntimeError):
    """The handler cannot be packaged as it is; the message says why."""


def handler_modules(root: Path = ROOT) -> list[Path]:
    """The project's source files the handler's import loads, relative to `root`, in name order."""
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", _PROBE.format(handler=HANDLER), str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise PackageError(
            f"`import {HANDLER}` fails with the standard library alone (no site-packages), so it would fail in"
            f" the Lambda too:\n{done.stderr.strip()}"
        )
    files = []
    for name, file in sorted(json.loads(done.stdout).items()):
        top = name.split(".")[0]
        if top == PACKAGE:
            path = Path(file).resolve()
            if not path.is_relative_to(root / PACKAGE) or path.suffix != ".py":
                raise PackageError(f"{name} was loaded from {path}, not from the sources under {root / PACKAGE}")
            files.append(path.relative_to(root))
        elif not _standard_library(top, file):
            raise PackageError(f"the handler imports {name}, which is neither the standard library nor {PACKAGE}")
    return sorted(set(files))


def _standard_library(top: str, file: str | None) -> bool:
    if top in sys.stdlib_module_names or file is None:  # named so, or built in / frozen
        return True
    path = Path(file).resolve()  # e.g. _sysconfigdata_*, which zoneinfo's sysconfig reads
    paths = sysconfig.get_paths()
    return any(path.is_relative_to(Path(paths[key]).resolve()) for key in ("stdlib", "platstdlib")) and (
        "site-packages" not in path.parts
    )


def build(output: Path, root: Path = ROOT) -> tuple[Path, list[Path]]:
    """Write the package to `output` (atomically); returns it and the files it holds."""
    files = handler_modules(root)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=output.parent, prefix=".lambda-", suffix=".zip", delete=False) as handle:
        temporary = Path(handle.name)
    try:
        with zipfile.ZipFile(temporary, "w") as archive:
            for relative in files:
                entry = zipfile.ZipInfo(relative.as_posix(), date_time=FIXED_TIME)
                entry.create_system = 3  # Unix, so that the mode below is read as one
                entry.external_attr = 0o100644 << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(entry, (root / relative).read_bytes(), compresslevel=9)
        temporary.chmod(0o644)
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)
    return output, files


def base64_sha256(path: Path) -> str:
    """What Terraform's filebase64sha256() gives, and aws_lambda_function's source_code_hash takes."""
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode("ascii")


def main(argv: list[str]) -> int:
    output = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT
    try:
        path, files = build(output.resolve())
    except PackageError as err:
        print(f"build_lambda: {err}", file=sys.stderr)
        return 1
    digest = base64_sha256(path)
    print(f"{output}: {len(files)} modules, {path.stat().st_size:,} bytes, base64 SHA-256 {digest}")
    print(f"export TF_VAR_producer_package_base64sha256={digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
