"""The Dagster resources: typed wrappers around the core engines, chosen by mode in one place.

Resources hold only settings; the engines behind them connect the first time an asset, check or
sensor asks, so loading the code location does no I/O.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr
from pyiceberg.table import Table

from health_pipeline.engines import LocalStack, QueryResult
from health_pipeline.engines.schema_targets import LocalSchemaTarget
from health_pipeline.schema import TableSchema, read_desired_schema
from health_pipeline.settings import Settings, load_settings
from health_pipeline.sql import Query


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


class HealthTableResource(_LocalStackResource):
    """The health_records Iceberg table (local: PyIceberg SqlCatalog on SQLite)."""

    def live_schema(self) -> TableSchema | None:
        return self.stack().table.live_schema()

    def identifier(self) -> str:
        return self.stack().table.identifier

    def iceberg_table(self) -> Table | None:
        """The PyIceberg table (for snapshot metadata), or None while it does not exist."""
        table = self.stack().table
        return table.load() if table.exists() else None

    def schema_target(self) -> LocalSchemaTarget:
        stack = self.stack()
        return LocalSchemaTarget(stack.table, stack.desired_schema, stack.sql)


class QueryEngineResource(_LocalStackResource):
    """Runs the project's Athena-dialect SQL (local: DuckDB over a narrowed PyIceberg scan)."""

    @property
    def table_name(self) -> str:
        return self.table

    def run(self, query: Query) -> QueryResult:
        return self.stack().sql.run(query)


class ExportStoreResource(_LocalStackResource):
    """Where the CSV summaries go (local: files, written atomically)."""

    def write(self, key: str, data: bytes) -> str:
        return self.stack().exports.write(key, data)


def build_resources(settings: Settings | None = None) -> dict[str, dg.ConfigurableResource]:
    """The resources for the configured mode: the one place that decides which implementation serves."""
    settings = settings or load_settings()
    if settings.mode != "local":
        raise NotImplementedError(
            "HEALTH_PIPELINE_MODE=aws is not available yet in this build (the Athena engine is issue 5);"
            " unset HEALTH_PIPELINE_MODE to run on the embedded local stack"
        )
    common = dict(
        home=str(settings.home),
        database=settings.database,
        table=settings.table,
        timezone=settings.timezone,
        export_uri=settings.export_uri,
        terraform_dir=str(settings.terraform_dir),
    )
    from health_pipeline.defs.delivery.resources import LocalDeliveryStreamResource  # it builds on this module

    return {
        "desired_schema": DesiredSchemaResource(terraform_dir=str(settings.terraform_dir)),
        "delivery_stream": LocalDeliveryStreamResource(**common),
        "health_table": HealthTableResource(**common),
        "query_engine": QueryEngineResource(**common),
        "export_store": ExportStoreResource(**common),
        "io_manager": dg.FilesystemIOManager(base_dir=str(settings.dagster_home / "storage")),
    }
