"""What the alerts sensor reads from the Dagster instance, through its public API, as the plain
incidents of `health_pipeline.alerts.incidents`. Works the same on SQLite (`make dev`) and PostgreSQL
(deploy/dagster.yaml): run status changes are read by storage id from the event log's index."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Literal

import dagster as dg

from health_pipeline.alerts.incidents import CheckFailed, ExportOverdue, RunFailed, TicksFailing, failing_streak

# Dagster's run tags (dagster._core.storage.tags; spelled out here to keep to the public API).
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG, RANGE_END_TAG = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
BACKFILL_TAG = "dagster/backfill"
WILL_RETRY_TAG, MAX_RETRIES_TAG, RETRY_NUMBER_TAG = "dagster/will_retry", "dagster/max_retries", "dagster/retry_number"
# A failure's metadata worth an operator's eyes (run_query puts Athena's there), in this order.
FAILURE_DETAILS = ("reason", "state", "error_category", "error_type", "query_id", "console")
FIRST_TICK_LOOKBACK_S = 24 * 3600  # with no cursor yet, runs that ended in the last day are told
RECORDS_PER_TICK = 500


def partition_of(tags: dict[str, str]) -> str | None:
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG]
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        start, end = tags[RANGE_START_TAG], tags[RANGE_END_TAG]
        return start if start == end else f"{start}...{end}"
    return None


def will_retry(instance: dg.DagsterInstance, tags: dict[str, str]) -> bool:
    """Whether Dagster's run retries (the daemon, `run_retries` in dagster.yaml) will retry this failed
    run: the instance's own verdict (tag dagster/will_retry) when it has written it, else the run's
    retry count against dagster/max_retries (or the instance's default)."""
    if WILL_RETRY_TAG in tags:
        return tags[WILL_RETRY_TAG].lower() == "true"
    if not instance.run_retries_enabled:
        return False
    maximum = int(tags.get(MAX_RETRIES_TAG, instance.run_retries_max_retries))
    return int(tags.get(RETRY_NUMBER_TAG, 0)) < maximum


def _metadata_text(value: object) -> str:
    """A metadata entry as text: every dg.MetadataValue holds its plain value in `.value`."""
    plain = value.value if isinstance(value, dg.MetadataValue) else value
    return plain if isinstance(plain, str) else json.dumps(plain, ensure_ascii=False, default=str)


# The run status changes the alerts read (what RunStatusChangeRecordsFilter takes).
RunEnded = Literal[dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.RUN_SUCCESS]


def run_status_changes(
    instance: dg.DagsterInstance, event_type: RunEnded, after: int | None, jobs: set[str] | None
) -> tuple[list[dg.EventLogRecord], int | None]:
    """Run status changes of `event_type` after storage id `after` (None: those of the last day), oldest
    first, at most RECORDS_PER_TICK; and the storage id read up to."""
    if after is None:
        records_filter = dg.RunStatusChangeRecordsFilter(
            event_type, after_timestamp=time.time() - FIRST_TICK_LOOKBACK_S
        )
    else:
        records_filter = dg.RunStatusChangeRecordsFilter(event_type, after_storage_id=after)
    records = list(instance.fetch_run_status_changes(records_filter, limit=RECORDS_PER_TICK, ascending=True).records)
    if after is None and not records:  # nothing recent: start at the end of the log
        latest = instance.fetch_run_status_changes(event_type, limit=1).records
        return [], latest[0].storage_id if latest else 0
    last = records[-1].storage_id if records else after
    return [r for r in records if jobs is None or r.event_log_entry.job_name in jobs or _asset_job(r)], last


def _asset_job(record: dg.EventLogRecord) -> bool:
    return (record.event_log_entry.job_name or "").startswith("__ASSET_JOB")


def failed_checks(instance: dg.DagsterInstance, run_id: str) -> tuple[list[CheckFailed], set[str]]:
    """The run's failed check evaluations, and the identities of the checks that passed in it."""
    failed: list[CheckFailed] = []
    passed: set[str] = set()
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    for record in records:
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event is not None else None
        if not isinstance(evaluation, dg.AssetCheckEvaluation):  # every record of this type holds one
            continue
        check = CheckFailed(
            asset=evaluation.asset_key.to_user_string(),
            check=evaluation.check_name,
            partition=getattr(evaluation, "partition", None),
            severity=evaluation.severity.value,
            description=evaluation.description or "",
            metadata={name: _metadata_text(value) for name, value in sorted(evaluation.metadata.items())},
            run_id=run_id,
            at=record.timestamp,
        )
        if evaluation.passed:
            passed.add(check.identity)
        else:
            failed.append(check)
    return failed, passed


def runs_by_id(instance: dg.DagsterInstance, records: list[dg.EventLogRecord]) -> dict[str, dg.DagsterRun]:
    """The runs of `records`, in one query."""
    if not records:
        return {}
    runs = instance.get_runs(filters=dg.RunsFilter(run_ids=list({r.run_id for r in records})))
    return {run.run_id: run for run in runs}


def run_failure(instance: dg.DagsterInstance, record: dg.EventLogRecord, run: dg.DagsterRun | None) -> RunFailed | None:
    """The failed run as an incident; None when Dagster will retry it (the retry's outcome is told)."""
    tags = dict(run.tags) if run else {}
    if will_retry(instance, tags):
        return None
    entry = record.event_log_entry
    failure = entry.dagster_event.event_specific_data if entry.dagster_event else None
    reason, details = entry.message or "the run failed", {}
    step_failure = getattr(failure, "first_step_failure_event", None)
    if step_failure is not None:
        data = step_failure.event_specific_data
        user = getattr(data, "user_failure_data", None)
        error = getattr(data, "error", None)
        reason = (user.description if user and user.description else None) or (error.message if error else reason)
        details["step"] = step_failure.step_key or ""
        metadata = dict(user.metadata) if user else {}
        details.update({name: _metadata_text(metadata[name]) for name in FAILURE_DETAILS if name in metadata})
    elif (run_error := getattr(failure, "error", None)) is not None:
        reason = run_error.message  # a JobFailureData (not part of Dagster's public API: read by name)
    if (failure_kind := getattr(failure, "failure_reason", None)) is not None:
        details["failure_kind"] = failure_kind.value
    checks, _ = failed_checks(instance, record.run_id)
    return RunFailed(
        run_id=record.run_id,
        job=entry.job_name or (run.job_name if run else "?"),
        partition=partition_of(tags),
        backfill_id=tags.get(BACKFILL_TAG),
        reason=reason.strip(),
        details={k: v for k, v in details.items() if v},
        at=record.timestamp,
        checks=tuple(checks),
    )


def last_materialized(instance: dg.DagsterInstance, asset: str, partition: str) -> float | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=1
    ).records
    return records[0].timestamp if records else None


def export_overdue(
    instance: dg.DagsterInstance, asset: str, day, deadline: datetime, now: datetime
) -> ExportOverdue | None:
    """`asset`'s partition `day` overdue at `now`: past its `deadline` with no materialization of that
    partition at all (FreshnessPolicy.cron's deadline, evaluated here per partition)."""
    if now < deadline or last_materialized(instance, asset, day.isoformat()) is not None:
        return None
    return ExportOverdue(asset, day, deadline)


def failing_instigators(instance: dg.DagsterInstance, names: set[str], threshold: int) -> list[TicksFailing]:
    """The running sensors and schedules among `names` whose last `threshold`+ ticks all failed. An
    instance that keeps no schedule storage (an ephemeral one) has none."""
    if instance.schedule_storage is None:
        return []
    failing = []
    for state in instance.all_instigator_state():
        if state.instigator_name not in names or not state.is_running:
            continue
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=threshold + 2)
        streak = failing_streak(
            [(t.tick_id, t.status.value, t.timestamp, t.error.message if t.error else "") for t in ticks], threshold
        )
        if streak:
            failures, first_id, since, error = streak
            kind = state.instigator_type.value.lower()
            failing.append(TicksFailing(state.instigator_name, kind, failures, first_id, since, error.strip()))
    return failing
