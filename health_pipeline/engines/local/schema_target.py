"""The local schema target: PyIceberg update_schema on the local catalog, verified with DuckDB."""

from __future__ import annotations

from collections.abc import Callable

from health_pipeline.schema.layout import TableLayout
from health_pipeline.schema.model import Column, TableSchema
from health_pipeline.schema.plan import MigrationPlan
from health_pipeline.schema.verification import verification_metadata, verification_query


class LocalSchemaTarget:
    """The local table: PyIceberg update_schema, verified with the local SQL engine. With
    `desired_layout` (Terraform's partition spec and sort order), the live layout is compared too."""

    def __init__(
        self,
        table,
        desired: Callable[[], TableSchema],
        sql,
        desired_layout: Callable[[], TableLayout | None] | None = None,
    ) -> None:
        self.table = table
        self.desired = desired
        self.sql = sql
        self.desired_layout = desired_layout

    def read_plan(self) -> MigrationPlan:
        iceberg = self.table.iceberg_table()  # one catalog read: the live schema and layout
        return MigrationPlan.build(
            self.table.table_name,
            self.desired(),
            None if iceberg is None else TableSchema.from_iceberg(iceberg.schema()),
            desired_layout=self.desired_layout() if self.desired_layout else None,
            live_layout=None if iceberg is None else TableLayout.from_iceberg(iceberg),
        )

    def apply(self, plan: MigrationPlan, added: list[Column], promoted: list[Column]) -> list[str]:
        return self.table.apply_schema_changes(added, promoted)

    def verify_query(self, plan: MigrationPlan, columns: list[str]) -> dict:
        return verification_metadata(self.sql.run(verification_query(plan, columns)))
