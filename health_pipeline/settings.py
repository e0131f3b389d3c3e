"""Every setting of health-pipeline, read from the environment in this one place.

Nothing else in the project reads an environment variable. `AWS_ENDPOINT_URL` and the credential
chain are left to boto3 itself: no secret ever passes through here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from health_pipeline.identifiers import is_identifier

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODES = ("local", "aws")
DEFAULT_START_DATE = "2026-11-01"
SNS_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}")
IAM_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}")
# How the table bucket is integrated with the AWS analytics services (Terraform's s3tables_access_mode).
S3TABLES_ACCESS_MODES = ("iam", "lake_formation")


class SettingsError(ValueError):
    """A setting has a value the pipeline cannot run with; the message names the variable and the fix."""


@dataclass(frozen=True)
class Settings:
    mode: str = "local"
    home: Path = field(default_factory=lambda: Path(".health_pipeline").resolve())
    timezone: str = "Asia/Tokyo"
    start_date: str = DEFAULT_START_DATE
    terraform_dir: Path = PROJECT_ROOT / "terraform"
    aws_region: str = "ap-northeast-1"
    firehose_stream: str = "health-logger-prod-records"
    athena_catalog: str = "AwsDataCatalog"
    database: str = "health_logger_prod_health_logs"
    table: str = "health_records"
    athena_workgroup: str = "primary"
    athena_output: str = "s3://health-logger-prod/athena-results/"
    export_uri: str = ""
    # DuckDB's memory budget per local query, in MB; None: 64 MB per DuckDB thread (engines.local.query_engine).
    local_query_memory_mb: int | None = None
    # The Dagster UI's base URL, for links in alerts (none: alerts carry run ids, no links).
    ui_url: str | None = None
    # aws mode: the SNS topic alerts are published to (terraform/modules/alerts).
    alert_topic_arn: str | None = None
    # aws mode: the role the Dagster deployment runs as (the `dagster_role_arn` Terraform output), whose
    # permissions `health-pipeline preflight` reads; None: the caller's own role when it is one.
    dagster_role_arn: str | None = None
    # aws mode: how the table bucket is integrated with AWS analytics services (Terraform's
    # s3tables_access_mode): IAM policies alone, or Lake Formation grants. `preflight` checks it.
    s3tables_access_mode: str = "iam"
    # Records older than this many days (the zone's days, before today) are deleted by table_maintenance;
    # None keeps everything (docs/operations/erasure.md).
    retention_days: int | None = None
    # Only for PyIceberg's S3 file IO, which (unlike boto3) does not read AWS_ENDPOINT_URL by itself.
    s3_endpoint_url: str | None = None

    def __post_init__(self) -> None:
        for name in ("home", "terraform_dir"):  # paths given as text (the environment) are made absolute
            object.__setattr__(self, name, Path(getattr(self, name)).expanduser().resolve())
        if self.mode not in MODES:
            raise SettingsError(
                f"HEALTH_PIPELINE_MODE={self.mode!r} is not a mode; set it to one of {', '.join(MODES)}."
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            # A machine with no time zone database at all (a minimal runtime, such as the producer
            # Lambda's, which uses no zone) cannot tell; the zone is then checked where it is used.
            if not (isinstance(err, ZoneInfoNotFoundError) and not available_timezones()):
                raise SettingsError(
                    f"HEALTH_PIPELINE_TIMEZONE={self.timezone!r} is not an IANA time zone (e.g. Asia/Tokyo)."
                ) from err
        try:
            date.fromisoformat(self.start_date)
        except ValueError as err:
            raise SettingsError(
                f"HEALTH_PIPELINE_START_DATE={self.start_date!r} is not a date; use YYYY-MM-DD."
            ) from err
        for variable, value in (("HEALTH_PIPELINE_DATABASE", self.database), ("HEALTH_PIPELINE_TABLE", self.table)):
            if not is_identifier(value):
                raise SettingsError(
                    f"{variable}={value!r} is not a plain lower-case identifier ([a-z_][a-z0-9_]*, at most 255"
                    " characters, not an SQL keyword); Athena and Glue names must be."
                )
        if self.local_query_memory_mb is not None:
            object.__setattr__(self, "local_query_memory_mb", _megabytes(self.local_query_memory_mb))
        if self.retention_days is not None:
            object.__setattr__(self, "retention_days", _retention_days(self.retention_days))
        if not self.export_uri:
            default = "s3://health-logger-prod/exports/" if self.mode == "aws" else str(self.home / "exports") + "/"
            object.__setattr__(self, "export_uri", default)
        if not self.export_uri.endswith("/"):
            object.__setattr__(self, "export_uri", self.export_uri + "/")
        if self.ui_url is not None:
            if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", self.ui_url):
                raise SettingsError(
                    f"HEALTH_PIPELINE_UI_URL={self.ui_url!r} is not the UI's base URL; give it as"
                    " https://host[/path] (the `health_pipeline_ui_url` Terraform output), or leave it unset."
                )
            object.__setattr__(self, "ui_url", self.ui_url.rstrip("/"))
        if self.alert_topic_arn is not None and not SNS_TOPIC_ARN.fullmatch(self.alert_topic_arn):
            raise SettingsError(
                f"HEALTH_PIPELINE_ALERT_TOPIC_ARN={self.alert_topic_arn!r} is not an SNS topic ARN"
                " (arn:aws:sns:REGION:ACCOUNT:NAME); set it to the `health_pipeline_alert_topic_arn` Terraform output."
            )
        if self.dagster_role_arn is not None and not IAM_ROLE_ARN.fullmatch(self.dagster_role_arn):
            raise SettingsError(
                f"HEALTH_PIPELINE_DAGSTER_ROLE_ARN={self.dagster_role_arn!r} is not an IAM role ARN"
                " (arn:aws:iam::ACCOUNT:role/NAME); set it to the `dagster_role_arn` Terraform output."
            )
        if self.s3tables_access_mode not in S3TABLES_ACCESS_MODES:
            raise SettingsError(
                f"HEALTH_PIPELINE_S3TABLES_ACCESS_MODE={self.s3tables_access_mode!r} is not an access mode; set it"
                f" to {' or '.join(S3TABLES_ACCESS_MODES)}, as Terraform's s3tables_access_mode variable."
            )
        if self.mode == "aws":
            for variable, value in (("HEALTH_PIPELINE_ATHENA_OUTPUT", self.athena_output),
                                    ("HEALTH_PIPELINE_EXPORT_URI", self.export_uri)):  # fmt: skip
                if not value.startswith("s3://") or len(value) <= len("s3://") or value[len("s3://")] == "/":
                    raise SettingsError(
                        f"{variable}={value!r} is not an S3 location; in aws mode set it to s3://bucket/prefix/"
                        " (the Terraform outputs give it)."
                    )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def s3tables_module_dir(self) -> Path:
        return self.terraform_dir / "modules" / "s3tables"

    @property
    def catalog_dir(self) -> Path:
        return self.home / "catalog"

    @property
    def warehouse_dir(self) -> Path:
        return self.home / "warehouse"

    @property
    def delivery_dir(self) -> Path:
        return self.home / "delivery"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def alerts_dir(self) -> Path:
        return self.home / "alerts"

    @property
    def watch_dir(self) -> Path:
        """Local mode's last heartbeat of alerts_sensor and last export (`health-pipeline alerts status`)."""
        return self.home / "watch"

    @property
    def alarms_module_dir(self) -> Path:
        return self.terraform_dir / "modules" / "alarms"

    @property
    def query_spill_dir(self) -> Path:
        return self.home / "query_spill"


def _megabytes(value: int | str) -> int:
    try:
        megabytes = int(str(value).strip())
    except ValueError:
        megabytes = 0
    if megabytes < 16:
        raise SettingsError(
            f"HEALTH_PIPELINE_LOCAL_QUERY_MEMORY_MB={value!r} is not a memory budget; give a whole number of"
            " megabytes, at least 16 (or leave it unset for 64 MB per DuckDB thread)."
        )
    return megabytes


def _retention_days(value: int | str) -> int:
    try:
        days = int(str(value).strip())
    except ValueError:
        days = 0
    if days < 1:
        raise SettingsError(
            f"HEALTH_PIPELINE_RETENTION_DAYS={value!r} is not a number of days; give a whole number, at least 1"
            " (or leave it unset to keep every record)."
        )
    return days


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build the settings from the environment (or a given mapping, for tests). A variable that is unset
    or empty takes the default written on `Settings`."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {
        "mode": env.get("HEALTH_PIPELINE_MODE", "").strip().lower(),
        "home": env.get("HEALTH_PIPELINE_HOME"),
        "timezone": env.get("HEALTH_PIPELINE_TIMEZONE"),
        "start_date": env.get("HEALTH_PIPELINE_START_DATE"),
        "terraform_dir": env.get("HEALTH_PIPELINE_TERRAFORM_DIR"),
        "aws_region": env.get("AWS_REGION"),
        "firehose_stream": env.get("HEALTH_PIPELINE_FIREHOSE_STREAM"),
        "athena_catalog": env.get("HEALTH_PIPELINE_CATALOG"),
        "database": env.get("HEALTH_PIPELINE_DATABASE"),
        "table": env.get("HEALTH_PIPELINE_TABLE"),
        "athena_workgroup": env.get("HEALTH_PIPELINE_ATHENA_WORKGROUP"),
        "athena_output": env.get("HEALTH_PIPELINE_ATHENA_OUTPUT"),
        "export_uri": env.get("HEALTH_PIPELINE_EXPORT_URI"),
        "local_query_memory_mb": env.get("HEALTH_PIPELINE_LOCAL_QUERY_MEMORY_MB"),
        "ui_url": env.get("HEALTH_PIPELINE_UI_URL", "").strip(),
        "alert_topic_arn": env.get("HEALTH_PIPELINE_ALERT_TOPIC_ARN", "").strip(),
        "retention_days": env.get("HEALTH_PIPELINE_RETENTION_DAYS"),
        "dagster_role_arn": env.get("HEALTH_PIPELINE_DAGSTER_ROLE_ARN", "").strip(),
        "s3tables_access_mode": env.get("HEALTH_PIPELINE_S3TABLES_ACCESS_MODE", "").strip().lower(),
        "s3_endpoint_url": env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL"),
    }
    return Settings(**{name: value for name, value in values.items() if value})
