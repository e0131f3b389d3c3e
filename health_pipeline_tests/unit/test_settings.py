"""Settings come from the environment in one place; a bad value stops with the variable and the fix."""

import pytest

from health_pipeline.settings import SettingsError, load_settings
from health_pipeline_tests.support import run_cli


@pytest.mark.parametrize(
    ("environment", "says"),
    [
        ({"HEALTH_PIPELINE_MODE": "cloud"}, "HEALTH_PIPELINE_MODE='cloud' is not a mode"),
        ({"HEALTH_PIPELINE_TIMEZONE": "Tokyo"}, "HEALTH_PIPELINE_TIMEZONE='Tokyo' is not an IANA time zone"),
        ({"HEALTH_PIPELINE_START_DATE": "11/01/2026"}, "HEALTH_PIPELINE_START_DATE='11/01/2026' is not a date"),
        ({"HEALTH_PIPELINE_TABLE": "health records"}, "HEALTH_PIPELINE_TABLE='health records' is not a plain"),
        (
            {"HEALTH_PIPELINE_LOCAL_QUERY_MEMORY_MB": "1GB"},
            "HEALTH_PIPELINE_LOCAL_QUERY_MEMORY_MB='1GB' is not a memory budget; give a whole number of megabytes",
        ),
        ({"HEALTH_PIPELINE_LOCAL_QUERY_MEMORY_MB": "8"}, "HEALTH_PIPELINE_LOCAL_QUERY_MEMORY_MB='8' is not a memory"),
        (
            {"HEALTH_PIPELINE_MODE": "aws", "HEALTH_PIPELINE_ATHENA_OUTPUT": "/tmp/results/"},
            "HEALTH_PIPELINE_ATHENA_OUTPUT='/tmp/results/' is not an S3 location",
        ),
        (
            {"HEALTH_PIPELINE_MODE": "aws", "HEALTH_PIPELINE_EXPORT_URI": "s3:///exports/"},
            "HEALTH_PIPELINE_EXPORT_URI='s3:///exports/' is not an S3 location",
        ),
        ({"HEALTH_PIPELINE_UI_URL": "dagster.example.com"}, "HEALTH_PIPELINE_UI_URL='dagster.example.com' is not the"),
        ({"HEALTH_PIPELINE_UI_URL": "https://dagster.example.com/runs?x=1"}, "is not the UI's base URL"),
        (
            {"HEALTH_PIPELINE_ALERT_TOPIC_ARN": "health-logger-prod-alerts"},
            "HEALTH_PIPELINE_ALERT_TOPIC_ARN='health-logger-prod-alerts' is not an SNS topic ARN",
        ),
        (
            {"HEALTH_PIPELINE_ALERT_TOPIC_ARN": "arn:aws:sqs:ap-northeast-1:123456789012:alerts"},
            "is not an SNS topic ARN",
        ),
    ],
)
def test_a_bad_setting_names_the_variable_and_the_fix(environment, says):
    with pytest.raises(SettingsError, match=says.replace("(", r"\(")):
        load_settings(environment)


def test_the_defaults_are_the_local_mode_and_the_seeds_names():
    settings = load_settings({})
    assert (settings.mode, settings.timezone, settings.database, settings.table) == (
        "local",
        "Asia/Tokyo",
        "health_logger_prod_health_logs",
        "health_records",
    )
    assert settings.export_uri == str(settings.home / "exports") + "/"
    assert settings.local_query_memory_mb is None  # 64 MB per DuckDB thread
    assert load_settings({"HEALTH_PIPELINE_LOCAL_QUERY_MEMORY_MB": " 512 "}).local_query_memory_mb == 512
    assert (settings.ui_url, settings.alert_topic_arn) == (None, None)  # no links; aws mode has no topic to publish to
    given = load_settings({
        "HEALTH_PIPELINE_UI_URL": " https://dagster.example.com/ ",
        "HEALTH_PIPELINE_ALERT_TOPIC_ARN": "arn:aws:sns:ap-northeast-1:123456789012:health-logger-prod-alerts",
    })  # fmt: skip
    assert given.ui_url == "https://dagster.example.com"
    assert given.alerts_dir == given.home / "alerts"
    aws = load_settings({"HEALTH_PIPELINE_MODE": "aws"})
    assert (aws.export_uri, aws.athena_output) == (
        "s3://health-logger-prod/exports/",
        "s3://health-logger-prod/athena-results/",
    )


def test_the_command_line_exits_2_with_the_message(cli_env):
    done = run_cli({**cli_env, "HEALTH_PIPELINE_TIMEZONE": "Mars/Olympus"}, "schema", "status")
    assert done.returncode == 2
    assert "HEALTH_PIPELINE_TIMEZONE='Mars/Olympus' is not an IANA time zone" in done.stderr.decode()
