"""Where a schema migration is applied (`SchemaTarget`): the local catalog through PyIceberg
(`engines.local.schema_target`) or Athena DDL over Glue (`engines.aws.schema_target`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from health_pipeline.schema.model import Column
from health_pipeline.schema.plan import MigrationPlan
from health_pipeline.sql import Query
from health_pipeline.stack import QueryResult

VERIFY_WINDOW = timedelta(days=30)


def verification_query(plan: MigrationPlan, columns: list[str], now: datetime | None = None) -> Query:
    now = now or datetime.now(UTC).replace(tzinfo=None)
    window = (now - VERIFY_WINDOW, now + timedelta(days=1))
    return Query(
        name="schema_verification",
        text=plan.verification_sql(columns),
        parameters=window,
        window=window,
        table=plan.table,
    )


def verification_metadata(result: QueryResult) -> dict:
    return {"query_id": result.query_id, "rows_returned": result.rows.num_rows, "columns": result.rows.column_names}


class SchemaTarget(Protocol):
    """What the schema asset, the drift sensor, the migration and `schema status` use, in either mode."""

    def read_plan(self) -> MigrationPlan:
        """Desired (Terraform) vs catalog vs live schema, classified, with the plan to converge."""
        ...

    def apply(self, plan: MigrationPlan, added: list[Column], promoted: list[Column]) -> list[str]:
        """Apply the columns to add and the allowed promotions; returns what was done, one line each."""
        ...

    def verify_query(self, plan: MigrationPlan, columns: list[str]) -> dict:
        """Run the plan's ranged verification query on `columns`; returns its figures."""
        ...
