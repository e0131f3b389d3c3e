"""The Dagster resources: typed wrappers around the core engines, chosen by mode in one place.

Resources hold only settings; the engines behind them connect the first time an asset, check or
sensor asks, so loading the code location does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pyarrow as pa
from dagster_aws.s3 import S3PickleIOManager, S3Resource
from pydantic import PrivateAttr
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table

from health_pipeline.engines import LocalStack, QueryResult
from health_pipeline.engines.aws_stack import AwsStack
from health_pipeline.engines.s3_exports import split_s3_uri
from health_pipeline.engines.schema_targets import AthenaSchemaTarget, LocalSchemaTarget, SchemaTarget
from health_pipeline.schema import TableSchema, read_desired_schema
from health_pipeline.settings import Settings, load_settings
from health_pipeline.sql import Query
from health_pipeline.summary import summary_csv


class DesiredSchemaResource(dg.ConfigurableResource):
    """The schema Terraform declares: the Glue module's columns, read with python-hcl2."""

    terraform_dir: str

    def read(self) -> TableSchema:
        return read_desired_schema(Path(self.terraform_dir) / "modules" / "glue")


class _LocalStackResource(dg.ConfigurableResource):
    """Shared settings of the local implementations: where the embedded state lives."""

    home: str
    database: str
    table: str
    timezone: str
    export_uri: str
    terraform_dir: str
    _stack: LocalStack | None = PrivateAttr(default=None)

    def stack(self) -> LocalStack:
        if self._stack is None:
            self._stack = LocalStack(
                Settings(
                    mode="local",
                    home=Path(self.home),
                    database=self.database,
                    table=self.table,
                    timezone=self.timezone,
                    export_uri=self.export_uri,
                    terraform_dir=Path(self.terraform_dir),
                )
            )
        return self._stack


class HealthTableResource(dg.ConfigurableResource):
    """The health_records Iceberg table: its live schema, its snapshots and the schema migration target."""

    def live_schema(self) -> TableSchema | None:
        raise NotImplementedError

    def identifier(self) -> str:
        raise NotImplementedError

    def iceberg_table(self) -> Table | None:
        """The PyIceberg table (for snapshot metadata), or None while it does not exist."""
        raise NotImplementedError

    def schema_target(self) -> SchemaTarget:
        raise NotImplementedError


class QueryEngineResource(dg.ConfigurableResource):
    """Runs the project's Athena-dialect SQL files (`Query`) and returns typed rows with their cost."""

    table: str

    @property
    def table_name(self) -> str:
        return self.table

    def run(self, query: Query) -> QueryResult:
        raise NotImplementedError


@dataclass(frozen=True)
class ExportedFile:
    location: str
    size_bytes: int | None
    how: str


class ExportStoreResource(dg.ConfigurableResource):
    """Where the CSV summaries go, replaced whole on re-materialization."""

    def export_summary(self, key: str, rows: pa.Table, result_location: str | None) -> ExportedFile:
        raise NotImplementedError


# -- local: the embedded default -----------------------------------------------------------------
class LocalHealthTableResource(_LocalStackResource, HealthTableResource):
    """local: PyIceberg SqlCatalog on SQLite with a file warehouse under HEALTH_PIPELINE_HOME."""

    def live_schema(self) -> TableSchema | None:
        return self.stack().table.live_schema()

    def identifier(self) -> str:
        return self.stack().table.identifier

    def iceberg_table(self) -> Table | None:
        try:  # one catalog read per sensor tick, not an existence check and then the load
            return self.stack().table.load()
        except NoSuchTableError:
            return None

    def schema_target(self) -> LocalSchemaTarget:
        stack = self.stack()
        return LocalSchemaTarget(stack.table, stack.desired_schema, stack.sql)


class LocalQueryEngineResource(_LocalStackResource, QueryEngineResource):
    """local: DuckDB over a PyIceberg scan narrowed to the query's recorded_at window."""

    def run(self, query: Query) -> QueryResult:
        return self.stack().sql.run(query)


class LocalExportStoreResource(_LocalStackResource, ExportStoreResource):
    """local: files under the export root, written atomically (temporary file, then rename)."""

    def export_summary(self, key: str, rows: pa.Table, result_location: str | None) -> ExportedFile:
        data = summary_csv(rows)
        return ExportedFile(self.stack().exports.write(key, data), len(data), "written")


# -- aws: Athena, Glue, S3 Tables, S3 ------------------------------------------------------------
class _AwsStackResource(dg.ConfigurableResource):
    """Shared settings of the aws implementations; clients from boto3's own credential chain."""

    region: str
    catalog: str
    database: str
    table: str
    workgroup: str
    athena_output: str
    export_uri: str
    terraform_dir: str
    s3_endpoint_url: str | None = None
    athena_timeout_s: float = 1800.0
    s3: S3Resource
    _stack: AwsStack | None = PrivateAttr(default=None)

    def stack(self) -> AwsStack:
        if self._stack is None:
            self._stack = AwsStack(
                Settings(
                    mode="aws",
                    aws_region=self.region,
                    athena_catalog=self.catalog,
                    database=self.database,
                    table=self.table,
                    athena_workgroup=self.workgroup,
                    athena_output=self.athena_output,
                    export_uri=self.export_uri,
                    terraform_dir=Path(self.terraform_dir),
                    s3_endpoint_url=self.s3_endpoint_url,
                ),
                s3_client=self.s3.get_client(),
                athena_timeout_s=self.athena_timeout_s,
            )
        return self._stack


class GlueHealthTableResource(_AwsStackResource, HealthTableResource):
    """aws: the Glue table's columns, and the Iceberg metadata read with PyIceberg's Glue catalog;
    migrations through Athena DDL."""

    def live_schema(self) -> TableSchema | None:
        return self.stack().table.live_schema()

    def identifier(self) -> str:
        return self.stack().table.identifier

    def iceberg_table(self) -> Table | None:
        try:
            return self.stack().table.load()
        except NoSuchTableError:
            return None

    def schema_target(self) -> AthenaSchemaTarget:
        return self.stack().schema_target()


class AthenaQueryEngineResource(_AwsStackResource, QueryEngineResource):
    """aws: our own Athena engine (health_pipeline.engines.athena), not dagster-aws's
    AthenaClientResource: that one sends no catalog, database, result location or execution
    parameters, polls every 5 s whatever the query, and leaves a timed-out query running. Ours sets
    the QueryExecutionContext, workgroup and OutputLocation, passes values only as
    ExecutionParameters, polls from 0.2 s with jittered backoff, and stops the query on a timeout, a
    run termination or any error while waiting."""

    def run(self, query: Query) -> QueryResult:
        return self.stack().athena.run(query)


class S3ExportStoreResource(_AwsStackResource, ExportStoreResource):
    """aws: the CSV is a server-side copy (CopyObject) of Athena's result object: the rows never pass
    through the Dagster process. The S3 client is dagster-aws's S3Resource."""

    def export_summary(self, key: str, rows: pa.Table, result_location: str | None) -> ExportedFile:
        exports = self.stack().exports
        if result_location is None:  # a query that wrote no result object: write the rows we hold
            data = summary_csv(rows)
            return ExportedFile(exports.write(key, data), len(data), "written")
        bucket, source_key = split_s3_uri(result_location)
        size = exports.client.head_object(Bucket=bucket, Key=source_key)["ContentLength"]
        return ExportedFile(exports.copy_from(result_location, key), size, f"copied from {result_location}")


def build_resources(settings: Settings | None = None) -> dict[str, dg.ConfigurableResource]:
    """The resources for the configured mode: the one place that decides which implementation serves."""
    from health_pipeline.defs.delivery.resources import (  # they build on this module
        FirehoseDeliveryStreamResource,
        LocalDeliveryStreamResource,
    )

    settings = settings or load_settings()
    desired = DesiredSchemaResource(terraform_dir=str(settings.terraform_dir))
    if settings.mode == "aws":
        common = dict(
            region=settings.aws_region,
            catalog=settings.athena_catalog,
            database=settings.database,
            table=settings.table,
            workgroup=settings.athena_workgroup,
            athena_output=settings.athena_output,
            export_uri=settings.export_uri,
            terraform_dir=str(settings.terraform_dir),
            s3_endpoint_url=settings.s3_endpoint_url,
            s3=S3Resource(region_name=settings.aws_region),
        )
        # Values passed between assets (the summary's rows) live next to Athena's results: the
        # deployment's role may already read, write and list there, and the lifecycle rule expires them.
        bucket, prefix = split_s3_uri(settings.athena_output)
        return {
            "desired_schema": desired,
            "delivery_stream": FirehoseDeliveryStreamResource(
                region=settings.aws_region,
                stream_name=settings.firehose_stream,
                database=settings.database,
                table=settings.table,
            ),
            "health_table": GlueHealthTableResource(**common),
            "query_engine": AthenaQueryEngineResource(**common),
            "export_store": S3ExportStoreResource(**common),
            "io_manager": S3PickleIOManager(
                s3_resource=S3Resource(region_name=settings.aws_region),
                s3_bucket=bucket,
                s3_prefix=f"{prefix.rstrip('/')}/dagster-io".lstrip("/"),
            ),
        }
    common = dict(
        home=str(settings.home),
        database=settings.database,
        table=settings.table,
        timezone=settings.timezone,
        export_uri=settings.export_uri,
        terraform_dir=str(settings.terraform_dir),
    )
    return {
        "desired_schema": desired,
        "delivery_stream": LocalDeliveryStreamResource(**common),
        "health_table": LocalHealthTableResource(**common),
        "query_engine": LocalQueryEngineResource(**common),
        "export_store": LocalExportStoreResource(**common),
        "io_manager": dg.FilesystemIOManager(base_dir=str(settings.dagster_home / "storage")),
    }
