"""Where a schema migration is applied (`SchemaTarget`): the local catalog through PyIceberg
(`engines.local.schema_target`) or Athena DDL over Glue (`engines.aws.schema_target`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
