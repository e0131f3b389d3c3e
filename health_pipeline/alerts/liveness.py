"""What watches the watcher: signs of life that reach the operators without the operators' Dagster.

Every alert comes from `alerts_sensor`, inside the operators' Dagster; when that Dagster stops, the
sensor cannot say so. So each tick of `alerts_sensor` that completes leaves a heartbeat, and
`daily_summary_csv` leaves the age of each day it exports (`stack.liveness`):

- aws mode: CloudWatch data points in the `health-pipeline` namespace, dimension `CodeLocation`,
  which the alarms of terraform/modules/alarms (watch.tf) watch with missing data as breaching: they
  reach the alerts topic when the points stop coming, Dagster or not;
- local mode: the last times, under `$HEALTH_PIPELINE_HOME/watch/`.

`health-pipeline alerts status` reads them back (`stack.liveness.read`) and compares them with the
alarms' windows, read from that watch.tf: one source.

A sign that cannot be left is logged and never fails the tick or the export: the next tick leaves
its own heartbeat. No Dagster here; defs/ calls `beat` and `tell_export`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol

NAMESPACE = "health-pipeline"
CODE_LOCATION = "health_pipeline"  # the code location's name in workspace.yaml and deploy/workspace.yaml
CODE_LOCATION_DIMENSION = "CodeLocation"
HEARTBEAT_METRIC = "AlertsSensorHeartbeat"
# The value is the exported day's age in days in the partition time zone (1: yesterday's CSV), so the
# export alarm can tell the day's export from a backfill of older days; a day as a dimension would be
# a new metric each day, which no alarm (that names its metric's dimensions) could watch.
EXPORT_METRIC = "DailyCsvExportedDayAge"
WATCH_FILE = "watch.tf"  # in terraform/modules/alarms: the alarms and their windows


class WatchError(RuntimeError):
    """The windows cannot be read from the Terraform; the message says where and what to fix."""


@dataclass(frozen=True)
class WatchWindows:
    """How long each sign may be missing before its alarm fires."""

    heartbeat: timedelta
    export: timedelta


@dataclass(frozen=True)
class LastSeen:
    """The last heartbeat and the last export a local home recorded (None: never)."""

    heartbeat_at: datetime | None
    export_at: datetime | None
    export_day: date | None


class Liveness(Protocol):
    """`stack.liveness`: LocalLivenessFiles (local mode) or CloudWatchLiveness (aws mode)."""

    where: str

    def heartbeat(self, at: datetime) -> None: ...

    def exported(self, days: list[date], today: date, at: datetime) -> None: ...

    def read(self, now: datetime, lookback: timedelta) -> LastSeen:
        """The last heartbeat and the last export of yesterday or later, looking back `lookback` from `now`."""
        ...


def day_age(day: date, today: date) -> int:
    """How many days before `today` (the partition time zone's) `day` is: 1 for yesterday."""
    return (today - day).days


def beat(liveness: Liveness, at: datetime) -> str | None:
    """Leave one heartbeat; the error as text when it could not be left (never raised: the caller logs it)."""
    try:
        liveness.heartbeat(at)
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return None


def tell_export(liveness: Liveness, days: list[date], today: date, at: datetime) -> str | None:
    """Say that `days` were exported; the error as text when it could not be said (never raised: the
    CSVs are written either way, and the export alarm fires if no later export is told)."""
    try:
        liveness.exported(days, today, at)
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return None


def read_windows(alarms_module_dir: Path) -> WatchWindows:
    """The heartbeat and export windows the alarms use: the `heartbeat_window_minutes` and
    `export_window_hours` locals of terraform/modules/alarms/watch.tf."""
    import hcl2  # python-hcl2 only where Terraform is read

    path = alarms_module_dir / WATCH_FILE
    try:
        with path.open(encoding="utf-8") as handle:
            document = hcl2.load(handle)
    except OSError as err:
        raise WatchError(
            f"cannot read the alarms' windows from {path} ({err}); set HEALTH_PIPELINE_TERRAFORM_DIR to the"
            " directory that holds modules/alarms."
        ) from err
    found: dict[str, object] = {}
    for block in document.get("locals", []):
        found.update(block)
    try:
        minutes, hours = int(str(found["heartbeat_window_minutes"])), int(str(found["export_window_hours"]))
    except (KeyError, ValueError) as err:
        raise WatchError(
            f"{path} must set the locals heartbeat_window_minutes and export_window_hours as whole numbers ({err})"
        ) from err
    return WatchWindows(heartbeat=timedelta(minutes=minutes), export=timedelta(hours=hours))


@dataclass(frozen=True)
class WatchStatus:
    lines: list[str]
    healthy: bool


def _ago(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min ago"
    return f"{minutes // 60} h {minutes % 60} min ago"


def _window(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h"


def watch_status(seen: LastSeen, windows: WatchWindows, now: datetime, where: str) -> WatchStatus:
    """What `health-pipeline alerts status` prints: each sign's age against its alarm's window; healthy
    only when both are within it (a sign never left counts as missing, as the alarms count it)."""
    lines: list[str] = []
    healthy = True
    if seen.heartbeat_at is None:
        healthy = False
        lines.append(
            f"alerts_sensor: NEVER ticked (no heartbeat at {where}). Start the Dagster daemon (local: `make dev`,"
            " or `dagster-daemon run` with this HEALTH_PIPELINE_HOME; aws: docs/operations/deploying.md):"
            " alerts_sensor runs by default, every 60 s."
        )
    else:
        age = now - seen.heartbeat_at
        late = age > windows.heartbeat
        healthy &= not late
        lines.append(
            f"alerts_sensor: last ticked {seen.heartbeat_at.isoformat(timespec='seconds')} ({_ago(age)});"
            f" window {_window(windows.heartbeat)}: "
            + (
                "LATE. Is the Dagster daemon running (`make dev`; aws: docs/operations/deploying.md)? Is"
                " alerts_sensor on (UI: Automation)? Until it ticks, no alert is sent."
                if late
                else "ok"
            )
        )
    if seen.export_at is None:
        healthy = False
        lines.append(
            f"daily_summary_csv: NEVER exported yesterday's CSV (nothing at {where}). daily_summary_schedule"
            " exports it at 01:00 (partition time zone) while the daemon runs; or materialize daily_summary_csv"
            " (`make demo`)."
        )
    else:
        age = now - seen.export_at
        late = age > windows.export
        healthy &= not late
        day = f" (the CSV of {seen.export_day})" if seen.export_day else ""
        lines.append(
            f"daily_summary_csv: last exported {seen.export_at.isoformat(timespec='seconds')}{day} ({_ago(age)});"
            f" window {_window(windows.export)}: "
            + (
                "LATE. Is daily_summary_schedule on and the daemon running? Did the last daily_summary_job fail"
                " (its alert)?"
                if late
                else "ok"
            )
        )
    return WatchStatus(lines, healthy)


def current_status(liveness: Liveness, alarms_module: Path, now: datetime | None = None) -> WatchStatus:
    """`health-pipeline alerts status`: the signs read now against the alarms' windows (Terraform's).
    Raises WatchError when the windows or the signs cannot be read."""
    now = now or datetime.now(UTC)
    windows = read_windows(alarms_module)
    try:
        seen = liveness.read(now, 2 * windows.export)
    except WatchError:
        raise
    except Exception as err:  # aws: CloudWatch refused or unreachable
        raise WatchError(
            f"cannot read {liveness.where} ({type(err).__name__}: {err}); aws: the caller needs cloudwatch:GetMetricData"
        ) from err
    return watch_status(seen, windows, now, liveness.where)
