"""What watches the watcher, as Terraform: the heartbeat and export alarms of modules/alarms/watch.tf
and the Dagster role's PutMetricData, read offline for each deployment profile, with careless edits
that each check must catch."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from health_pipeline.alerts.liveness import (
    CODE_LOCATION,
    CODE_LOCATION_DIMENSION,
    EXPORT_METRIC,
    HEARTBEAT_METRIC,
    NAMESPACE,
    read_windows,
)
from health_pipeline.definitions import defs
from health_pipeline.defs.summary.assets import CSV_DEADLINE_HOUR
from health_pipeline.schema.terraform import _unquote
from health_pipeline.settings import PROJECT_ROOT
from health_pipeline_tests.support.terraform_hcl import (
    PROFILES,
    TERRAFORM_DIR,
    Stack,
    alerts_topic,
    each,
    for_each_keys,
    statements,
)

HEARTBEAT_WINDOW = timedelta(minutes=15)  # the promise: told within 15 minutes of the last tick
EXPORT_MARGIN = timedelta(hours=3)  # at most this much later than the deadline
DAY = 86_400
MAX_DESCRIPTION = 1024  # PutMetricAlarm's AlarmDescription: 0 to 1,024 characters
RECOVERY_HEADING = "When the operators' Dagster stops"


def _alarms(stack: Stack) -> dict[str, dict]:
    """The module's alarms by metric name."""
    return {
        stack.value("alarms", body["metric_name"]): {"__name__": name, **body}
        for name, body in stack.typed("alarms", "resource", "aws_cloudwatch_metric_alarm").items()
    }


def _number(stack: Stack, raw: object) -> int:
    value = stack.value("alarms", raw)
    assert isinstance(value, int), f"{raw!r} is {value!r}, not a number known offline"
    return value


def _evaluation_range(stack: Stack, alarm: dict) -> tuple[int, int, int]:
    """period, evaluation periods and the range (s), held to CloudWatch's documented limits (CloudWatch
    API Reference, PutMetricAlarm, Period: at most 604,800 s, and at most 86,400 s for a period under
    3,600 s; a period is 10, 20, 30 or a multiple of 60)."""
    period, periods = _number(stack, alarm["period"]), _number(stack, alarm["evaluation_periods"])
    assert period in (10, 20, 30) or period % 60 == 0, f"{alarm['__name__']}: period {period} is not allowed"
    span = period * periods
    assert span <= 7 * DAY, f"{alarm['__name__']}: {span} s to evaluate, CloudWatch allows 604,800"
    assert period >= 3600 or span <= DAY, (
        f"{alarm['__name__']}: {span} s with a {period} s period; under one hour a period allows one day"
    )
    return period, periods, span


def _description(stack: Stack, alarm: dict) -> str:
    text = stack.value("alarms", alarm["alarm_description"])
    assert isinstance(text, str) and "${" not in text, f"{alarm['__name__']}: description not known offline: {text!r}"
    return text


def _log_groups(stack: Stack) -> dict[str, str]:
    """modules/dagster's log groups in this profile, by component."""
    body = stack.resource("dagster", "aws_cloudwatch_log_group", "this")
    return {key: str(each(stack, "dagster", body["name"], key)) for key in for_each_keys(stack, "dagster", body)}


def check_watch_alarms(stack: Stack) -> None:
    """A heartbeat alarm (no data point for 15 minutes) and an export alarm (none for a day past the
    schedule's deadline, with a margin), on the metrics the code publishes, missing data breaching,
    their windows those `alerts status` reads, each description saying what stopped, where to look,
    how to recover and how to silence it."""
    alarms = _alarms(stack)
    windows = read_windows(stack.root / "modules" / "alarms")
    groups = _log_groups(stack)
    single_task = set(groups) == {"dagster"}
    for metric in (HEARTBEAT_METRIC, EXPORT_METRIC):
        alarm = alarms.get(metric)
        assert alarm is not None, f"modules/alarms has no alarm on {metric}"
        name = alarm["__name__"]
        assert stack.value("alarms", alarm["namespace"]) == NAMESPACE, f"{name}: not the {NAMESPACE} namespace"
        dimensions = stack.value("alarms", alarm["dimensions"])
        assert isinstance(dimensions, dict), f"{name}: dimensions {dimensions!r}"
        assert {k: stack.value("alarms", v) for k, v in dimensions.items() if k != "__is_block__"} == {
            CODE_LOCATION_DIMENSION: CODE_LOCATION
        }, f"{name}: dimensions {dimensions!r} are not the ones the code publishes"
        assert stack.value("alarms", alarm.get("treat_missing_data")) == "breaching", (
            f"{name}: missing data must be breaching: missing data is what this alarm is for"
        )
        periods = _number(stack, alarm["evaluation_periods"])
        assert _number(stack, alarm.get("datapoints_to_alarm", alarm["evaluation_periods"])) == periods, (
            f"{name}: it must alarm only when every period of its range is breaching (M = N)"
        )
        for field in ("alarm_actions", "ok_actions"):
            assert _unquote(alarm.get(field, "")) == "${var.alarm_actions}", (
                f"{name}: {field} must be var.alarm_actions"
            )
        actions = [stack.value(None, a) for a in stack.call_args("alarms").get("alarm_actions", [])]
        assert actions == [alerts_topic(stack)], f"{name}: actions {actions!r}, not the alerts topic"

        description = _description(stack, alarm)
        assert len(description) <= MAX_DESCRIPTION, f"{name}: description of {len(description)} characters"
        alarm_name = stack.value("alarms", alarm["alarm_name"])
        assert f"aws cloudwatch disable-alarm-actions --alarm-names {alarm_name} " in description, (
            f"{name}: the description must say how to silence {alarm_name} during planned maintenance"
        )
        assert "docs/operations/deploying.md" in description and RECOVERY_HEADING in description, (
            f"{name}: the description must point to deploying.md's recovery steps"
        )

    heartbeat = alarms[HEARTBEAT_METRIC]
    _, _, span = _evaluation_range(stack, heartbeat)
    assert timedelta(seconds=span) == windows.heartbeat <= HEARTBEAT_WINDOW, (
        f"the heartbeat alarm evaluates {span} s; alerts status uses {windows.heartbeat}; at most {HEARTBEAT_WINDOW}"
    )
    assert stack.value("alarms", heartbeat["statistic"]) == "SampleCount"
    assert stack.value("alarms", heartbeat["comparison_operator"]) == "LessThanThreshold"
    assert _number(stack, heartbeat["threshold"]) == 1, "a period with one heartbeat must not breach"
    text = _description(stack, heartbeat)
    daemon = groups["dagster" if single_task else "daemon"]
    assert f"aws logs tail {daemon} " in text, f"the heartbeat alarm must name the daemon's log group {daemon}"
    assert "/deployment/daemons" in text, "the heartbeat alarm must point to the UI's daemon heartbeats"

    export = alarms[EXPORT_METRIC]
    period, _, span = _evaluation_range(stack, export)
    cron = defs.resolve_schedule_def("daily_summary_schedule").cron_schedule
    minute, hour = (int(part) for part in str(cron).split()[:2])
    deadline = timedelta(days=1) + timedelta(hours=CSV_DEADLINE_HOUR) - timedelta(hours=hour, minutes=minute)
    assert timedelta(seconds=span) == windows.export, (
        f"the export alarm evaluates {span} s, alerts status {windows.export}"
    )
    assert deadline < windows.export <= deadline + EXPORT_MARGIN, (
        f"the export alarm's window {windows.export} must pass the schedule's deadline ({deadline} after an export"
        f" at {cron}) by a margin of at most {EXPORT_MARGIN}"
    )
    assert stack.value("alarms", export["statistic"]) == "Minimum"
    assert stack.value("alarms", export["comparison_operator"]) == "GreaterThanThreshold"
    assert _number(stack, export["threshold"]) == 1, "yesterday's CSV (age 1) must not breach; older days must"
    text = _description(stack, export)
    runs = groups["dagster" if single_task else "run"]
    assert f"aws logs tail {runs} " in text, f"the export alarm must name the runs' log group {runs}"
    assert period >= 3600


def check_watch_names_match(stack: Stack) -> None:
    """The code location the metrics carry is the one both workspaces load, and deploying.md has the
    recovery steps the descriptions point to."""
    locations = {
        path: [e[next(iter(e))]["location_name"] for e in yaml.safe_load(path.read_text())["load_from"]]
        for path in (PROJECT_ROOT / "workspace.yaml", stack.deploy / "workspace.yaml")
    }
    for path, names in locations.items():
        assert names == [CODE_LOCATION], f"{path} loads {names}; the heartbeat's dimension is {CODE_LOCATION}"
    deploying = (PROJECT_ROOT / "docs" / "operations" / "deploying.md").read_text(encoding="utf-8")
    assert f"## {RECOVERY_HEADING}" in deploying, f"deploying.md has no section '{RECOVERY_HEADING}'"


def check_watch_metric_permission(stack: Stack) -> None:
    """The Dagster role may PutMetricData in the pipeline's namespace and nowhere else."""
    putting = [
        st
        for st in statements(stack, "iam", "dagster")
        if "cloudwatch:PutMetricData" in {_unquote(a) for a in st["actions"]}
    ]
    assert len(putting) == 1, f"{len(putting)} statements of the Dagster policy grant cloudwatch:PutMetricData"
    (statement,) = putting
    assert {_unquote(a) for a in statement["actions"]} == {"cloudwatch:PutMetricData"}, (
        "the PutMetricData statement grants more than PutMetricData"
    )
    conditions = [
        (_unquote(c["test"]), _unquote(c["variable"]), [stack.value("iam", v) for v in c["values"]])
        for c in statement.get("condition", [])
    ]
    assert ("StringEquals", "cloudwatch:namespace", [NAMESPACE]) in conditions, (
        f"PutMetricData must be limited to the {NAMESPACE} namespace (cloudwatch:namespace); conditions: {conditions}"
    )


CHECKS = {
    check.__name__: check for check in (check_watch_alarms, check_watch_names_match, check_watch_metric_permission)
}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("check", CHECKS)
def test_invariant_holds(check: str, profile: str) -> None:
    CHECKS[check](Stack(TERRAFORM_DIR, profile))


def test_the_windows_alerts_status_reads_are_the_alarms() -> None:
    windows = read_windows(TERRAFORM_DIR / "modules" / "alarms")
    assert windows.heartbeat == timedelta(minutes=15) and windows.export == timedelta(hours=27)


# (check, file under terraform/, text, replacement): each edit must be caught (standard profile; the
# edits of what differs by profile in both, below).
CARELESS_EDITS = [
    ("check_watch_alarms", "modules/alarms/watch.tf", "  treat_missing_data = \"breaching\"\n\n  alarm_actions",
     "  treat_missing_data = \"notBreaching\"\n\n  alarm_actions"),
    ("check_watch_alarms", "modules/alarms/watch.tf", "heartbeat_window_minutes = 15", "heartbeat_window_minutes = 60"),
    ("check_watch_alarms", "modules/alarms/watch.tf", "export_window_hours = 27", "export_window_hours = 24"),
    ("check_watch_alarms", "modules/alarms/watch.tf", "export_window_hours = 27", "export_window_hours = 200"),
    ("check_watch_alarms", "modules/alarms/watch.tf", "  period            = 3600", "  period            = 300"),
    ("check_watch_alarms", "modules/alarms/watch.tf", "  datapoints_to_alarm = local.export_window_hours",
     "  datapoints_to_alarm = 1"),
    ("check_watch_alarms", "modules/alarms/watch.tf", "  treat_missing_data = \"breaching\"\n\n  alarm_actions = var.alarm_actions\n  ok_actions    = var.alarm_actions",
     "  treat_missing_data = \"breaching\"\n\n  alarm_actions = var.alarm_actions"),
    ("check_watch_alarms", "modules/alarms/watch.tf", 'metric_name       = "AlertsSensorHeartbeat"',
     'metric_name       = "Heartbeat"'),
    ("check_watch_alarms", "modules/alarms/watch.tf", 'code_location    = "health_pipeline"',
     'code_location    = "health-pipeline"'),
    ("check_watch_alarms", "modules/alarms/watch.tf", "aws cloudwatch disable-alarm-actions --alarm-names ${var.name_prefix}-dagster-heartbeat",
     "aws cloudwatch disable-alarm-actions"),
    ("check_watch_alarms", "modules/alarms/watch.tf", '"SampleCount"', '"Average"'),
    ("check_watch_alarms", "envs/prod/main.tf", "  alarm_actions              = [module.alerts.topic_arn]\n",
     "  alarm_actions              = []\n"),
    ("check_watch_metric_permission", "modules/iam/main.tf", "values   = [var.metric_namespace]", 'values   = ["*"]'),
    ("check_watch_metric_permission", "modules/iam/main.tf", 'variable = "cloudwatch:namespace"',
     'variable = "aws:SourceAccount"'),
    ("check_watch_metric_permission", "modules/alarms/watch.tf", 'metric_namespace = "health-pipeline"',
     'metric_namespace = "AWS/Firehose"'),
]  # fmt: skip


PROFILE_EDITS = [
    ("check_watch_alarms", "envs/prod/main.tf", '"/ecs/health-pipeline/dagster" : "/ecs/health-pipeline/daemon"',
     '"/ecs/health-pipeline/daemon" : "/ecs/health-pipeline/dagster"'),
    ("check_watch_alarms", "envs/prod/main.tf", '"/ecs/health-pipeline/dagster" : "/ecs/health-pipeline/run"',
     '"/ecs/health-pipeline/run" : "/ecs/health-pipeline/dagster"'),
]  # fmt: skip


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    shutil.copytree(PROJECT_ROOT / "deploy", tmp_path / "deploy")
    return copy


@pytest.mark.parametrize(
    ("check", "relative", "text", "replacement", "profile"),
    [(*edit, "standard") for edit in CARELESS_EDITS] + [(*edit, p) for edit in PROFILE_EDITS for p in PROFILES],
)
def test_a_careless_edit_is_caught(
    tmp_path: Path, check: str, relative: str, text: str, replacement: str, profile: str
) -> None:
    copy = _copy(tmp_path)
    target = copy / relative
    source = target.read_text(encoding="utf-8")
    assert source.count(text) == 1, f"{relative} no longer contains {text!r} exactly once: update this edit"
    target.write_text(source.replace(text, replacement), encoding="utf-8")
    with pytest.raises(AssertionError):
        CHECKS[check](Stack(copy, profile))


@pytest.mark.parametrize("profile", PROFILES)
def test_a_pristine_copy_passes(tmp_path: Path, profile: str) -> None:
    pristine = Stack(_copy(tmp_path), profile)
    for check in CHECKS.values():
        check(pristine)


def test_the_descriptions_read_as_a_person_gets_them() -> None:
    """What the standard profile's e-mail says, in full: no unresolved reference, under the limit."""
    stack = Stack(TERRAFORM_DIR, "standard")
    for alarm in _alarms(stack).values():
        if alarm["__name__"] in ("heartbeat", "export"):
            text = _description(stack, alarm)
            assert re.search(r"STOPPED: .* LOOK: .* RECOVER: .* SILENCE ", text), text
