"""Production (`HEALTH_PIPELINE_MODE=aws`): Kinesis Firehose, S3 Tables through the Glue Data Catalog
(read with PyIceberg), Athena for the SQL, S3 for the CSV exports, SNS for the alerts, CloudWatch metrics for the signs of
life that the heartbeat and export alarms watch.

`AwsStack` has the same parts as `engines.local.LocalStack`. Clients come from boto3's own credential
chain (and AWS_ENDPOINT_URL, which is how the tests reach moto); nothing connects until a part is
first used.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

from health_pipeline.delivery.stream import ErrorOutput
from health_pipeline.engines.aws.alert_destination import SnsAlertTopic
from health_pipeline.engines.aws.athena import AthenaQueryEngine
from health_pipeline.engines.aws.delivery_monitor import FirehoseMonitor
from health_pipeline.engines.aws.delivery_stream import DeadLetterFile, FirehoseDeliveryStream, firehose_client
from health_pipeline.engines.aws.erasure import AwsErasure
from health_pipeline.engines.aws.export_store import S3ExportStore, split_s3_uri
from health_pipeline.engines.aws.liveness import CloudWatchLiveness
from health_pipeline.engines.aws.maintenance import S3TablesMaintenance
from health_pipeline.engines.aws.schema_target import AthenaSchemaTarget
from health_pipeline.engines.aws.table import GlueIcebergTable
from health_pipeline.engines.desired import TerraformDesired


@dataclass
class AwsStack(TerraformDesired):
    query_kind: ClassVar[str] = AthenaQueryEngine.engine
    export_kinds: ClassVar[frozenset[str]] = S3ExportStore.kinds

    def client(self, service: str, config: Any = None) -> Any:
        import boto3

        return boto3.session.Session(region_name=self.settings.aws_region).client(service, config=config)

    @cached_property
    def table(self) -> GlueIcebergTable:
        s = self.settings
        return GlueIcebergTable(
            self.client("glue"),
            s.database,
            s.table,
            region=s.aws_region,
            catalog=s.athena_catalog,
            s3_endpoint=s.s3_endpoint_url,
        )

    @cached_property
    def query_engine(self) -> AthenaQueryEngine:
        s = self.settings
        return AthenaQueryEngine(
            catalog=s.athena_catalog,
            database=s.database,
            workgroup=s.athena_workgroup,
            output_location=s.athena_output,
            s3_client=self.client("s3"),
            region=s.aws_region,
        )

    @cached_property
    def export_store(self) -> S3ExportStore:
        return S3ExportStore(self.client("s3"), self.settings.export_uri)

    @cached_property
    def summary_store(self) -> S3ExportStore:
        """Each day's summary rows (Parquet) between daily_health_summary and its export and checks:
        next to Athena's results, which the role already reads and writes and whose lifecycle rule
        expires them (an expired day is summarized again before its CSV is exported again)."""
        bucket, prefix = split_s3_uri(self.settings.athena_output)
        return S3ExportStore(self.client("s3"), f"s3://{bucket}/" + f"{prefix.rstrip('/')}/summaries/".lstrip("/"))

    @cached_property
    def delivery_stream(self) -> FirehoseDeliveryStream:
        s = self.settings
        return FirehoseDeliveryStream(
            firehose_client(s.aws_region),
            s.firehose_stream,
            ErrorOutput(s.delivery_dir / "errors"),
            DeadLetterFile(s.delivery_dir / "dead-letter", s.firehose_stream),
        )

    @cached_property
    def delivery_monitor(self) -> FirehoseMonitor:
        s = self.settings
        return FirehoseMonitor(
            firehose=self.client("firehose"),
            cloudwatch=self.client("cloudwatch"),
            s3=self.client("s3"),
            stream_name=s.firehose_stream,
            database=s.database,
            table=s.table,
            region=s.aws_region,
        )

    @cached_property
    def maintenance(self) -> S3TablesMaintenance:
        s = self.settings
        return S3TablesMaintenance(
            self.client, s.athena_catalog, s.database, s.table, s.aws_region, self.table.iceberg_table
        )

    @cached_property
    def schema_target(self) -> AthenaSchemaTarget:
        return AthenaSchemaTarget(self.table, self.desired_schema, self.query_engine, self.desired_layout)

    @cached_property
    def alert_destination(self) -> SnsAlertTopic:
        return SnsAlertTopic(lambda: self.client("sns"), self.settings.alert_topic_arn)

    @cached_property
    def liveness(self) -> CloudWatchLiveness:
        """The heartbeat and export metrics. Short timeouts and one retry: a tick of alerts_sensor must
        stay far under Dagster's 60 s limit while CloudWatch cannot be reached."""
        from botocore.config import Config

        config = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 2})
        return CloudWatchLiveness(lambda: self.client("cloudwatch", config=config))

    @cached_property
    def receipt_store(self) -> S3ExportStore:
        """Erasure receipts, under erasure/receipts/ in the bucket of Athena's results (outside the
        results prefix, whose lifecycle rule expires objects; receipts are kept)."""
        bucket, _ = split_s3_uri(self.settings.athena_output)
        return S3ExportStore(self.client("s3"), f"s3://{bucket}/")

    @cached_property
    def erasure(self) -> AwsErasure:
        return AwsErasure(self, self.client)
