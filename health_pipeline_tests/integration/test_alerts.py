"""alerts_sensor on real failing runs: each scenario on a SQLite instance (as `make dev` has) and on
the production PostgreSQL instance (deploy/dagster.yaml on a loopback server), with the local
destination (the alert files) and the aws one (SNS on moto over HTTP, read back from an SQS queue
subscribed to the topic). Both instances retry a failed run once (run_retries, as in production)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import boto3
import dagster as dg
import pytest
import yaml

from health_pipeline.definitions import build_definitions
from health_pipeline.demo import generate_records
from health_pipeline.engines.aws import AwsStack
from health_pipeline.engines.local import LocalStack
from health_pipeline.settings import Settings
from health_pipeline_tests.support import deliver, run_cli
from health_pipeline_tests.support.alerts_scenarios import yesterday_is_exported
from health_pipeline_tests.support.deploy_config import production_config
from health_pipeline_tests.support.postgres_server import postgres_server

DAY = "2026-11-11"
UI = "https://dagster.example.com"
BAD_RECORD = {"user_id": "bad", "recorded_at": f"{DAY}T12:00:00+09:00", "fatigue": 42, "mood": 1, "motivation": 1,
              "flags": 0}  # fmt: skip


@pytest.fixture(scope="module")
def postgres():
    with postgres_server() as server:
        yield server


@dataclass
class Message:
    key: str
    subject: str
    body: str


@dataclass
class Harness:
    """A code location, an instance and the alerts sensor's destination, ticking as the daemon would."""

    settings: Settings
    instance: dg.DagsterInstance
    sensor_stack: object
    read: object
    cursor: str | None = None
    seen: list[Message] = field(default_factory=list)

    @property
    def defs(self) -> dg.Definitions:
        return build_definitions(self.settings)

    def run(self, partition: str, tags: dict[str, str] | None = None, job: str = "daily_summary_job"):
        return self.defs.resolve_job_def(job).execute_in_process(
            partition_key=partition, instance=self.instance, tags=tags or {}, raise_on_error=False
        )

    def tick(self) -> list[Message]:
        defs = self.defs
        context = dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources={**defs.resources, "stack": self.sensor_stack}
        )
        defs.resolve_sensor_def("alerts_sensor")(context)
        self.cursor = context.cursor
        new = self.read()
        self.seen += new
        return new


def _local_reader(stack: LocalStack):
    read = 0

    def new_messages() -> list[Message]:
        nonlocal read
        alerts = stack.alert_destination.read()
        new, read = alerts[read:], len(alerts)
        return [Message(a.key, f"[health-pipeline] {a.severity}: {a.subject}", a.body) for a in new]

    return new_messages


def _sqs_reader() -> tuple[str, object]:
    """An SNS topic on moto with an SQS queue subscribed, and a reader of the messages the queue got."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="health-logger-prod-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts-read-back")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    def new_messages() -> list[Message]:
        messages = []
        while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages"):
            for message in batch:
                envelope = json.loads(message["Body"])
                key = envelope["MessageAttributes"]["incident_key"]["Value"]
                messages.append(Message(key, envelope["Subject"], envelope["Message"]))
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return messages

    return topic, new_messages


@pytest.fixture(params=["sqlite-local", "sqlite-sns", "postgres-local", "postgres-sns"])
def harness(request, tmp_path, monkeypatch):
    storage, destination = request.param.split("-")
    settings = Settings(home=tmp_path / "home", ui_url=UI)
    (tmp_path / "dagster").mkdir()
    if storage == "sqlite":
        instance = dg.DagsterInstance.local_temp(
            str(tmp_path / "dagster"), overrides={"run_retries": {"enabled": True, "max_retries": 1}}
        )
    else:
        server = request.getfixturevalue("postgres")
        config = production_config()
        del config["run_launcher"]
        config["storage"]["postgres"]["postgres_db"]["params"] = {"sslmode": "disable"}
        (tmp_path / "dagster" / "dagster.yaml").write_text(yaml.safe_dump(config))
        for name, value in {"HOST": server.host, "PORT": str(server.port), "USERNAME": server.user,
                            "PASSWORD": "", "DB": server.database}.items():  # fmt: skip
            monkeypatch.setenv(f"DAGSTER_PG_{name}", value)
        instance = dg.DagsterInstance.from_config(str(tmp_path / "dagster"))
        instance.wipe()
        instance.wipe_all_schedules()
    if destination == "local":
        sensor_stack = LocalStack(settings)
        read = _local_reader(sensor_stack)
    else:
        request.getfixturevalue("aws")
        topic, read = _sqs_reader()
        sensor_stack = AwsStack(Settings(mode="aws", home=tmp_path / "aws-home", ui_url=UI, alert_topic_arn=topic))
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
    yesterday_is_exported(instance, settings)
    yield Harness(settings, instance, sensor_stack, read)
    instance.dispose()


def run_retry(harness: Harness, first) -> bool:
    """The retry of the failed run `first` as Dagster's run retries launch it: a new run of the same job
    and partition in the same run group (root and parent run), retry number 1; executed in process."""
    from dagster._core.definitions.job_base import InMemoryJob  # no public API runs a pre-created run
    from dagster._core.execution.api import execute_run

    job = harness.defs.resolve_job_def("daily_summary_job")
    parent = harness.instance.get_run_by_id(first.run_id)
    tags = {k: v for k, v in parent.tags.items() if k not in ("dagster/will_retry", "dagster/failure_reason")}
    run = harness.instance.create_run_for_job(
        job, run_config={**parent.run_config, "execution": {"config": {"in_process": {}}}}, tags={**tags, "dagster/retry_number": "1", "dagster/parent_run_id": parent.run_id,
              "dagster/root_run_id": parent.root_run_id or parent.run_id},
        root_run_id=parent.root_run_id or parent.run_id, parent_run_id=parent.run_id,
    )  # fmt: skip
    return execute_run(InMemoryJob(job), run, harness.instance).success, run.run_id


def test_a_failed_partition_run_is_one_message_with_job_partition_and_reason(harness):
    assert harness.tick() == []
    first = harness.run(DAY)  # no table yet: the query fails
    assert not first.success
    assert harness.tick() == [], "the instance retries a failed run once: nothing is told before the retry ends"
    assert harness.instance.get_run_by_id(first.run_id).tags["dagster/will_retry"] == "true"
    succeeded, retry_id = run_retry(harness, first)
    assert not succeeded

    (message,) = harness.tick()
    assert message.key == f"run-failed:{retry_id}"
    assert "daily_summary_job failed for 2026-11-11" in message.subject
    assert "Job: daily_summary_job" in message.body and f"Partition: {DAY}" in message.body
    assert "Reason: table health_logger_prod_health_logs.health_records does not exist yet" in message.body
    assert f"Link: {UI}/runs/{retry_id}" in message.body
    assert harness.tick() == [], "the next tick tells nothing new"


def test_a_run_that_failed_then_succeeded_on_retry_tells_nothing(harness):
    harness.tick()
    first = harness.run(DAY)
    assert not first.success
    deliver(LocalStack(harness.settings), list(generate_records(5, [date(2026, 11, 11)], harness.settings.zone)))
    assert run_retry(harness, first)[0]
    assert harness.tick() == []
    assert harness.tick() == []


def test_a_failed_blocking_check_is_one_message_with_expected_and_actual(harness):
    stack = LocalStack(harness.settings)
    deliver(stack, list(generate_records(5, [date(2026, 11, 11)], harness.settings.zone, duplicate_rate=0)))
    deliver(stack, [BAD_RECORD], raw=True)  # a score of 42: the table's type allows it, the check does not
    harness.tick()
    result = harness.run(DAY, {"dagster/max_retries": "0"})
    assert not result.success

    (message,) = harness.tick()
    assert message.key == f"run-failed:{result.run_id}"
    assert "day_records_valid" in message.body and "(ERROR)" in message.body
    assert "expected_invalid_rows 0" in message.body and "actual_score_out_of_range 1" in message.body
    assert f"Partition: {DAY}" in message.body
    assert harness.tick() == []


def test_a_failed_30_day_backfill_is_one_summarized_message(harness):
    days = [(date(2026, 11, 1) + timedelta(days=n)).isoformat() for n in range(30)]
    harness.tick()
    for day in days:
        assert not harness.run(day, {"dagster/backfill": "bkfl3000", "dagster/max_retries": "0"}).success

    (message,) = harness.tick()
    assert message.key == "backfill-failed:bkfl3000"
    assert "30 run(s) of daily_summary_job failed" in message.body
    assert "2026-11-01, 2026-11-02" in message.body and "and 20 more" in message.body
    assert "does not exist yet" in message.body and "(30 run(s):" in message.body
    assert f"{UI}/runs/b/bkfl3000" in message.body
    assert harness.tick() == []
    # Later failures of the same backfill are not told again.
    assert not harness.run("2026-12-01", {"dagster/backfill": "bkfl3000", "dagster/max_retries": "0"}).success
    assert harness.tick() == []


def test_alerts_test_writes_one_alert_file_line_in_local_mode(cli_env, settings):
    done = run_cli(cli_env, "alerts", "test")
    assert done.returncode == 0, done.stderr.decode()
    assert f"sent a test alert to {settings.alerts_dir}" in done.stdout.decode()
    (alert,) = LocalStack(settings).alert_destination.read()
    assert alert.severity == "INFO" and alert.key.startswith("test:") and "nothing failed" in alert.body


def test_alerts_test_publishes_to_the_sns_topic_in_aws_mode(aws, cli_env):
    topic, read = _sqs_reader()
    env = {**cli_env, **{k: v for k, v in os.environ.items() if k.startswith("AWS_")}, "HEALTH_PIPELINE_MODE": "aws",
           "HEALTH_PIPELINE_ALERT_TOPIC_ARN": topic, "HEALTH_PIPELINE_UI_URL": UI}  # fmt: skip
    done = run_cli(env, "alerts", "test")
    assert done.returncode == 0, done.stderr.decode()
    (message,) = read()
    assert message.subject == "[health-pipeline] INFO: test alert"
    assert "aws mode" in message.body and f"Link: {UI}/" in message.body


def test_alerts_test_without_a_topic_in_aws_mode_exits_2_saying_what_to_set(aws, cli_env):
    env = {**cli_env, **{k: v for k, v in os.environ.items() if k.startswith("AWS_")}, "HEALTH_PIPELINE_MODE": "aws"}
    done = run_cli(env, "alerts", "test")
    assert done.returncode == 2
    assert "HEALTH_PIPELINE_ALERT_TOPIC_ARN is not set" in done.stderr.decode()
    assert "health_pipeline_alert_topic_arn" in done.stderr.decode()


def test_failed_warn_checks_of_a_successful_run_are_one_lower_severity_message_told_once(harness):
    today = datetime.now(harness.settings.zone).date()
    recent = [today - timedelta(days=n) for n in (1, 2)]
    # One record in five written twice: well over the 1% the WARN duplicates check allows.
    deliver(LocalStack(harness.settings), list(generate_records(20, recent, harness.settings.zone, duplicate_rate=0.2)))
    harness.tick()
    job = harness.defs.resolve_job_def("data_quality_job")
    assert job.execute_in_process(instance=harness.instance).success  # WARN checks do not fail the run

    (message,) = harness.tick()
    assert message.subject.startswith("[health-pipeline] WARN: check ")
    assert "duplicates_below_threshold" in message.body and "(WARN)" in message.body
    assert f"{UI}/assets/health_records?view=checks" in message.body
    assert job.execute_in_process(instance=harness.instance).success
    assert harness.tick() == [], "a check still failing is not told again"


def test_an_alert_the_topic_refuses_waits_in_the_cursor_and_is_sent_on_the_next_tick(aws, tmp_path):
    arn = "arn:aws:sns:ap-northeast-1:123456789012:health-logger-prod-alerts"  # not created yet
    settings = Settings(home=tmp_path / "home", ui_url=UI)
    instance = dg.DagsterInstance.ephemeral()
    yesterday_is_exported(instance, settings)
    harness = Harness(settings, instance, AwsStack(Settings(mode="aws", alert_topic_arn=arn)), lambda: [])
    harness.tick()
    assert not harness.run(DAY, {"dagster/max_retries": "0"}).success
    harness.tick()  # SNS answers NotFound: logged, kept, not raised
    cursor = json.loads(harness.cursor)
    assert len(cursor["pending"]) == 1 and cursor["pending"][0]["key"].startswith("run-failed:")
    assert cursor["sent"] == []

    topic, harness.read = _sqs_reader()
    assert topic == arn
    (message,) = harness.tick()
    assert message.key == cursor["pending"][0]["key"]
    assert json.loads(harness.cursor)["pending"] == []
    assert harness.tick() == []
