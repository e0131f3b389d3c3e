"""The Athena workgroup and a bounded test query, the export prefix, the alerts topic and the alarms."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from health_pipeline.alerts.liveness import (
    CODE_LOCATION,
    CODE_LOCATION_DIMENSION,
    EXPORT_METRIC,
    HEARTBEAT_METRIC,
    NAMESPACE,
)
from health_pipeline.preflight.access import ROLE_FIX, _cannot_simulate, simulate
from health_pipeline.preflight.context import Preflight, error_code
from health_pipeline.preflight.deployment import (
    ATHENA_ENGINE_VERSION,
    KMS_RESULTS_ENCRYPTION,
    MARKER_PREFIX,
    RESULTS_ENCRYPTION,
    alarm_names,
    split_s3,
)
from health_pipeline.preflight.results import CheckResult, failed, passed, warned
from health_pipeline.sql import Query, load_sql
from health_pipeline.stack import QueryFailed

ATHENA_FIX = (
    "terraform apply in terraform/envs/prod (modules/athena), or set HEALTH_PIPELINE_ATHENA_WORKGROUP to its workgroup"
)


def check_workgroup(pf: Preflight) -> list[CheckResult]:
    """Engine v3, SSE_S3 results, no Requester Pays, a bytes-scanned cutoff (DML on S3 Tables needs the first three)."""
    name = pf.settings.athena_workgroup
    try:
        workgroup = pf.client("athena").get_work_group(WorkGroup=name)["WorkGroup"]
    except ClientError as err:
        if error_code(err) != "InvalidRequestException":
            raise
        return [failed("workgroup", f"no Athena workgroup {name}: {err}", ATHENA_FIX)]
    config = workgroup.get("Configuration", {})
    results = []
    engine = config.get("EngineVersion", {})
    effective = engine.get("EffectiveEngineVersion") or engine.get("SelectedEngineVersion")
    if effective == ATHENA_ENGINE_VERSION:
        results.append(passed("workgroup engine", f"{name} runs {effective}"))
    else:
        results.append(
            failed(
                "workgroup engine",
                f"{name} runs {effective}: Iceberg DDL and S3 Tables need {ATHENA_ENGINE_VERSION}",
                ATHENA_FIX,
            )
        )
    encryption = config.get("ResultConfiguration", {}).get("EncryptionConfiguration", {}).get("EncryptionOption")
    if encryption == RESULTS_ENCRYPTION:
        results.append(passed("workgroup encryption", f"results encrypted with {encryption}"))
    elif encryption in KMS_RESULTS_ENCRYPTION:
        results.append(
            failed(
                "workgroup encryption",
                f"results encrypted with {encryption}: Athena refuses INSERT,"
                " UPDATE, DELETE and MERGE on S3 Tables in such a workgroup (the erasure and retention)",
                f"set the workgroup's result encryption to {RESULTS_ENCRYPTION}: {ATHENA_FIX}",
            )
        )
    else:
        results.append(
            warned(
                "workgroup encryption",
                f"the workgroup sets no result encryption ({encryption}); results follow the bucket's default",
                f"set it to {RESULTS_ENCRYPTION}: {ATHENA_FIX}",
            )
        )
    if config.get("RequesterPaysEnabled"):
        results.append(
            failed(
                "workgroup requester pays",
                "Requester Pays is on: Athena refuses DML on S3 Tables",
                f"turn it off: {ATHENA_FIX}",
            )
        )
    else:
        results.append(passed("workgroup requester pays", "Requester Pays is off"))
    cutoff = config.get("BytesScannedCutoffPerQuery")
    if cutoff and config.get("EnforceWorkGroupConfiguration"):
        results.append(passed("workgroup cutoff", f"a query scanning over {cutoff:,} bytes is cancelled"))
    elif cutoff:
        results.append(
            warned(
                "workgroup cutoff",
                f"a cutoff of {cutoff:,} bytes, but the workgroup does not"
                " enforce its configuration (a client may override it)",
                ATHENA_FIX,
            )
        )
    else:
        results.append(
            failed(
                "workgroup cutoff",
                "no BytesScannedCutoffPerQuery: a runaway query scans (and bills) without limit",
                f"set bytes_scanned_cutoff_per_query: {ATHENA_FIX}",
            )
        )
    return results


def minute_query(table: str, now: datetime) -> Query:
    """The bounded test SELECT: the whole minute before the last whole minute before `now` (UTC)."""
    end = now.astimezone(UTC).replace(tzinfo=None, second=0, microsecond=0) - timedelta(minutes=1)
    window = (end - timedelta(minutes=1), end)
    return Query(
        name="preflight_minute", text=load_sql("preflight_minute"), parameters=window, window=window, table=table
    )


def check_test_select(pf: Preflight) -> list[CheckResult]:
    """One SELECT over one minute of recorded_at through the project's Athena engine."""
    query = minute_query(pf.settings.table, datetime.now(UTC))
    try:
        result = pf.stack.query_engine.run(query)
    except QueryFailed as err:
        return [
            failed(
                "test select", str(err), "the message says why; the iam and workgroup lines above say what is missing"
            )
        ]
    rows = result.rows.column("records").to_pylist() if result.rows.num_rows else [0]
    start, end = query.parameters
    span = f"recorded_at [{start:%Y-%m-%d %H:%M}, {end:%H:%M}) UTC"
    return [
        passed(
            "test select",
            f"{rows[0]} record(s) in {span}: {result.bytes_scanned:,} bytes scanned (query {result.query_id})",
        )
    ]


def check_export_prefix(pf: Preflight) -> list[CheckResult]:
    """A marker object written under the export prefix and removed (its version too)."""
    bucket, prefix = split_s3(pf.settings.export_uri)
    key = f"{prefix}{MARKER_PREFIX}{uuid.uuid4().hex}"
    s3 = pf.client("s3")
    try:
        written = s3.put_object(Bucket=bucket, Key=key, Body=b"health-pipeline preflight marker\n")
    except ClientError as err:
        return [
            failed(
                "export prefix",
                f"s3://{bucket}/{key} could not be written ({error_code(err)}: "
                f"{err.response.get('Error', {}).get('Message', '')})",
                "check HEALTH_PIPELINE_EXPORT_URI, the bucket, its policy, and that the role may s3:PutObject there",
            )
        ]
    version = {"VersionId": written["VersionId"]} if written.get("VersionId") else {}
    try:
        s3.delete_object(Bucket=bucket, Key=key, **version)
    except ClientError as err:
        return [
            warned(
                "export prefix",
                f"writable, but the marker s3://{bucket}/{key} could not be removed ({err})",
                "delete it by hand; the role needs s3:DeleteObject(Version) there for erasures",
            )
        ]
    return [passed("export prefix", f"s3://{bucket}/{prefix} is writable (a marker written and removed)")]


def check_alerts(pf: Preflight) -> list[CheckResult]:
    """The alerts topic exists, and the Dagster role may publish to it (and use its key)."""
    topic = pf.settings.alert_topic_arn
    if not topic:
        return [
            failed(
                "alerts topic",
                "HEALTH_PIPELINE_ALERT_TOPIC_ARN is not set: alerts cannot be sent",
                "set it to the health_pipeline_alert_topic_arn Terraform output",
            )
        ]
    try:
        attributes = pf.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    except ClientError as err:
        if error_code(err) not in ("NotFound", "NotFoundException"):
            raise
        return [
            failed(
                "alerts topic",
                f"no SNS topic {topic}",
                "terraform apply (modules/alerts), or correct HEALTH_PIPELINE_ALERT_TOPIC_ARN",
            )
        ]
    key = attributes.get("KmsMasterKeyId")
    results = [passed("alerts topic", f"{topic} exists" + (f", encrypted with {key}" if key else ""))]
    role = pf.dagster_role_arn
    if role is None:
        return results + [warned("alerts publish", "the Dagster role is not known", ROLE_FIX)]
    try:
        denied = simulate(pf, role, ["sns:Publish"], [topic], [])
        if key and key.startswith("arn:"):
            denied += simulate(pf, role, ["kms:GenerateDataKey", "kms:Decrypt"], [key], [])
    except (ClientError, BotoCoreError, ResponseParserError) as err:
        return results + [_cannot_simulate(err)]
    if denied:
        return results + [
            failed(
                "alerts publish",
                f"{role} may not: {'; '.join(denied)}",
                "terraform apply (modules/iam grants sns:Publish and the key's use)",
            )
        ]
    return results + [
        passed("alerts publish", f"{role} may publish to the topic" + (" and use its key" if key else ""))
    ]


def _alarm_result(label: str, alarm: dict, topic: str | None) -> CheckResult:
    name = alarm["AlarmName"]
    actions = alarm.get("AlarmActions", [])
    if not alarm.get("ActionsEnabled", True):
        return failed(
            label,
            "its actions are disabled: nobody is told",
            f"aws cloudwatch enable-alarm-actions --alarm-names {name}",
        )
    if (topic and topic not in actions) or not actions:
        return failed(
            label,
            f"its actions {actions or 'are empty'} do not include the alerts"
            f" topic {topic or '(HEALTH_PIPELINE_ALERT_TOPIC_ARN unset)'}",
            "terraform apply (modules/alarms' alarm_actions is the alerts topic)",
        )
    return passed(label, f"state {alarm.get('StateValue')}, notifies {', '.join(actions)}")


def check_alarms(pf: Preflight) -> list[CheckResult]:
    """terraform/modules/alarms' alarms exist and notify the alerts topic: the stream's by name, the
    watch alarms (heartbeat, daily export) by the metric each watches."""
    cloudwatch = pf.client("cloudwatch")
    names = alarm_names(pf.settings.terraform_dir, pf.settings.firehose_stream)
    found = {a["AlarmName"]: a for a in cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]}
    topic = pf.settings.alert_topic_arn
    results = []
    for name in names:
        alarm = found.get(name)
        if alarm is None:
            results.append(failed(f"alarm {name}", "no such CloudWatch alarm", "terraform apply (modules/alarms)"))
        else:
            results.append(_alarm_result(f"alarm {name}", alarm, topic))
    for metric in (HEARTBEAT_METRIC, EXPORT_METRIC):
        watching = cloudwatch.describe_alarms_for_metric(
            Namespace=NAMESPACE,
            MetricName=metric,
            Dimensions=[{"Name": CODE_LOCATION_DIMENSION, "Value": CODE_LOCATION}],
        )["MetricAlarms"]
        if not watching:
            results.append(
                failed(
                    f"alarm on {metric}",
                    f"no CloudWatch alarm watches {NAMESPACE}/{metric}: nobody is told when the operators' Dagster stops",
                    "terraform apply (modules/alarms/watch.tf)",
                )
            )
        results.extend(_alarm_result(f"alarm on {metric}", alarm, topic) for alarm in watching)
    return results
