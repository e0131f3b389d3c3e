"""envs/prod's outputs: exactly the settings the aws mode reads, and scripts/terraform_outputs_env.py
turning them into its environment."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from health_pipeline.schema.terraform import _unquote
from health_pipeline.settings import PROJECT_ROOT, Settings, load_settings
from health_pipeline_tests.support.terraform_hcl import (
    OPERATOR_OUTPUT_PREFIX,
    PRODUCER_OUTPUT_PREFIX,
    PROFILES,
    ROLE_OUTPUT,
    TERRAFORM_DIR,
    Stack,
    copy,
    edited_copy,
    prod_output_values,
)

# Settings that describe the local machine, not the AWS deployment: Terraform does not output them.
LOCAL_ONLY_SETTINGS = {
    "HEALTH_PIPELINE_MODE",
    "HEALTH_PIPELINE_HOME",
    "HEALTH_PIPELINE_TIMEZONE",
    "HEALTH_PIPELINE_START_DATE",
    "HEALTH_PIPELINE_TERRAFORM_DIR",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "HEALTH_PIPELINE_LOCAL_QUERY_MEMORY_MB",
}

# Settings that are the operator's policy, not a resource Terraform makes: set where Dagster runs.
POLICY_SETTINGS = {"HEALTH_PIPELINE_RETENTION_DAYS"}

# Settings only `health-pipeline preflight` reads, on an operator's machine (not where Dagster runs):
# the role is the `dagster_role_arn` output, the access mode the tfvars' s3tables_access_mode
# (docs/operations/deploying.md says so).
PREFLIGHT_SETTINGS = {"HEALTH_PIPELINE_DAGSTER_ROLE_ARN", "HEALTH_PIPELINE_S3TABLES_ACCESS_MODE"}

PRODUCER_OUTPUTS = {
    "producer_function_url": "function_url",
    "producer_function_name": "function_name",
    "producer_log_group": "log_group_name",
    "producer_invoke_policy_json": "invoke_policy_json",
}

OPERATOR_OUTPUTS = {
    "dagster_ui_url": "ui_url",
    "dagster_oidc_redirect_uri": "oidc_redirect_uri",
    "dagster_alb_dns_name": "alb_dns_name",
    "dagster_ecr_repository_url": "ecr_repository_url",
    "dagster_cluster_name": "cluster_name",
    "dagster_service_names": "service_names",
    "dagster_run_task_network": "run_task_network",
    "dagster_log_groups": "log_groups",
    "dagster_database_endpoint": "database_endpoint",
    "dagster_database_secret_arn": "database_secret_arn",
}


def check_prod_outputs(stack: Stack) -> None:
    read = set(re.findall(r'env\.get\("([A-Z0-9_]+)"', (PROJECT_ROOT / "health_pipeline" / "settings.py").read_text()))
    needed = read - LOCAL_ONLY_SETTINGS - POLICY_SETTINGS - PREFLIGHT_SETTINGS
    outputs = prod_output_values(stack)
    settings_outputs = {name.upper() for name in outputs if name != ROLE_OUTPUT}
    assert ROLE_OUTPUT in outputs, "envs/prod must output the Dagster role ARN"
    assert settings_outputs == needed, (
        f"envs/prod outputs {sorted(settings_outputs - needed)} that no setting reads"
        f" and lacks {sorted(needed - settings_outputs)}"
    )
    # The production names (pipeline pattern): the aws-mode defaults in settings.py describe this very deployment.
    seed = Settings(mode="aws")
    for name, expected in {
        "aws_region": seed.aws_region,
        "health_pipeline_firehose_stream": seed.firehose_stream,
        "health_pipeline_database": seed.database,
        "health_pipeline_table": seed.table,
        "health_pipeline_athena_output": seed.athena_output,
        "health_pipeline_export_uri": seed.export_uri,
    }.items():
        assert outputs[name] == expected, (
            f"envs/prod output {name} is {outputs[name]!r}, the pipeline pattern's is {expected!r}"
        )
    assert outputs["health_pipeline_catalog"] == f"s3tablescatalog/{stack.value(None, '${var.table_bucket_name}')}"
    operator = {name for name in stack.named(None, "output") if name.startswith(OPERATOR_OUTPUT_PREFIX)} - {ROLE_OUTPUT}
    assert operator == set(OPERATOR_OUTPUTS), f"envs/prod's operator outputs are {sorted(operator)}"
    for name, module_output in OPERATOR_OUTPUTS.items():
        assert _unquote(stack.named(None, "output")[name]["value"]) == f"${{module.dagster.{module_output}}}"
        assert module_output in stack.named("dagster", "output"), f"modules/dagster has no output {module_output}"
    producer = {name for name in stack.named(None, "output") if name.startswith(PRODUCER_OUTPUT_PREFIX)}
    assert producer == set(PRODUCER_OUTPUTS), f"envs/prod's producer outputs are {sorted(producer)}"
    for name, module_output in PRODUCER_OUTPUTS.items():
        assert _unquote(stack.named(None, "output")[name]["value"]) == f"${{module.lambda.{module_output}}}"
        assert module_output in stack.named("lambda", "output"), f"modules/lambda has no output {module_output}"


CHECKS = {check.__name__: check for check in (check_prod_outputs,)}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("check", CHECKS)
def test_invariant_holds(check: str, profile: str) -> None:
    CHECKS[check](Stack(TERRAFORM_DIR, profile))


def test_a_pristine_copy_passes_every_check(tmp_path: Path) -> None:
    """The edited copies fail because of the edit, not because the copy itself is unreadable."""
    pristine = Stack(copy(tmp_path))
    for check in CHECKS.values():
        check(pristine)


# (check, file under terraform/ or deploy/, original text, replacement): each edit must be caught by its check.
CARELESS_EDITS = [
    (
        "check_prod_outputs",
        "envs/prod/outputs.tf",
        'output "health_pipeline_catalog"',
        'output "catalog"',
    ),
    (
        "check_prod_outputs",
        "envs/prod/main.tf",
        'bucket   = "health-logger-prod"',
        'bucket   = "health-logger-staging"',
    ),
]


@pytest.mark.parametrize(("check", "relative", "original", "replacement"), CARELESS_EDITS)
def test_a_careless_edit_is_caught(tmp_path: Path, check: str, relative: str, original: str, replacement: str) -> None:
    edited = edited_copy(tmp_path, relative, original, replacement)
    with pytest.raises(AssertionError):
        CHECKS[check](Stack(edited))


def test_prod_outputs_become_the_aws_settings(stack: Stack) -> None:
    """`terraform output -json` through scripts/terraform_outputs_env.py gives settings of the aws mode."""
    values = prod_output_values(stack)
    values["dagster_role_arn"] = "arn:aws:iam::123456789012:role/health-logger-prod-dagster"
    # Known after apply: the topic's ARN, and the UI's address from the operator's dagster_ui_hostname
    # (standard; it has no default, so the evaluation shows None); small links to the port forward.
    assert (values["health_pipeline_alert_topic_arn"], values["health_pipeline_ui_url"]) == (
        "${aws_sns_topic.alerts.arn}",
        "https://None",
    )
    assert prod_output_values(Stack(TERRAFORM_DIR, "small"))["health_pipeline_ui_url"] == "http://127.0.0.1:3000"
    values["health_pipeline_alert_topic_arn"] = "arn:aws:sns:ap-northeast-1:123456789012:health-logger-prod-alerts"
    values["health_pipeline_ui_url"] = "https://dagster.example.com"
    terraform_json = {name: {"sensitive": False, "type": "string", "value": value} for name, value in values.items()}
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "terraform_outputs_env.py")],
        input=json.dumps(terraform_json),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    environ = {}
    for line in done.stdout.splitlines():
        if line.startswith("export "):
            name, _, quoted = line.removeprefix("export ").partition("=")
            environ[name] = " ".join(shlex.split(quoted))
    assert '# dagster_role_arn: "arn:aws:iam::123456789012:role/health-logger-prod-dagster"' in done.stdout
    settings = load_settings(environ)
    assert settings.mode == "aws"
    assert settings.athena_catalog == "s3tablescatalog/health-logger-prod-tables"
    assert settings.athena_workgroup == "health-logger-prod"
    assert settings.database == "health_logger_prod_health_logs"
    assert settings.athena_output == "s3://health-logger-prod/athena-results/"
    assert settings.export_uri == "s3://health-logger-prod/exports/"
    assert settings.firehose_stream == "health-logger-prod-records"
    assert settings.aws_region == "ap-northeast-1"
    assert settings.alert_topic_arn == "arn:aws:sns:ap-northeast-1:123456789012:health-logger-prod-alerts"
    assert settings.ui_url == "https://dagster.example.com"


def test_outputs_script_refuses_an_output_that_is_no_setting() -> None:
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "terraform_outputs_env.py")],
        input=json.dumps({"bucket": {"value": "health-logger-prod"}}),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "'bucket' is not a setting" in done.stderr


def test_outputs_script_takes_the_operator_outputs(stack: Stack) -> None:
    values: dict[str, object] = {name: f"<{name}>" for name in stack.named(None, "output")}
    values.update(prod_output_values(stack))
    values["dagster_log_groups"] = {"webserver": "/ecs/health-pipeline/webserver"}
    values["dagster_service_names"] = {"webserver": "health-pipeline-webserver"}
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "terraform_outputs_env.py")],
        input=json.dumps({name: {"sensitive": False, "value": value} for name, value in values.items()}),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "export HEALTH_PIPELINE_MODE=aws" in done.stdout
    assert '# dagster_service_names: {"webserver": "health-pipeline-webserver"}' in done.stdout
    assert not any(line.startswith("export DAGSTER_") for line in done.stdout.splitlines())
