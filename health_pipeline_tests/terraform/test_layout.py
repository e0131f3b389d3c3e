"""The Terraform tree: envs/prod composes every module, each with its four files; `terraform fmt` is clean."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from health_pipeline_tests.support.terraform_hcl import (
    PROFILES,
    TERRAFORM_DIR,
    Stack,
    copy,
    edited_copy,
)

MODULES = ("s3tables", "firehose", "glue", "athena", "iam", "alarms", "alerts", "dagster", "lambda")


def check_module_layout(stack: Stack) -> None:
    for module in MODULES:
        for file_name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
            assert (stack.root / "modules" / module / file_name).is_file(), f"modules/{module}/{file_name} is missing"
    assert set(stack.calls.values()) == set(MODULES), f"envs/prod composes {sorted(stack.calls.values())}"


CHECKS = {check.__name__: check for check in (check_module_layout,)}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("check", CHECKS)
def test_invariant_holds(check: str, profile: str) -> None:
    CHECKS[check](Stack(TERRAFORM_DIR, profile))


def test_a_pristine_copy_passes_every_check(tmp_path: Path) -> None:
    """The edited copies fail because of the edit, not because the copy itself is unreadable."""
    pristine = Stack(copy(tmp_path))
    for check in CHECKS.values():
        check(pristine)


# (check, file under terraform/ or deploy/, original text, replacement): each edit must be caught by its check.
CARELESS_EDITS = [
    # A module call that points at another module's directory: envs/prod no longer composes modules/alarms.
    ("check_module_layout", "envs/prod/main.tf", 'source = "../../modules/alarms"', 'source = "../../modules/alerts"'),
]


@pytest.mark.parametrize(("check", "relative", "original", "replacement"), CARELESS_EDITS)
def test_a_careless_edit_is_caught(tmp_path: Path, check: str, relative: str, original: str, replacement: str) -> None:
    edited = edited_copy(tmp_path, relative, original, replacement)
    with pytest.raises(AssertionError):
        CHECKS[check](Stack(edited))


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed: fmt cannot be checked here")
def test_terraform_fmt_is_clean() -> None:
    done = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-list=true", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, (
        f"not formatted (run `terraform fmt -recursive terraform`):\n{done.stdout}{done.stderr}"
    )
