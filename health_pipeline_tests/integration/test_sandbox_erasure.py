"""Erasure and retention in aws mode on the sandbox: the rows leave the Iceberg table for real (read
back with PyIceberg), the erased person's day is summarized again without them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest

from health_pipeline.engines.aws import AwsStack
from health_pipeline.erasure import erase
from health_pipeline.erasure.retention import apply_retention
from health_pipeline.settings import load_settings
from health_pipeline_tests.support.sandbox_records import sandbox_records
from sandbox.client import SandboxProcess, iceberg_catalog

DATABASE = "health_logger_prod_health_logs"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with SandboxProcess.started(tmp_path_factory.mktemp("sandbox_home")) as running:
        yield running


@pytest.fixture
def aws(sandbox, monkeypatch, tmp_path):
    """The aws stack on the sandbox (sandbox.env in the environment), with three days of records."""
    for name, value in sandbox.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    table = iceberg_catalog(sandbox).load_table((DATABASE, "health_records"))
    table.delete()  # each test starts from its own records
    records = sandbox_records(seed=31, count=1500)
    table.append(records)
    settings = load_settings({**sandbox.env, "HEALTH_PIPELINE_HOME": str(tmp_path / "home")})
    settings = dataclasses.replace(settings, start_date="2026-10-01")
    return AwsStack(settings), settings, records


def test_erase_removes_the_persons_rows_from_the_iceberg_table(sandbox, aws):
    stack, settings, records = aws
    victim = records["user_id"][0].as_py()
    erase(stack, settings, [victim], reason="test")
    left = iceberg_catalog(sandbox).load_table((DATABASE, "health_records")).scan().to_arrow()
    users = left["user_id"].to_pylist()
    assert victim not in users
    assert len(users) == sum(1 for u in records["user_id"].to_pylist() if u != victim)


def test_retention_deletes_the_days_before_the_cutoff_from_the_iceberg_table(sandbox, aws):
    stack, settings, records = aws
    now = datetime(2026, 11, 3, 12, tzinfo=UTC)  # Tokyo's 2026-11-03 21:00: keep from 2026-11-02 (Tokyo)
    outcome = apply_retention(stack, dataclasses.replace(settings, retention_days=1), now)
    assert outcome is not None and outcome.cutoff_day == date(2026, 11, 2)
    cutoff = datetime(2026, 11, 1, 15)  # 2026-11-02 00:00 in Tokyo, in UTC
    left = iceberg_catalog(sandbox).load_table((DATABASE, "health_records")).scan().to_arrow()
    assert min(left["recorded_at"].to_pylist()) >= cutoff
    assert left.num_rows == sum(1 for t in records["recorded_at"].to_pylist() if t >= cutoff)
    assert records.num_rows - left.num_rows > 0


def test_a_delete_athena_refuses_fails_the_erasure_run_with_athenas_reason(sandbox, aws):
    """Athena refuses DML in a workgroup whose results are KMS-encrypted (a rule of the account, which
    no check before sending can see): the user_erasure run fails its step with Athena's reason, and no
    row is gone."""
    import dagster as dg

    from health_pipeline.definitions import build_definitions

    stack, settings, records = aws
    encrypted = {"EncryptionOption": "SSE_KMS", "KmsKey": "arn:aws:kms:ap-northeast-1:123456789012:key/sandbox"}
    sandbox.client("athena").create_work_group(
        Name="kms-results",
        Configuration={
            "ResultConfiguration": {"OutputLocation": settings.athena_output, "EncryptionConfiguration": encrypted},
            "EnforceWorkGroupConfiguration": True,
            "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
        },
    )
    settings = dataclasses.replace(settings, athena_workgroup="kms-results")
    victim = records["user_id"][0].as_py()
    config = {"ops": {"erase_users": {"config": {"user_ids": [victim], "reason": "ticket 9"}}}}
    result = (
        build_definitions(settings)
        .get_job_def("user_erasure")
        .execute_in_process(run_config=config, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    )
    assert not result.success
    failure = result.failure_data_for_node("erase_users")
    assert failure is not None
    text = failure.error.message + "".join(cause.message for cause in _causes(failure.error))
    assert "NOT_SUPPORTED" in text and "SSE_KMS" in text, text
    left = iceberg_catalog(sandbox).load_table((DATABASE, "health_records")).scan().to_arrow()
    assert left.num_rows == records.num_rows


def _causes(error):
    while error.cause is not None:
        error = error.cause
        yield error
