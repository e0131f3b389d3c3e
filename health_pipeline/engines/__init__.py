"""One small interface per outside system, with a local implementation and an aws one.

`LocalStack` assembles the embedded default from the settings (`aws_stack.AwsStack` the aws mode);
nothing here connects until used.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from health_pipeline.engines.local_delivery import LocalDeliveryStream
from health_pipeline.engines.local_exports import LocalExportStore, export_root
from health_pipeline.engines.base import QueryFailed, QueryResult
from health_pipeline.engines.local_sql import DuckDBQueryEngine
from health_pipeline.engines.local_table import LocalIcebergTable
from health_pipeline.schema import TableSchema, read_desired_schema
from health_pipeline.settings import Settings

__all__ = ["LocalStack", "QueryFailed", "QueryResult"]


@dataclass
class LocalStack:
    settings: Settings

    def desired_schema(self) -> TableSchema:
        return read_desired_schema(self.settings.glue_module_dir)

    @cached_property
    def table(self) -> LocalIcebergTable:
        return LocalIcebergTable(
            self.settings.catalog_dir, self.settings.warehouse_dir, self.settings.database, self.settings.table
        )

    @cached_property
    def delivery(self) -> LocalDeliveryStream:
        return LocalDeliveryStream(self.settings.delivery_dir, self.table, self.desired_schema)

    @cached_property
    def sql(self) -> DuckDBQueryEngine:
        return DuckDBQueryEngine(self.table)

    @cached_property
    def exports(self) -> LocalExportStore:
        return LocalExportStore(export_root(self.settings.export_uri))
