"""A query's values as Athena's ExecutionParameters: each one a SQL literal that cannot end itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlglot
from sqlglot import exp

from health_pipeline.sql import DIALECT


def athena_literal(value: Any) -> str:
    """One ExecutionParameters entry: Athena substitutes it as a SQL literal, so strings are quoted here
    (quotes doubled: a value can never end the literal) and timestamps carry their type."""
    if isinstance(value, bool) or not isinstance(value, (datetime, str, int)):
        raise TypeError(
            f"an Athena query parameter must be a datetime (UTC, no zone), a str or an int; got"
            f" {type(value).__name__} {value!r}: convert it before building the Query"
        )
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise TypeError(
                f"timestamp parameter {value.isoformat()} has a zone; recorded_at holds UTC without zone:"
                " pass value.astimezone(timezone.utc).replace(tzinfo=None)"
            )
        return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S.%f')}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(int(value))


def placeholder_count(sql: str) -> int:
    return sum(
        1 for statement in sqlglot.parse(sql, read=DIALECT) if statement for _ in statement.find_all(exp.Placeholder)
    )
