"""`health-pipeline preflight`: read-only checks of the live AWS account against what the deployment
and the code need, each PASS, WARN or FAIL with what to do. No Dagster here: the CLI only prints.

The only writes are the export prefix's marker (removed at once) and the test SELECT's result object
in Athena's result location. What each check compares with comes from `preflight.deployment`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from health_pipeline.preflight.access import check_access_mode, check_dagster_role_iam, check_lake_formation_grants
from health_pipeline.preflight.context import Preflight, error_code, is_access_denied
from health_pipeline.preflight.results import (
    EXIT_ALL_PASS,
    EXIT_CANNOT_RUN,
    EXIT_SOME_FAIL,
    FAIL,
    PASS,
    WARN,
    CheckResult,
    PreflightCannotRun,
    exit_code,
    failed,
    summary,
    warned,
)
from health_pipeline.preflight.services import (
    check_alarms,
    check_alerts,
    check_export_prefix,
    check_test_select,
    check_workgroup,
)
from health_pipeline.preflight.stream_and_table import check_stream, check_table
from health_pipeline.settings import Settings
from health_pipeline.stack import Stack

Check = Callable[[Preflight], list[CheckResult]]

# In the order a person reads them: what delivers, what is stored, who may reach it, what queries it,
# where results go, who is told.
CHECKS: tuple[tuple[str, Check], ...] = (
    ("stream", check_stream),
    ("table", check_table),
    ("access mode", check_access_mode),
    ("lake formation grants", check_lake_formation_grants),
    ("iam: dagster role", check_dagster_role_iam),
    ("workgroup", check_workgroup),
    ("test select", check_test_select),
    ("export prefix", check_export_prefix),
    ("alerts", check_alerts),
    ("alarms", check_alarms),
)


def run_preflight(
    settings: Settings, stack: Stack, client_factory: Callable[[str], Any] | None = None
) -> Iterator[CheckResult]:
    """Every check's results, as each finishes, for the aws mode's `stack`. Raises PreflightCannotRun
    (before any result) when the preflight cannot run at all: local mode, or no usable credentials."""
    preflight = Preflight(settings, client_factory, stack)
    preflight.caller  # noqa: B018 - fails here, before any check, without credentials
    for name, check in CHECKS:
        yield from _guarded(name, check, preflight)


def _guarded(name: str, check: Check, preflight: Preflight) -> list[CheckResult]:
    """A check's results; an AWS error it did not expect becomes its one line (WARN when the caller may not read)."""
    try:
        return check(preflight)
    except ClientError as err:
        operation = err.operation_name
        if is_access_denied(err):
            return [
                warned(
                    name,
                    f"not checked: the caller may not {operation} ({error_code(err)})",
                    "run preflight as a principal allowed to read it (the deployment's operator, or the Dagster role)",
                )
            ]
        return [failed(name, f"{operation} failed: {err}", "the error says what; fix it and run preflight again")]
    except BotoCoreError as err:
        return [failed(name, f"AWS could not be reached: {err}", "check the network, AWS_REGION and AWS_ENDPOINT_URL")]
    except Exception as err:  # one check's surprise must not hide the others' results
        text = str(err).splitlines()[0] if str(err) else ""
        return [
            failed(
                name, f"the check stopped: {type(err).__name__}: {text}", "the error says what; fix it and run again"
            )
        ]


__all__ = [
    "CHECKS",
    "EXIT_ALL_PASS",
    "EXIT_CANNOT_RUN",
    "EXIT_SOME_FAIL",
    "FAIL",
    "PASS",
    "WARN",
    "CheckResult",
    "PreflightCannotRun",
    "exit_code",
    "run_preflight",
    "summary",
]
