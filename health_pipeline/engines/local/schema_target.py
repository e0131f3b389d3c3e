"""The local schema target: PyIceberg update_schema on the local catalog, verified with DuckDB."""

from __future__ import annotations

from collections.abc import Callable

from health_pipeline.engines.schema_target import verification_metadata, verification_query
from health_pipeline.schema.model import Column, TableSchema
from health_pipeline.schema.plan import MigrationPlan


class LocalSchemaTarget:
    """The local table: PyIceberg update_schema, verified with the local SQL engine."""

    def __init__(self, table, desired: Callable[[], TableSchema], sql) -> None:
        self.table = table
        self.desired = desired
        self.sql = sql

    def read_plan(self) -> MigrationPlan:
        return MigrationPlan.build(self.table.table_name, self.desired(), self.table.live_schema())

    def apply(self, plan: MigrationPlan, added: list[Column], promoted: list[Column]) -> list[str]:
        return self.table.apply_schema_changes(added, promoted)

    def verify_query(self, plan: MigrationPlan, columns: list[str]) -> dict:
        return verification_metadata(self.sql.run(verification_query(plan, columns)))
