"""Running the CLI as another user (nobody) from a checkout that user may not be able to read.

A clone can sit under a private directory (`/root`, mode 0700): nobody then cannot import the
project or its virtual environment from there. `readable_cli` prepares a copy nobody can read, in a
world-readable directory: the environment's files hard-linked where the file system allows (instant,
no space), copied otherwise, and the project's own code and Terraform copied beside them."""

import os
import shutil
import sys
from pathlib import Path

from health_pipeline.settings import PROJECT_ROOT


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def readable_cli(base: Path) -> tuple[list[str], dict[str, str]]:
    """The command and extra environment that run `health-pipeline` from copies under `base`."""
    venv = base / "venv"
    shutil.copytree(sys.prefix, venv, symlinks=True, copy_function=_link_or_copy)
    project = base / "project"
    for part in ("health_pipeline", "terraform"):
        shutil.copytree(PROJECT_ROOT / part, project / part, ignore=shutil.ignore_patterns("__pycache__", ".terraform"))
    for path in (base, venv, project, *project.rglob("*")):
        path.chmod(path.stat().st_mode | 0o005 | (0o001 if path.is_dir() else 0))
    python = venv / "bin" / Path(sys.executable).name
    # PYTHONPATH comes before the editable install's path entry, which names the private checkout.
    return [str(python), "-m", "health_pipeline.cli"], {"PYTHONPATH": str(project)}
