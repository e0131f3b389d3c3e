"""The aws schema target: Athena DDL, which updates both the Glue columns and the Iceberg metadata."""

from __future__ import annotations

from collections.abc import Callable

from health_pipeline.schema.layout import TableLayout
from health_pipeline.schema.model import Column, TableSchema
from health_pipeline.schema.plan import MigrationPlan
from health_pipeline.schema.verification import verification_metadata, verification_query


class AthenaSchemaTarget:
    """aws mode: desired from Terraform, catalog from Glue, live from Iceberg (PyIceberg through Glue);
    changes applied with Athena DDL, which updates both the Glue columns and the Iceberg metadata. With
    `desired_layout` (Terraform's partition spec and sort order), the live layout is compared too."""

    def __init__(
        self,
        glue_table,
        desired: Callable[[], TableSchema],
        athena,
        desired_layout: Callable[[], TableLayout | None] | None = None,
    ) -> None:
        self.glue_table = glue_table
        self.desired = desired
        self.athena = athena
        self.desired_layout = desired_layout

    def read_plan(self) -> MigrationPlan:
        iceberg = self.glue_table.iceberg_table()  # one catalog read: the live schema and layout
        return MigrationPlan.build(
            self.glue_table.table_name,
            self.desired(),
            None if iceberg is None else TableSchema.from_iceberg(iceberg.schema()),
            catalog=self.glue_table.catalog_schema(),
            desired_layout=self.desired_layout() if self.desired_layout else None,
            live_layout=None if iceberg is None else TableLayout.from_iceberg(iceberg),
        )

    def apply(self, plan: MigrationPlan, added: list[Column], promoted: list[Column]) -> list[str]:
        statements = []
        if added:
            statements.append(plan.add_columns_ddl())
        if promoted:
            statements += plan.promotion_ddl()
        done = []
        for statement in statements:
            execution = self.athena.execute_ddl(statement)
            done.append(f"{statement}  -- query {getattr(execution, 'query_id', execution)}")
        return done

    def verify_query(self, plan: MigrationPlan, columns: list[str]) -> dict:
        return verification_metadata(self.athena.run(verification_query(plan, columns)))
