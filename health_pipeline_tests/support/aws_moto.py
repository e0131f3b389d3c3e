"""What the aws-mode tests against moto share: the production names, the summary as Athena returns it,
an Athena engine on moto with a recorded sleep, the Glue Iceberg table, and the CLI's aws environment."""

from __future__ import annotations

import os
from typing import Any

from health_pipeline.engines.aws import AwsStack
from health_pipeline.engines.aws.athena import AthenaQueryEngine
from health_pipeline.schema.model import TableSchema
from health_pipeline.settings import Settings
from health_pipeline.summary.csv_format import CSV_COLUMNS
from health_pipeline_tests.support.athena_results import SUMMARY_TYPES as SUMMARY_TYPES  # beside SUMMARY_ROWS

REGION = "ap-northeast-1"
BUCKET = "health-logger-prod"
OUTPUT = f"s3://{BUCKET}/athena-results/"
EXPORTS = f"s3://{BUCKET}/exports/"
CATALOG = "s3tablescatalog/health-logger-tables"
DATABASE = "health_logger_prod_health_logs"

SUMMARY_ROWS = [
    list(CSV_COLUMNS),
    ["2026-11-11", "o'brien", "2", "4.0", "3", "5", "7.0", "5", "9", "5.0", "4", "6", "1"],
    ["2026-11-11", "利用者-さくら", "3", "8.333", "7", "10", "4.667", "4", "5", "4.333", "3", "5", "7"],
]


class RecordedSleep:
    """The engine's sleep in tests: records the requested seconds and advances a fake clock."""

    def __init__(self, raise_on_call: int | None = None, exception: BaseException | None = None) -> None:
        self.seconds: list[float] = []
        self.now = 0.0
        self.raise_on_call = raise_on_call
        self.exception = exception

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        if self.raise_on_call is not None and len(self.seconds) == self.raise_on_call:
            raise self.exception
        self.now += seconds

    def clock(self) -> float:
        return self.now


def moto_engine(moto_aws: dict[str, Any], **settings: Any) -> AthenaQueryEngine:
    """An Athena engine on the `moto_aws` fixture's client (integration/conftest.py), sleeping on a fake clock."""
    sleep = RecordedSleep()
    return AthenaQueryEngine(
        catalog=CATALOG,
        database=DATABASE,
        workgroup="primary",
        output_location=OUTPUT,
        client=moto_aws["athena"],
        sleep=sleep,
        clock=sleep.clock,
        **settings,
    )


def glue_table(settings: Settings, schema: TableSchema, laid_out: bool = True):
    """health_records as the Glue catalog holds an Iceberg table (metadata files in moto's S3); laid
    out as Terraform's awscc_s3tables_table creates it (day(recorded_at), recorded_at ascending), or
    not at all, as the first aws_s3tables_table did."""
    from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionField, PartitionSpec
    from pyiceberg.table.sorting import UNSORTED_SORT_ORDER, SortField, SortOrder
    from pyiceberg.transforms import DayTransform, IdentityTransform

    catalog = AwsStack(settings).table.iceberg_catalog()  # the catalog the aws mode itself reads through
    catalog.create_namespace(DATABASE)
    iceberg = schema.to_iceberg()
    time_id = iceberg.find_field("recorded_at").field_id
    spec = PartitionSpec(PartitionField(time_id, 1000, DayTransform(), "recorded_at_day"))
    order = SortOrder(SortField(source_id=time_id, transform=IdentityTransform()))
    return catalog.create_table(
        (DATABASE, "health_records"),
        schema=iceberg,
        location=f"s3://{BUCKET}/tables/health_records",
        partition_spec=spec if laid_out else UNPARTITIONED_PARTITION_SPEC,
        sort_order=order if laid_out else UNSORTED_SORT_ORDER,
    )


def aws_env(settings: Settings) -> dict[str, str]:
    """The CLI's environment in aws mode for `settings` (moto's endpoint and dummies come from the `aws` fixture)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTH_PIPELINE_", "DAGSTER_"))}
    env.update(
        HEALTH_PIPELINE_MODE="aws",
        HEALTH_PIPELINE_HOME=str(settings.home),
        HEALTH_PIPELINE_DATABASE=DATABASE,
        HEALTH_PIPELINE_ATHENA_OUTPUT=settings.athena_output,
    )
    return env
