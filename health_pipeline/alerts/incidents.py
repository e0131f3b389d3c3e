"""What an operator must hear about, as plain data read from the Dagster instance by defs/alerts.

Each incident has a deterministic `key`: the same incident read again (the next tick, a restarted
daemon) has the same key, and an alert is sent once per key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class CheckFailed:
    """An asset-check evaluation that did not pass, with its severity (ERROR or WARN)."""

    asset: str
    check: str
    partition: str | None
    severity: str
    description: str
    metadata: dict[str, str]
    run_id: str | None
    at: float

    @property
    def identity(self) -> str:
        """The check (and partition) it is about: one open incident each until the check passes again."""
        return f"{self.asset}:{self.check}" + (f"[{self.partition}]" if self.partition else "")

    @property
    def key(self) -> str:
        return f"check-failed:{self.identity}:{self.run_id or 'runless'}"


@dataclass(frozen=True)
class RunFailed:
    """A run that failed and that Dagster will not retry; `checks` are its failed check evaluations."""

    run_id: str
    job: str
    partition: str | None
    backfill_id: str | None
    reason: str
    details: dict[str, str]
    at: float
    checks: tuple[CheckFailed, ...] = field(default=())

    @property
    def key(self) -> str:
        return f"backfill-failed:{self.backfill_id}" if self.backfill_id else f"run-failed:{self.run_id}"


@dataclass(frozen=True)
class ExportOverdue:
    """The day's export has no materialization by its deadline."""

    asset: str
    day: date
    deadline: datetime

    @property
    def key(self) -> str:
        return f"overdue:{self.asset}:{self.day.isoformat()}"


@dataclass(frozen=True)
class TicksFailing:
    """A sensor or schedule whose last ticks all failed; keyed by the first tick of the streak."""

    name: str
    kind: str
    failures: int
    first_failed_tick: int
    since: float
    error: str

    @property
    def key(self) -> str:
        return f"ticks-failing:{self.kind}:{self.name}:{self.first_failed_tick}"


def due_day(now: datetime, zone: ZoneInfo, deadline_hour: int) -> tuple[date, datetime]:
    """The day whose export is due at the latest deadline at or before `now`, and that deadline: the
    export of day D is due at `deadline_hour`:00 on D+1 in `zone` (what `FreshnessPolicy.cron(
    deadline_cron="0 H * * *", lower_bound_delta=H hours)` on a daily-partitioned asset means)."""
    local = now.astimezone(zone)
    deadline_day = local.date() if local.hour >= deadline_hour else local.date() - timedelta(days=1)
    deadline = datetime(deadline_day.year, deadline_day.month, deadline_day.day, deadline_hour, tzinfo=zone)
    return deadline_day - timedelta(days=1), deadline


def failing_streak(ticks: list[tuple[int, str, float, str]], threshold: int) -> tuple[int, int, float, str] | None:
    """From an instigator's ticks, newest first, as (tick id, status, timestamp, error): when its newest
    finished ticks are `threshold` or more failures in a row, (failures, the oldest of them's id and
    time, the newest error). A tick still running is passed over; a success or a skip ends the streak."""
    streak = []
    for tick in ticks:
        if tick[1] == "STARTED":
            continue
        if tick[1] != "FAILURE":
            break
        streak.append(tick)
    if len(streak) < threshold:
        return None
    return len(streak), streak[-1][0], streak[-1][2], streak[0][3]
