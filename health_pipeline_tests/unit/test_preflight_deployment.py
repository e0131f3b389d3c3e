"""What the preflight expects of a deployment, read from where the project keeps it (the Terraform, the
code's own list of AWS actions), and its settings."""

from __future__ import annotations

import shutil

import pytest

from health_pipeline.aws_permissions import DAGSTER_LAKE_FORMATION_ACTIONS, DAGSTER_ROLE_ACTIONS
from health_pipeline.preflight import FAIL, PASS, WARN, CheckResult, exit_code, summary
from health_pipeline.preflight.deployment import (
    IAM_MODE_ONLY,
    DeploymentArns,
    alarm_names,
    dagster_actions,
    unplaced_actions,
)
from health_pipeline.schema.terraform import TerraformSchemaError
from health_pipeline.settings import PROJECT_ROOT, Settings, SettingsError, load_settings


def test_the_alarm_names_are_terraform_s_with_the_stream_name_and_a_careless_edit_is_refused(tmp_path):
    assert alarm_names(PROJECT_ROOT / "terraform", "s") == ["s-iceberg-failed-rows", "s-iceberg-data-freshness"]
    shutil.copytree(PROJECT_ROOT / "terraform" / "modules" / "alarms", tmp_path / "modules" / "alarms")
    main = tmp_path / "modules" / "alarms" / "main.tf"
    main.write_text(main.read_text().replace('"${var.stream_name}-iceberg-failed-rows"', '"${var.prefix}-failed"'))
    with pytest.raises(TerraformSchemaError, match="the preflight cannot tell which alarm to look for"):
        alarm_names(tmp_path, "s")


def test_every_action_the_code_calls_is_simulated_on_a_resource_in_the_mode_that_needs_it():
    assert not unplaced_actions()
    iam = {a for actions in dagster_actions("iam").values() for a in actions}
    lake_formation = {a for actions in dagster_actions("lake_formation").values() for a in actions}
    assert iam == DAGSTER_ROLE_ACTIONS
    assert lake_formation == (DAGSTER_ROLE_ACTIONS - IAM_MODE_ONLY) | DAGSTER_LAKE_FORMATION_ACTIONS
    assert "s3tables:PutTableData" in iam and "s3tables:PutTableData" not in lake_formation
    assert "lakeformation:GetDataAccess" in lake_formation and "lakeformation:GetDataAccess" not in iam


def test_an_action_added_to_the_code_without_a_resource_is_caught(monkeypatch):
    import health_pipeline.preflight.deployment as deployment

    monkeypatch.setattr(deployment, "DAGSTER_ROLE_ACTIONS", DAGSTER_ROLE_ACTIONS | {"s3tables:DeleteTable"})
    assert deployment.unplaced_actions() == {"s3tables:DeleteTable"}


def test_the_arns_follow_the_configured_catalog():
    federated = DeploymentArns(
        Settings(athena_catalog="s3tablescatalog/tables-b", database="ns"), "aws", "111122223333"
    )
    assert federated.glue_catalog_id == "111122223333:s3tablescatalog/tables-b"
    assert (
        federated.glue_table_chain()[-1]
        == "arn:aws:glue:ap-northeast-1:111122223333:table/s3tablescatalog/tables-b/ns/health_records"
    )
    assert federated.table_bucket_arn == "arn:aws:s3tables:ap-northeast-1:111122223333:bucket/tables-b"
    default = DeploymentArns(Settings(database="ns"), "aws", "111122223333")
    assert default.glue_catalog_id is None and default.table_bucket_arn is None
    assert default.glue_table_chain() == [
        "arn:aws:glue:ap-northeast-1:111122223333:catalog",
        "arn:aws:glue:ap-northeast-1:111122223333:database/ns",
        "arn:aws:glue:ap-northeast-1:111122223333:table/ns/health_records",
    ]


def test_the_exit_code_fails_only_on_a_failure():
    results = [CheckResult("a", PASS, "ok"), CheckResult("b", WARN, "unread", "do x")]
    assert exit_code(results) == 0 and summary(results) == "1 passed, 1 warned, 0 failed"
    assert exit_code([*results, CheckResult("c", FAIL, "bad", "fix")]) == 1
    assert CheckResult("b", WARN, "unread", "do x").line() == "WARN  b: unread -> do x"


@pytest.mark.parametrize(
    ("environment", "says"),
    [
        ({"HEALTH_PIPELINE_DAGSTER_ROLE_ARN": "health-logger-prod-dagster"}, "is not an IAM role ARN"),
        ({"HEALTH_PIPELINE_DAGSTER_ROLE_ARN": "arn:aws:iam::123456789012:user/me"}, "is not an IAM role ARN"),
        (
            {"HEALTH_PIPELINE_S3TABLES_ACCESS_MODE": "lakeformation"},
            "is not an access mode; set it to iam or lake_formation",
        ),
    ],
)
def test_a_bad_preflight_setting_names_the_variable_and_the_fix(environment, says):
    with pytest.raises(SettingsError, match=says):
        load_settings(environment)


def test_the_preflight_settings_are_read():
    settings = load_settings(
        {
            "HEALTH_PIPELINE_DAGSTER_ROLE_ARN": "arn:aws:iam::123456789012:role/health-logger-prod-dagster",
            "HEALTH_PIPELINE_S3TABLES_ACCESS_MODE": "Lake_Formation",
        }  # fmt: skip
    )
    assert settings.dagster_role_arn == "arn:aws:iam::123456789012:role/health-logger-prod-dagster"
    assert settings.s3tables_access_mode == "lake_formation"
    assert load_settings({}).s3tables_access_mode == "iam" and load_settings({}).dagster_role_arn is None


class _Caller:
    def __init__(self, arn: str) -> None:
        self.arn = arn

    def get_caller_identity(self) -> dict[str, str]:
        return {"Account": self.arn.split(":")[4], "Arn": self.arn}


def test_the_dagster_role_is_the_setting_or_the_caller_s_own_role(tmp_path):
    from health_pipeline.preflight.context import Preflight

    aws = Settings(mode="aws", home=tmp_path)
    in_task = Preflight(
        aws, lambda _: _Caller("arn:aws:sts::123456789012:assumed-role/health-logger-prod-dagster/task-1")
    )
    assert in_task.dagster_role_arn == "arn:aws:iam::123456789012:role/health-logger-prod-dagster"
    assert in_task.arns.partition == "aws" and in_task.arns.account == "123456789012"
    operator = Preflight(aws, lambda _: _Caller("arn:aws:iam::123456789012:user/operator"))
    assert operator.dagster_role_arn is None
    named = Settings(mode="aws", home=tmp_path, dagster_role_arn="arn:aws:iam::123456789012:role/other")
    assert Preflight(named, lambda _: _Caller("arn:aws:iam::123456789012:user/operator")).dagster_role_arn.endswith(
        "role/other"
    )
