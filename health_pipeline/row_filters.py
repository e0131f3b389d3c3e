"""The PyIceberg row filters the project scans and deletes with: a recorded_at window, the rows with
no recorded_at, some people's rows.

PyIceberg 0.12's predicates are pydantic models: each declares its own `__init__(term, literal)`, but
without pydantic's mypy plugin mypy builds their constructors from the fields instead and refuses a
column name (apache/iceberg-python issue 3101, "Expression constructors are not mypy-compatible";
with the plugin `IsNull` and `In` are still refused). They are built here, once, each with the ignore
that issue needs; everything else takes a typed `BooleanExpression`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pyiceberg.expressions import And, BooleanExpression, GreaterThanOrEqual, In, IsNull, LessThan

RECORDED_AT = "recorded_at"
USER_ID = "user_id"


def recorded_at_window(start: datetime, end: datetime) -> BooleanExpression:
    """Rows with recorded_at in [start, end) (UTC without zone, as the column holds it)."""
    return And(
        GreaterThanOrEqual(RECORDED_AT, start.isoformat()),  # type: ignore[call-arg, arg-type]  # iceberg-python#3101
        LessThan(RECORDED_AT, end.isoformat()),  # type: ignore[call-arg, arg-type]  # iceberg-python#3101
    )


def recorded_at_missing() -> BooleanExpression:
    """Rows with no recorded_at."""
    return IsNull(RECORDED_AT)  # type: ignore[call-arg, arg-type]  # iceberg-python#3101


def users_in(user_ids: Iterable[str]) -> BooleanExpression:
    """The rows of these people."""
    return In(USER_ID, set(user_ids))  # type: ignore[call-arg, arg-type]  # iceberg-python#3101
