from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from health_pipeline.alerts.delivery import AlertCursor, deliver
from health_pipeline.alerts.incidents import due_day
from health_pipeline.alerts.liveness import beat
from health_pipeline.alerts.messages import Links, compose
from health_pipeline.defs.alerts import event_log
from health_pipeline.stack import Stack

ALERTS_SENSOR = "alerts_sensor"
OVERDUE_ASSET = "daily_summary_csv"
FAILING_TICKS = 3  # a sensor or schedule is told once it failed this many ticks in a row


def build_alerts_sensor(
    partitions: dg.DailyPartitionsDefinition,
    deadline_hour: int,
    ui_url: str | None,
    jobs: set[str],
    blocking_checks_only: set[str],
    instigators: set[str],
) -> dg.SensorDefinition:
    """alerts_sensor: tells operators through `stack.alert_destination` about failed runs of `jobs`
    (and of asset jobs), failed checks, the daily CSV overdue, and `instigators` whose ticks keep
    failing. The checks of `blocking_checks_only` jobs are all blocking with severity ERROR: their
    failures are told with their failed runs, and their successful runs are not read."""
    zone = ZoneInfo(partitions.timezone)
    first_day = datetime.fromisoformat(partitions.start.isoformat()).date()
    links = Links(ui_url)

    @dg.sensor(
        name=ALERTS_SENSOR,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Tells operators (local: alert files; aws: the SNS topic) about failed runs, failed checks,"
        " an overdue daily CSV and sensors that keep failing. Stop it here to silence alerts.",
    )
    def alerts_sensor(context: dg.SensorEvaluationContext, stack: dg.ResourceParam[Stack]):
        """Reads the instance's event log from its cursor (the storage ids of the last run failure and
        run success it has read): a failed run that Dagster will not retry is one alert with its job,
        partition and reason (Athena's, for a failed query) and its failed checks' expected vs actual
        values; the failed runs of one backfill are one alert; a finished run's failed checks are one
        alert per severity (ERROR, WARN), each check once until it passes again. The daily CSV is
        overdue when yesterday's partition has no materialization at its FreshnessPolicy deadline
        (03:00 in the partition time zone): evaluated here from the event log, because Dagster's
        freshness state is not in its public API (the instance's get_freshness_state_records is internal)
        and is per asset, not per partition. A sensor or schedule whose last 3 ticks failed is told once
        per streak. Each alert is sent once (its incident key); one the destination refused is kept in
        the cursor and sent on the next tick. A tick that completes leaves a heartbeat (aws: a CloudWatch
        data point that the heartbeat alarm watches; local: `health-pipeline alerts status`); one that
        cannot be left is logged and the tick completes all the same."""
        cursor = AlertCursor.parse(context.cursor)
        instance = context.instance
        failures, cursor.run_failure_after = event_log.run_status_changes(
            instance, dg.DagsterEventType.RUN_FAILURE, cursor.run_failure_after, jobs
        )
        successes, cursor.run_success_after = event_log.run_status_changes(
            instance, dg.DagsterEventType.RUN_SUCCESS, cursor.run_success_after, jobs
        )
        failed_runs = event_log.runs_by_id(instance, failures)
        runs = [run for r in failures if (run := event_log.run_failure(instance, r, failed_runs.get(r.run_id)))]
        new_checks = []
        for record in successes:
            if record.event_log_entry.job_name in blocking_checks_only:
                continue  # a failed blocking ERROR check fails its run: a success has none to tell
            new_checks += cursor.newly_failing(*event_log.failed_checks(instance, record.run_id))

        now = datetime.now(UTC)
        day, deadline = due_day(now, zone, deadline_hour)
        overdue = event_log.export_overdue(instance, OVERDUE_ASSET, day, deadline, now) if day >= first_day else None

        failing = cursor.new_streaks(event_log.failing_instigators(instance, instigators, FAILING_TICKS))

        alerts = compose(runs, new_checks, [overdue] if overdue else [], failing, links, zone)
        report = deliver(cursor, alerts, stack.alert_destination)
        context.update_cursor(cursor.dump())
        for alert in report.sent:
            context.log.info(f"alert sent to {stack.alert_destination.where}: {alert.severity} {alert.subject}")
        if report.error:
            context.log.warning(
                f"{len(report.waiting)} alert(s) wait for the next tick: {stack.alert_destination.where}"
                f" refused them ({report.error})"
            )
        # The tick's work is done: its heartbeat tells the watch alarm (aws) or `alerts status` (local).
        if missed := beat(stack.liveness, now):
            context.log.warning(f"no heartbeat left at {stack.liveness.where} ({missed}); the next tick tries again")
        if not report.sent:
            return dg.SkipReason(
                f"{len(report.waiting)} alert(s) wait: {report.error}" if report.error else "nothing to tell"
            )
        return dg.SkipReason(f"{len(report.sent)} alert(s) sent to {stack.alert_destination.where}")

    return alerts_sensor
