"""`AwsStack` assembles the `aws` mode from the settings, as `LocalStack` does the embedded default:
the Glue/Iceberg table, the Athena engine, the S3 export store and the schema target. Clients come
from boto3's own credential chain (and AWS_ENDPOINT_URL, which is how the tests reach moto); nothing
connects until used."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from health_pipeline.engines.athena import AthenaQueryEngine
from health_pipeline.engines.aws_table import GlueIcebergTable
from health_pipeline.engines.s3_exports import S3ExportStore
from health_pipeline.engines.schema_targets import AthenaSchemaTarget
from health_pipeline.schema import TableSchema, read_desired_schema
from health_pipeline.settings import Settings


@dataclass
class AwsStack:
    settings: Settings
    # A boto3 S3 client (the Dagster layer passes dagster-aws's S3Resource client); made here if None.
    s3_client: Any = None
    athena_timeout_s: float = 1800.0

    def desired_schema(self) -> TableSchema:
        return read_desired_schema(self.settings.glue_module_dir)

    def _client(self, service: str) -> Any:
        import boto3

        return boto3.session.Session(region_name=self.settings.aws_region).client(service)

    @cached_property
    def table(self) -> GlueIcebergTable:
        return GlueIcebergTable(
            self._client("glue"),
            self.settings.database,
            self.settings.table,
            region=self.settings.aws_region,
            catalog=self.settings.athena_catalog,
            s3_endpoint=self.settings.s3_endpoint_url,
        )

    @cached_property
    def athena(self) -> AthenaQueryEngine:
        return AthenaQueryEngine(
            catalog=self.settings.athena_catalog,
            database=self.settings.database,
            workgroup=self.settings.athena_workgroup,
            output_location=self.settings.athena_output,
            region=self.settings.aws_region,
            timeout_s=self.athena_timeout_s,
        )

    @cached_property
    def exports(self) -> S3ExportStore:
        return S3ExportStore(self.s3_client or self._client("s3"), self.settings.export_uri)

    def schema_target(self) -> AthenaSchemaTarget:
        return AthenaSchemaTarget(self.table, self.desired_schema, self.athena)
