"""Where a schema migration is applied: the local catalog (PyIceberg) or Athena DDL over Glue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from health_pipeline.engines.base import QueryResult
from health_pipeline.schema.model import Column, TableSchema
from health_pipeline.schema.plan import MigrationPlan
from health_pipeline.sql import Query

VERIFY_WINDOW = timedelta(days=30)


def verification_query(plan: MigrationPlan, columns: list[str], now: datetime | None = None) -> Query:
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    window = (now - VERIFY_WINDOW, now + timedelta(days=1))
    return Query(
        name="schema_verification",
        text=plan.verification_sql(columns),
        parameters=window,
        window=window,
        table=plan.table,
    )


def _verification_metadata(result: QueryResult) -> dict:
    return {"query_id": result.query_id, "rows_returned": result.rows.num_rows, "columns": result.rows.column_names}


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
        return _verification_metadata(self.sql.run(verification_query(plan, columns)))


class AthenaSchemaTarget:
    """aws mode: desired from Terraform, catalog from Glue, live from Iceberg (PyIceberg through Glue);
    changes applied with Athena DDL, which updates both the Glue columns and the Iceberg metadata."""

    def __init__(self, glue_table, desired: Callable[[], TableSchema], athena) -> None:
        self.glue_table = glue_table
        self.desired = desired
        self.athena = athena

    def read_plan(self) -> MigrationPlan:
        return MigrationPlan.build(
            self.glue_table.table_name,
            self.desired(),
            self.glue_table.live_schema(),
            catalog=self.glue_table.catalog_schema(),
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
        return _verification_metadata(self.athena.run(verification_query(plan, columns)))


# What the schema assets, sensor and CLI accept: either mode's target (same methods).
SchemaTarget = LocalSchemaTarget | AthenaSchemaTarget
