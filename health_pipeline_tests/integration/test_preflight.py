"""`health-pipeline preflight` against moto over HTTP: a deployment as Terraform makes it passes, and
each broken item fails naming itself. moto has no IAM policy simulator (SimulatePrincipalPolicy answers
HTTP 500): a correct deployment's IAM lines are one WARN saying so, and the simulated decisions are
tested with `support.iam_simulator` (botocore's short-circuit, as Stubber uses). moto keeps Firehose's
AppendOnly, workgroup settings, Lake Formation registrations and grants, and alarms as given."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pytest
from botocore.config import Config

from health_pipeline.alerts.liveness import (
    CODE_LOCATION,
    CODE_LOCATION_DIMENSION,
    EXPORT_METRIC,
    HEARTBEAT_METRIC,
    NAMESPACE,
)
from health_pipeline.cli import main
from health_pipeline.engines import stack_for
from health_pipeline.preflight import FAIL, PASS, WARN, CheckResult, exit_code, run_preflight
from health_pipeline.preflight.deployment import alarm_names, unplaced_actions
from health_pipeline.schema import read_desired_schema
from health_pipeline.settings import Settings
from health_pipeline_tests.support import preset_athena_results, run_cli
from health_pipeline_tests.support.aws_moto import BUCKET, DATABASE, glue_table
from health_pipeline_tests.support.iam_simulator import SimulatorDouble

REGION = "us-east-1"  # moto's S3 Tables serves only a few US regions; the table's ARN comes from it
ACCOUNT = "123456789012"
TABLE_BUCKET = "health-logger-prod-tables"
STREAM = "health-logger-prod-records"
WORKGROUP = "health-logger-prod"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/health-logger-prod-dagster"
FIREHOSE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{STREAM}-firehose"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:health-logger-prod-alerts"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b5e6f3c-0000-4000-8000-000000000001"
SUBCATALOG = f"{ACCOUNT}:s3tablescatalog/{TABLE_BUCKET}"


def client(service: str) -> Any:
    # One attempt: what moto cannot answer (an HTTP 500) is not retried for seconds with backoff.
    return boto3.client(service, region_name=REGION, config=Config(retries={"mode": "standard", "max_attempts": 1}))


@pytest.fixture
def settings(aws, tmp_path) -> Settings:
    return Settings(
        mode="aws",
        home=tmp_path / "home",
        aws_region=REGION,
        firehose_stream=STREAM,
        athena_catalog=f"s3tablescatalog/{TABLE_BUCKET}",
        database=DATABASE,
        athena_workgroup=WORKGROUP,
        athena_output=f"s3://{BUCKET}/athena-results/",
        export_uri=f"s3://{BUCKET}/exports/",
        alert_topic_arn=TOPIC,
        dagster_role_arn=ROLE,
        s3_endpoint_url=aws,
    )


def deploy(
    settings: Settings,
    *,
    append_only: bool = True,
    encryption: str = "SSE_S3",
    requester_pays: bool = False,
    cutoff: int | None = 1_099_511_627_776,
    alarms: int = 2,
    alarm_actions: tuple[str, ...] = (TOPIC,),
    watched: tuple[str, ...] = (HEARTBEAT_METRIC, EXPORT_METRIC),
    laid_out: bool = True,
) -> None:
    """What `terraform apply` of terraform/envs/prod makes, in moto, with one thing optionally broken."""
    client("s3").create_bucket(Bucket=BUCKET)
    tables = client("s3tables")
    bucket_arn = tables.create_table_bucket(name=TABLE_BUCKET)["arn"]
    tables.create_namespace(tableBucketARN=bucket_arn, namespace=[DATABASE])
    tables.create_table(tableBucketARN=bucket_arn, namespace=DATABASE, name="health_records", format="ICEBERG")
    glue_table(settings, read_desired_schema(settings.s3tables_module_dir), laid_out=laid_out)
    client("firehose").create_delivery_stream(
        DeliveryStreamName=STREAM,
        DeliveryStreamType="DirectPut",
        IcebergDestinationConfiguration={
            "RoleARN": FIREHOSE_ROLE,
            "CatalogConfiguration": {"CatalogARN": f"arn:aws:glue:{REGION}:{ACCOUNT}:catalog/s3tablescatalog/{TABLE_BUCKET}"},
            "DestinationTableConfigurationList": [{"DestinationDatabaseName": DATABASE, "DestinationTableName": "health_records"}],
            "AppendOnly": append_only,
            "S3BackupMode": "FailedDataOnly",
            "S3Configuration": {"RoleARN": FIREHOSE_ROLE, "BucketARN": f"arn:aws:s3:::{BUCKET}", "ErrorOutputPrefix": "firehose-errors/"},
        },
    )  # fmt: skip
    client("athena").create_work_group(
        Name=WORKGROUP,
        Configuration={
            "ResultConfiguration": {
                "OutputLocation": settings.athena_output,
                "EncryptionConfiguration": {"EncryptionOption": encryption, **({"KmsKey": KEY} if "KMS" in encryption else {})},
            },
            "EnforceWorkGroupConfiguration": True,
            **({"BytesScannedCutoffPerQuery": cutoff} if cutoff else {}),
            "RequesterPaysEnabled": requester_pays,
            "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
        },
    )  # fmt: skip
    topic = client("sns").create_topic(Name="health-logger-prod-alerts", Attributes={"KmsMasterKeyId": KEY})
    assert topic["TopicArn"] == TOPIC
    for name in alarm_names(settings.terraform_dir, STREAM)[:alarms]:
        client("cloudwatch").put_metric_alarm(
            AlarmName=name, Namespace="AWS/Firehose", MetricName="DeliveryToIceberg.FailedRowCount", Statistic="Sum",
            Period=300, EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
            Dimensions=[{"Name": "DeliveryStreamName", "Value": STREAM}], AlarmActions=list(alarm_actions), OKActions=list(alarm_actions),
        )  # fmt: skip
    for metric in watched:  # modules/alarms/watch.tf: missing data breaches
        client("cloudwatch").put_metric_alarm(
            AlarmName=f"health-logger-prod-{metric}", Namespace=NAMESPACE, MetricName=metric, Statistic="SampleCount",
            Period=60, EvaluationPeriods=15, Threshold=1, ComparisonOperator="LessThanThreshold",
            TreatMissingData="breaching", Dimensions=[{"Name": CODE_LOCATION_DIMENSION, "Value": CODE_LOCATION}],
            AlarmActions=list(alarm_actions), OKActions=list(alarm_actions),
        )  # fmt: skip


def lake_formation(dagster: list[str], firehose: list[str]) -> None:
    """The integration in Lake Formation mode (the table buckets' location registered) and grants."""
    lf = client("lakeformation")
    lf.register_resource(ResourceArn=f"arn:aws:s3tables:{REGION}:{ACCOUNT}:bucket/*", WithFederation=True)
    for principal, permissions in ((ROLE, dagster), (FIREHOSE_ROLE, firehose)):
        table = {"CatalogId": SUBCATALOG, "DatabaseName": DATABASE, "Name": "health_records"}
        lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": principal}, Resource={"Table": table},
                             Permissions=permissions)  # fmt: skip


def preflight(settings: Settings, simulator: SimulatorDouble | None = None) -> list[CheckResult]:
    def factory(service: str) -> Any:
        made = client(service)
        return simulator.attach(made) if simulator and service == "iam" else made

    return list(run_preflight(settings, stack_for(settings), factory))


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def failures(results: list[CheckResult]) -> dict[str, str]:
    return {r.name: r.detail for r in results if r.status == FAIL}


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTH_PIPELINE_", "DAGSTER_"))}
    env.update(
        HEALTH_PIPELINE_MODE="aws", HEALTH_PIPELINE_HOME=str(settings.home), AWS_REGION=REGION,
        HEALTH_PIPELINE_FIREHOSE_STREAM=STREAM, HEALTH_PIPELINE_CATALOG=settings.athena_catalog,
        HEALTH_PIPELINE_DATABASE=DATABASE, HEALTH_PIPELINE_ATHENA_WORKGROUP=WORKGROUP,
        HEALTH_PIPELINE_ATHENA_OUTPUT=settings.athena_output, HEALTH_PIPELINE_EXPORT_URI=settings.export_uri,
        HEALTH_PIPELINE_ALERT_TOPIC_ARN=TOPIC, HEALTH_PIPELINE_DAGSTER_ROLE_ARN=ROLE,
        AWS_MAX_ATTEMPTS="1",  # moto's HTTP 500 for the simulator, not retried with backoff
        **extra,
    )  # fmt: skip
    return env


def test_a_deployment_as_terraform_makes_it_passes_and_moto_s_missing_simulator_is_one_explained_warn(aws, settings):
    deploy(settings)
    preset_athena_results(aws, [["records"], ["42"]], region=REGION, types=["bigint"])
    done = run_cli(cli_env(settings), "preflight", "--json")
    assert done.returncode == 0, done.stderr.decode()
    results = json.loads(done.stdout)
    assert all(set(r) == {"name", "status", "detail", "remedy"} for r in results)
    statuses = {r["name"]: r["status"] for r in results}
    warns = [r for r in results if r["status"] != PASS]
    # moto cannot simulate: the Dagster role's IAM lines and the alerts' publish line say so.
    assert [(r["name"], r["status"]) for r in warns] == [("iam simulation", WARN), ("iam simulation", WARN)]
    assert all("policy simulator did not answer" in r["detail"] for r in warns)
    for name in ("stream status", "stream destination", "stream append_only", "stream error output", "table",
                 "table columns", "table layout", "access mode", "lake formation grants", "workgroup engine",
                 "workgroup encryption", "workgroup requester pays", "workgroup cutoff", "test select",
                 "export prefix", "alerts topic", *(f"alarm {a}" for a in alarm_names(settings.terraform_dir, STREAM)),
                 f"alarm on {HEARTBEAT_METRIC}", f"alarm on {EXPORT_METRIC}"):  # fmt: skip
        assert statuses[name] == PASS, name
    select = next(r for r in results if r["name"] == "test select")
    assert select["detail"].startswith("42 record(s) in recorded_at [") and "bytes scanned" in select["detail"]
    athena = client("athena")
    (sent,) = [athena.get_query_execution(QueryExecutionId=q)["QueryExecution"]
               for q in athena.list_query_executions()["QueryExecutionIds"]]  # fmt: skip
    assert "WHERE recorded_at >= ? AND recorded_at < ?" in sent["Query"] and sent["WorkGroup"] == WORKGROUP
    # The marker was removed, with its version: nothing is left under the export prefix.
    s3 = client("s3")
    assert "Versions" not in s3.list_object_versions(Bucket=BUCKET, Prefix="exports/")
    assert all("\n" not in r["detail"] for r in results)


def test_the_text_report_is_one_line_per_check_with_what_to_do(aws, settings, monkeypatch, capsys):
    deploy(settings, alarms=1)
    for name, value in cli_env(settings).items():
        monkeypatch.setenv(name, value)
    assert main(["preflight"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"PASS  stream status: {STREAM} is ACTIVE"
    missing = (
        f"FAIL  alarm {STREAM}-iceberg-data-freshness: no such CloudWatch alarm -> terraform apply (modules/alarms)"
    )
    assert missing in lines
    assert lines[-1] == f"{len(lines) - 1 - 3} passed, 2 warned, 1 failed"  # 20 lines and the summary


def test_the_simulated_permissions_of_the_dagster_role_cover_every_action_on_its_arns(aws, settings):
    deploy(settings)
    simulator = SimulatorDouble()
    results = preflight(settings, simulator)
    assert exit_code(results) == 0 and not [r for r in results if r.status != PASS], results
    asked = {(action, resource) for action, resource, _ in simulator.asked}
    table_arn = f"arn:aws:s3tables:{REGION}:{ACCOUNT}:bucket/{TABLE_BUCKET}/table/health_records"
    assert ("athena:StartQueryExecution", f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{WORKGROUP}") in asked
    assert (
        "glue:GetTable",
        f"arn:aws:glue:{REGION}:{ACCOUNT}:table/s3tablescatalog/{TABLE_BUCKET}/{DATABASE}/health_records",
    ) in asked
    assert ("s3tables:PutTableData", table_arn) in asked  # iam mode: the data actions are the role's own
    assert ("s3:PutObject", f"arn:aws:s3:::{BUCKET}/exports/.preflight/object") in asked
    assert ("sns:Publish", TOPIC) in asked and ("kms:GenerateDataKey", KEY) in asked
    listing = {context for action, _, context in simulator.asked if action == "s3:ListBucket"}
    assert listing == {(("s3:prefix", ("athena-results/",)),), (("s3:prefix", ("exports/",)),)}
    assert not unplaced_actions()  # every action the code calls is simulated somewhere


def test_a_denied_action_fails_naming_the_action_and_its_resource(aws, settings):
    deploy(settings)
    workgroup = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{WORKGROUP}"
    simulator = SimulatorDouble(denied={("athena:StartQueryExecution", workgroup), ("sns:Publish", TOPIC)})
    results = preflight(settings, simulator)
    failed = failures(results)
    assert set(failed) == {"iam: Athena workgroup", "alerts publish"}
    assert f"athena:StartQueryExecution on {workgroup} (implicitDeny)" in failed["iam: Athena workgroup"]
    assert f"sns:Publish on {TOPIC} (implicitDeny)" in failed["alerts publish"]
    assert exit_code(results) == 1


def test_a_caller_that_may_not_simulate_gets_a_warning_not_a_failure(aws, settings):
    deploy(settings)
    results = preflight(settings, SimulatorDouble(access_denied=True))
    warned = [r for r in results if r.status == WARN]
    assert [r.name for r in warned] == ["iam simulation", "iam simulation"]
    assert "may not simulate (iam:SimulatePrincipalPolicy)" in warned[0].detail
    assert exit_code(results) == 0


@pytest.mark.parametrize(
    ("breakage", "name", "words"),
    [
        ({"encryption": "SSE_KMS"}, "workgroup encryption", "SSE_KMS: Athena refuses INSERT, UPDATE, DELETE"),
        ({"append_only": False}, "stream append_only", "AppendOnly is False: Direct PUT to Iceberg is capped"),
        ({"export_uri": "s3://health-logger-prod-exports/"}, "export prefix", "NoSuchBucket"),
        ({"alarms": 1}, f"alarm {STREAM}-iceberg-data-freshness", "no such CloudWatch alarm"),
        (
            {"watched": (EXPORT_METRIC,)},
            f"alarm on {HEARTBEAT_METRIC}",
            "nobody is told when the operators' Dagster stops",
        ),
        ({"laid_out": False}, "table layout", "live partitioned unpartitioned, sorted unsorted"),
        ({"requester_pays": True}, "workgroup requester pays", "Requester Pays is on: Athena refuses DML"),
        ({"cutoff": None}, "workgroup cutoff", "no BytesScannedCutoffPerQuery"),
    ],
)
def test_each_broken_item_fails_naming_itself(aws, settings, breakage, name, words):
    deploy(settings, **{k: v for k, v in breakage.items() if k != "export_uri"})
    if "export_uri" in breakage:  # a bucket that was never made (or that the settings misspell)
        settings = Settings(**{**settings.__dict__, "export_uri": breakage["export_uri"]})
    results = preflight(settings, SimulatorDouble())
    assert failures(results).keys() == {name}, failures(results)
    assert words in by_name(results)[name].detail and by_name(results)[name].remedy
    assert exit_code(results) == 1


def test_alarms_that_notify_another_topic_fail_each(aws, settings):
    deploy(settings, alarm_actions=(f"arn:aws:sns:{REGION}:{ACCOUNT}:somebody-else",))
    failed = failures(preflight(settings, SimulatorDouble()))
    assert set(failed) == {f"alarm {name}" for name in alarm_names(settings.terraform_dir, STREAM)} | {
        f"alarm on {HEARTBEAT_METRIC}",
        f"alarm on {EXPORT_METRIC}",
    }
    assert all(f"do not include the alerts topic {TOPIC}" in detail for detail in failed.values())


def test_lake_formation_mode_reads_each_principal_s_grants_and_names_what_is_missing(aws, settings):
    deploy(settings)
    lake_formation(dagster=["SELECT", "DESCRIBE", "ALTER"], firehose=["ALL"])
    results = preflight(settings, SimulatorDouble())
    # Terraform says iam; the account registers the table buckets with Lake Formation.
    assert "the account is in lake_formation mode" in failures(results)["access mode"]
    lf_settings = Settings(**{**settings.__dict__, "s3tables_access_mode": "lake_formation"})
    simulator = SimulatorDouble()
    results = preflight(lf_settings, simulator)
    failed = failures(results)
    assert set(failed) == {"lake formation grants: dagster role"}
    assert failed["lake formation grants: dagster role"].startswith(f"{ROLE} lacks DELETE, INSERT on ")
    assert by_name(results)["lake formation grants: firehose role"].status == PASS
    asked = {action for action, _, _ in simulator.asked}
    assert "lakeformation:GetDataAccess" in asked and "s3tables:PutTableData" not in asked


def test_a_stream_into_another_table_or_without_its_error_prefix_fails(aws, settings):
    deploy(settings)
    firehose = client("firehose")
    firehose.delete_delivery_stream(DeliveryStreamName=STREAM)
    firehose.create_delivery_stream(
        DeliveryStreamName=STREAM,
        IcebergDestinationConfiguration={
            "RoleARN": FIREHOSE_ROLE, "AppendOnly": True,
            "CatalogConfiguration": {"CatalogARN": f"arn:aws:glue:{REGION}:{ACCOUNT}:catalog"},
            "DestinationTableConfigurationList": [{"DestinationDatabaseName": DATABASE, "DestinationTableName": "health_records"}],
            "S3Configuration": {"RoleARN": FIREHOSE_ROLE, "BucketARN": f"arn:aws:s3:::{BUCKET}"},
        },
    )  # fmt: skip
    failed = failures(preflight(settings, SimulatorDouble()))
    assert set(failed) == {"stream destination", "stream error output"}
    assert (
        f"the pipeline reads s3tablescatalog/{TABLE_BUCKET}/{DATABASE}.health_records" in failed["stream destination"]
    )


def test_a_stream_through_a_resource_link_to_the_namespace_passes(aws, settings):
    deploy(settings)
    client("glue").create_database(
        DatabaseInput={
            "Name": "health_logger_prod_link",
            "TargetDatabase": {"CatalogId": SUBCATALOG, "DatabaseName": DATABASE},
        }
    )
    firehose = client("firehose")
    firehose.delete_delivery_stream(DeliveryStreamName=STREAM)
    firehose.create_delivery_stream(
        DeliveryStreamName=STREAM,
        IcebergDestinationConfiguration={
            "RoleARN": FIREHOSE_ROLE, "AppendOnly": True,
            "CatalogConfiguration": {"CatalogARN": f"arn:aws:glue:{REGION}:{ACCOUNT}:catalog"},
            "DestinationTableConfigurationList": [
                {"DestinationDatabaseName": "health_logger_prod_link", "DestinationTableName": "health_records"}
            ],
            "S3Configuration": {"RoleARN": FIREHOSE_ROLE, "BucketARN": f"arn:aws:s3:::{BUCKET}", "ErrorOutputPrefix": "e/"},
        },
    )  # fmt: skip
    results = by_name(preflight(settings, SimulatorDouble()))
    assert results["stream destination"].status == PASS
    assert "resource link health_logger_prod_link" in results["stream destination"].detail


def test_it_cannot_run_in_local_mode_or_without_credentials(aws, settings, tmp_path):
    local = run_cli({**cli_env(settings), "HEALTH_PIPELINE_MODE": "local"}, "preflight")
    assert local.returncode == 2 and b"set HEALTH_PIPELINE_MODE=aws" in local.stderr
    env = {k: v for k, v in cli_env(settings).items() if not k.startswith("AWS_") or k == "AWS_REGION"}
    nowhere = str(tmp_path / "none")
    env.update(AWS_SHARED_CREDENTIALS_FILE=nowhere, AWS_CONFIG_FILE=nowhere, AWS_EC2_METADATA_DISABLED="true")
    anonymous = run_cli(env, "preflight", "--json")
    assert anonymous.returncode == 2 and b"no AWS credentials: set AWS_PROFILE" in anonymous.stderr
    assert anonymous.stdout == b""
