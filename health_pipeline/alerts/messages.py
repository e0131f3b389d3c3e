"""Alerts an operator can act on: what failed, which partition or check, why, when, and a link into
the Dagster UI (HEALTH_PIPELINE_UI_URL)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from health_pipeline.alerts.incidents import CheckFailed, ExportOverdue, RunFailed, TicksFailing
from health_pipeline.alerts.liveness import CODE_LOCATION

ERROR, WARN, INFO = "ERROR", "WARN", "INFO"
SUBJECT_PREFIX = "[health-pipeline]"
MAX_REASON = 1_500  # a reason's characters in a message (an Athena reason or a traceback can be long)
MAX_LISTED = 10  # partitions or checks named in one message; the rest are counted


class AlertDestinationError(RuntimeError):
    """The alert destination is not set up (no topic, no directory); the message says what to set."""


@dataclass(frozen=True)
class Alert:
    key: str
    severity: str
    subject: str
    body: str
    link: str | None
    at: float

    def as_dict(self) -> dict:
        return {**asdict(self), "at_utc": datetime.fromtimestamp(self.at, UTC).isoformat(timespec="seconds")}

    @classmethod
    def from_dict(cls, data: dict) -> Alert:
        return cls(**{name: data[name] for name in ("key", "severity", "subject", "body", "link", "at")})


@dataclass(frozen=True)
class Links:
    """Addresses in the Dagster UI; with no base URL (HEALTH_PIPELINE_UI_URL unset) there are none."""

    ui_url: str | None
    location: str = CODE_LOCATION  # the code location's name in workspace.yaml and deploy/workspace.yaml

    def _at(self, path: str) -> str | None:
        return f"{self.ui_url.rstrip('/')}/{path}" if self.ui_url else None

    def run(self, run_id: str) -> str | None:
        return self._at(f"runs/{run_id}")

    def backfill(self, backfill_id: str) -> str | None:
        return self._at(f"runs/b/{backfill_id}?tab=partitions")

    def asset(self, asset: str, view: str | None = None) -> str | None:
        return self._at(f"assets/{quote(asset)}" + (f"?view={view}" if view else ""))

    def instigator(self, kind: str, name: str) -> str | None:
        """A sensor's or schedule's page (`kind`: sensor or schedule)."""
        return self._at(f"locations/{self.location}/{kind}s/{quote(name)}")


def _when(at: float, zone: ZoneInfo) -> str:
    moment = datetime.fromtimestamp(at, UTC)
    return f"{moment.astimezone(zone).isoformat(timespec='seconds')} ({moment.isoformat(timespec='seconds')})"


def _short(text: str, limit: int = MAX_REASON) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _lines(fields: list[tuple[str, str | None]]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in fields if value)


def _check_lines(checks: tuple[CheckFailed, ...] | list[CheckFailed]) -> list[str]:
    lines = []
    for check in checks[:MAX_LISTED]:
        figures = ", ".join(f"{name} {value}" for name, value in check.metadata.items())
        where = f" [{check.partition}]" if check.partition else ""
        lines.append(f"- {check.asset} / {check.check}{where} ({check.severity}): {check.description}")
        if figures:
            lines.append(f"  {figures}")
    if len(checks) > MAX_LISTED:
        lines.append(f"- and {len(checks) - MAX_LISTED} more")
    return lines


def run_failed_alert(run: RunFailed, links: Links, zone: ZoneInfo) -> Alert:
    where = f" for {run.partition}" if run.partition else ""
    reason = _short(run.reason)
    body = [
        f"Run of {run.job}{where} failed; Dagster will not retry it.",
        _lines([
            ("Job", run.job),
            ("Partition", run.partition or "none (the job is not partitioned)"),
            ("Reason", reason),
            *[(name.replace("_", " ").capitalize(), value) for name, value in run.details.items()],
            ("When", _when(run.at, zone)),
            ("Run", run.run_id),
            ("Link", links.run(run.run_id)),
        ]),
    ]  # fmt: skip
    if run.checks:
        body += ["Failed checks (expected vs actual):", *_check_lines(run.checks)]
    body.append("Re-execute the run from the link once the cause is fixed.")
    return Alert(run.key, ERROR, f"{run.job} failed{where}", "\n".join(body), links.run(run.run_id), run.at)


def backfill_failed_alert(backfill_id: str, runs: list[RunFailed], links: Links, zone: ZoneInfo) -> Alert:
    runs = sorted(runs, key=lambda r: (r.partition or "", r.at))
    jobs = ", ".join(sorted({r.job for r in runs}))
    partitions = [r.partition or "-" for r in runs]
    reasons: dict[str, list[str]] = defaultdict(list)
    for run in runs:
        reasons[_short(run.reason, 300)].append(run.partition or run.run_id)
    listed = ", ".join(partitions[:MAX_LISTED]) + (
        f" and {len(partitions) - MAX_LISTED} more" if len(partitions) > MAX_LISTED else ""
    )
    body = [
        f"Backfill {backfill_id}: {len(runs)} run(s) of {jobs} failed.",
        _lines([("Backfill", backfill_id), ("Failed partitions", listed), ("When", _when(runs[0].at, zone)),
                ("Link", links.backfill(backfill_id))]),
        "Reasons:",
        *[f"- {reason} ({len(where)} run(s): {', '.join(where[:3])}{' ...' if len(where) > 3 else ''})"
          for reason, where in reasons.items()],
    ]  # fmt: skip
    checks = [check for run in runs for check in run.checks]
    if checks:
        body += ["Failed checks (expected vs actual):", *_check_lines(checks)]
    body += [
        f"First failed run: {links.run(runs[0].run_id) or runs[0].run_id}",
        "This is the one alert for this backfill: further failures of it show on the backfill's page.",
    ]
    subject = f"backfill {backfill_id} of {jobs}: {len(runs)} run(s) failed"
    return Alert(runs[0].key, ERROR, subject, "\n".join(body), links.backfill(backfill_id), runs[0].at)


def checks_failed_alert(checks: list[CheckFailed], links: Links, zone: ZoneInfo) -> Alert:
    severity = ERROR if any(c.severity == ERROR for c in checks) else WARN
    first = checks[0]
    names = ", ".join(dict.fromkeys(c.check for c in checks))
    where = f" for {first.partition}" if first.partition and len({c.partition for c in checks}) == 1 else ""
    link = links.asset(first.asset, view="checks")
    body = [
        f"{len(checks)} asset check(s) failed with severity {severity}{where}.",
        *_check_lines(checks),
        _lines([("When", _when(first.at, zone)), ("Run", first.run_id), ("Link", link)]),
        "Each check is told once until it passes again.",
    ]
    key = ";".join(sorted(c.key for c in checks))
    return Alert(key, severity, f"check {names} failed ({severity}){where}", "\n".join(body), link, first.at)


def overdue_alert(overdue: ExportOverdue, links: Links, zone: ZoneInfo) -> Alert:
    link = links.asset(overdue.asset)
    deadline = overdue.deadline.isoformat(timespec="minutes")
    body = [
        f"The {overdue.asset} of {overdue.day} is not there by its deadline {deadline}: that partition"
        " has never been materialized.",
        _lines(
            [("Asset", overdue.asset), ("Partition", overdue.day.isoformat()), ("Deadline", deadline), ("Link", link)]
        ),  # fmt: skip
        "Look for a failed or still running daily_summary_job run of that day, or launch one from the link.",
    ]
    subject = f"{overdue.asset} {overdue.day} overdue"
    return Alert(overdue.key, ERROR, subject, "\n".join(body), link, overdue.deadline.timestamp())


def ticks_failing_alert(failing: TicksFailing, links: Links, zone: ZoneInfo) -> Alert:
    link = links.instigator(failing.kind, failing.name)
    body = [
        f"The {failing.kind} {failing.name} failed its last {failing.failures} ticks.",
        _lines([("Since", _when(failing.since, zone)), ("Newest error", _short(failing.error)), ("Link", link)]),
        "Until it ticks again, what it watches is not watched.",
    ]
    subject = f"{failing.kind} {failing.name} keeps failing"
    return Alert(failing.key, ERROR, subject, "\n".join(body), link, failing.since)


def compose(
    runs: list[RunFailed],
    checks: list[CheckFailed],
    overdue: list[ExportOverdue],
    failing: list[TicksFailing],
    links: Links,
    zone: ZoneInfo,
) -> list[Alert]:
    """One alert per incident, except: a backfill's failed runs are one alert; a run's failed checks
    are one alert per severity (a failed run's checks are in its own alert)."""
    alerts: list[Alert] = []
    by_backfill: dict[str, list[RunFailed]] = defaultdict(list)
    for run in runs:
        if run.backfill_id:
            by_backfill[run.backfill_id].append(run)
        else:
            alerts.append(run_failed_alert(run, links, zone))
    alerts += [backfill_failed_alert(backfill, group, links, zone) for backfill, group in by_backfill.items()]
    grouped: dict[tuple[str | None, str], list[CheckFailed]] = defaultdict(list)
    for check in checks:
        grouped[(check.run_id, check.severity)].append(check)
    alerts += [checks_failed_alert(group, links, zone) for group in grouped.values()]
    alerts += [overdue_alert(o, links, zone) for o in overdue]
    alerts += [ticks_failing_alert(f, links, zone) for f in failing]
    return sorted(alerts, key=lambda a: a.at)


def test_alert(mode: str, where: str, links: Links) -> Alert:
    now = datetime.now(UTC)
    body = (
        f"A test alert from `health-pipeline alerts test` ({mode} mode), sent to {where}.\n"
        "If you read this, alerts reach you; nothing failed.\n"
        + _lines([("When", now.isoformat(timespec="seconds")), ("Link", links._at(""))])
    )
    return Alert(f"test:{now.timestamp():.6f}", INFO, "test alert", body, links._at(""), now.timestamp())
