"""table_maintenance in aws mode: S3 Tables' maintenance configuration and last jobs, as the S3 Tables
API returns them (botocore's Stubber: moto has no S3 Tables maintenance), and a failing check when
maintenance is disabled or its last job failed."""

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from health_pipeline.engines.aws.maintenance import S3TablesMaintenance

ARN = "arn:aws:s3tables:ap-northeast-1:123456789012:bucket/health-logger-prod-tables"
WHERE = {"tableBucketARN": ARN, "namespace": "health_logger_prod_health_logs", "name": "health_records"}
RAN = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def configuration(compaction: str = "enabled", snapshots: str = "enabled") -> dict:
    return {
        "tableARN": f"{ARN}/table/x",
        "configuration": {
            "icebergCompaction": {
                "status": compaction,
                "settings": {"icebergCompaction": {"targetFileSizeMB": 512, "strategy": "auto"}},
            },
            "icebergSnapshotManagement": {
                "status": snapshots,
                "settings": {"icebergSnapshotManagement": {"minSnapshotsToKeep": 1, "maxSnapshotAgeHours": 120}},
            },
        },
    }


def job_status(compaction: str = "Successful", message: str = "") -> dict:
    job = {"status": compaction, "lastRunTimestamp": RAN}
    if message:
        job["failureMessage"] = message
    ok = {"status": "Successful", "lastRunTimestamp": RAN}
    return {
        "tableARN": f"{ARN}/table/x",
        "status": {"icebergCompaction": job, "icebergSnapshotManagement": ok, "icebergUnreferencedFileRemoval": ok},
    }


def maintenance(responses: list[tuple[str, dict]]):
    clients = {
        "s3tables": boto3.client(
            "s3tables", region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x"
        ),
        "sts": boto3.client("sts", region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x"),
    }
    stubs = {name: Stubber(client) for name, client in clients.items()}
    stubs["sts"].add_response("get_caller_identity", {"Account": "123456789012"})
    for operation, response in responses:
        stubs["s3tables"].add_response(operation, response, WHERE)
    for stub in stubs.values():
        stub.activate()
    engine = S3TablesMaintenance(
        clients.__getitem__, "s3tablescatalog/health-logger-prod-tables", WHERE["namespace"], WHERE["name"],
        "ap-northeast-1", lambda: None,
    )  # fmt: skip
    return engine, stubs


def test_enabled_maintenance_with_successful_jobs_is_ok():
    engine, stubs = maintenance(
        [("get_table_maintenance_configuration", configuration()), ("get_table_maintenance_job_status", job_status())]
    )
    report = engine.run(datetime.now(UTC))
    assert report.state == "OK" and not report.problems
    assert report.figures["icebergCompaction_configured"] == "enabled"
    assert report.figures["icebergCompaction_targetFileSizeMB"] == 512
    assert report.figures["icebergSnapshotManagement_maxSnapshotAgeHours"] == 120
    assert report.figures["icebergCompaction_last_run"] == RAN.isoformat()
    for stub in stubs.values():
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("config", "status", "says"),
    [
        (configuration(compaction="disabled"), job_status(compaction="Disabled"), "icebergCompaction is disabled"),
        (configuration(), job_status(compaction="Failed", message="commit conflict"), "failed: commit conflict"),
    ],
)
def test_disabled_or_failing_maintenance_is_reported_failing(config, status, says):
    engine, _ = maintenance(
        [("get_table_maintenance_configuration", config), ("get_table_maintenance_job_status", status)]
    )
    report = engine.run(datetime.now(UTC))
    assert report.state == "FAILING" and any(says in problem for problem in report.problems), report.problems


def test_an_access_error_says_which_permissions_are_needed():
    engine, stubs = maintenance([])
    stubs["s3tables"].add_client_error("get_table_maintenance_configuration", "AccessDeniedException", "no", 403)
    report = engine.run(datetime.now(UTC))
    assert report.state == "FAILING" and "s3tables:GetTableMaintenanceConfiguration" in report.problems[0]


def test_the_default_glue_catalog_has_no_s3_tables_maintenance_to_read():
    engine = S3TablesMaintenance(lambda name: None, "AwsDataCatalog", "db", "t", "ap-northeast-1", lambda: None)
    report = engine.run(datetime.now(UTC))
    assert report.state == "UNKNOWN" and "not an S3 Tables catalog" in report.notes[0]
