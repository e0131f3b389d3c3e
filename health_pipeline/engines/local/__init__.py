"""The embedded default (`HEALTH_PIPELINE_MODE=local`): PyIceberg on SQLite and files, DuckDB for the
SQL, a delivery stream with Firehose's semantics, CSV files. No account, no network, no server.

`LocalStack` has the same parts as `engines.aws.AwsStack`; nothing connects or creates a file until a
part is first used.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from health_pipeline.engines.local.delivery_monitor import LocalDeliveryMonitor
from health_pipeline.engines.local.delivery_stream import LocalDeliveryStream
from health_pipeline.engines.local.export_store import LocalExportStore, export_root
from health_pipeline.engines.local.maintenance import LocalTableMaintenance
from health_pipeline.engines.local.query_engine import DuckDBQueryEngine
from health_pipeline.engines.local.schema_target import LocalSchemaTarget
from health_pipeline.engines.local.table import LocalIcebergTable
from health_pipeline.schema import TableLayout, TableSchema, read_desired_layout, read_desired_schema
from health_pipeline.settings import Settings


@dataclass
class LocalStack:
    settings: Settings

    query_kind = DuckDBQueryEngine.engine
    export_kinds = LocalExportStore.kinds

    def desired_schema(self) -> TableSchema:
        """The schema Terraform declares (the Glue module's columns), read afresh on every call."""
        return read_desired_schema(self.settings.glue_module_dir)

    def desired_layout(self) -> TableLayout | None:
        """The partition spec and sort order Terraform declares (the S3 Tables module's table); None
        when the Terraform directory has no modules/s3tables (the layout is then not compared)."""
        module = self.settings.s3tables_module_dir
        return read_desired_layout(module) if module.is_dir() else None

    @cached_property
    def table(self) -> LocalIcebergTable:
        s = self.settings
        return LocalIcebergTable(s.catalog_dir, s.warehouse_dir, s.database, s.table)

    @cached_property
    def query_engine(self) -> DuckDBQueryEngine:
        return DuckDBQueryEngine(self.table)

    @cached_property
    def export_store(self) -> LocalExportStore:
        return LocalExportStore(export_root(self.settings.export_uri))

    @cached_property
    def summary_store(self) -> LocalExportStore:
        """Each day's summary rows (Parquet) between daily_health_summary and its export and checks."""
        return LocalExportStore(self.settings.home / "summaries")

    @cached_property
    def delivery_stream(self) -> LocalDeliveryStream:
        return LocalDeliveryStream(self.settings.delivery_dir, self.table, self.desired_schema)

    @cached_property
    def delivery_monitor(self) -> LocalDeliveryMonitor:
        return LocalDeliveryMonitor(self.delivery_stream)

    @cached_property
    def maintenance(self) -> LocalTableMaintenance:
        return LocalTableMaintenance(self.table, self.delivery_stream.commit_lock)

    @cached_property
    def schema_target(self) -> LocalSchemaTarget:
        return LocalSchemaTarget(self.table, self.desired_schema, self.query_engine, self.desired_layout)
