"""Athena's result shape, as the sandbox writes and serves it: the column types Athena names, values
as Trino renders them, the result CSV at the OutputLocation and GetQueryResults' pages."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

RESULT_PAGE_MAX = 1_000


@dataclass
class Outcome:
    """What one statement produced: its columns and rows as Athena renders them, and the bytes read."""

    columns: list[dict[str, Any]] = field(default_factory=list)
    rows: list[list[str | None]] = field(default_factory=list)
    scanned_bytes: int = 0
    update_count: int | None = None


def athena_type(arrow: pa.DataType) -> str:
    if pa.types.is_int8(arrow):
        return "tinyint"
    if pa.types.is_int16(arrow):
        return "smallint"
    if pa.types.is_int32(arrow):
        return "integer"
    if pa.types.is_integer(arrow):
        return "bigint"
    if pa.types.is_float32(arrow):
        return "real"
    if pa.types.is_floating(arrow):
        return "double"
    if pa.types.is_boolean(arrow):
        return "boolean"
    if pa.types.is_decimal(arrow):
        return "decimal"
    if pa.types.is_timestamp(arrow):
        return "timestamp"
    if pa.types.is_date(arrow):
        return "date"
    return "varchar"


def column_info(arrow_field: pa.Field) -> dict[str, Any]:
    kind = athena_type(arrow_field.type)
    precision, scale = 0, 0
    if kind == "decimal":
        precision, scale = arrow_field.type.precision, arrow_field.type.scale
    elif kind == "varchar":
        precision = 2147483647
    elif kind in ("integer", "bigint", "double", "real"):
        precision = {"integer": 10, "bigint": 19, "double": 17, "real": 17}[kind]
    elif kind == "timestamp":
        precision, scale = 6, 0
    return {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": arrow_field.name,
        "Label": arrow_field.name,
        "Type": kind,
        "Precision": precision,
        "Scale": scale,
        "Nullable": "UNKNOWN",
        "CaseSensitive": kind == "varchar",
    }


def java_double(value: float) -> str:
    """A double as Trino (Java's Double.toString) writes it: 2.0, 3.667, 1.0E-4, 1.2345678E7, NaN, Infinity."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "." in text or "e" in text else text + ".0"
    digits = Decimal(repr(value)).normalize().as_tuple()  # the shortest digits that round-trip
    figures = "".join(map(str, digits.digits))
    exponent = int(digits.exponent) + len(figures) - 1
    sign = "-" if value < 0 else ""
    return f"{sign}{figures[0]}.{figures[1:] or '0'}E{exponent}"


def render(value: Any, arrow: pa.DataType) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")  # Iceberg's timestamp(6)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def result_csv(outcome: Outcome) -> bytes:
    """Athena's result CSV: a header of the labels, every value in double quotes (inner quotes doubled),
    a null as an empty unquoted field, rows ended with a newline."""

    def line(cells: list[str | None]) -> str:
        return ",".join("" if c is None else '"' + c.replace('"', '""') + '"' for c in cells) + "\n"

    header = [c["Label"] for c in outcome.columns]
    return (line(header) + "".join(line(row) for row in outcome.rows)).encode("utf-8")


def result_page(outcome: Outcome, statement: str, start: int, max_results: int) -> tuple[dict[str, Any], int | None]:
    """One GetQueryResults page from row `start` (the header of a SELECT is row 0 of its rows); the next
    start, or None on the last page."""
    rows: list[list[str | None]] = outcome.rows
    if statement == "DML" and outcome.columns:
        rows = [[c["Label"] for c in outcome.columns], *outcome.rows]
    page = rows[start : start + max_results]
    result: dict[str, Any] = {
        "ResultSet": {
            "Rows": [{"Data": [{} if c is None else {"VarCharValue": c} for c in row]} for row in page],
            "ResultSetMetadata": {"ColumnInfo": outcome.columns},
        }
    }
    if outcome.update_count is not None:
        result["UpdateCount"] = outcome.update_count
    following = start + max_results
    return result, (following if following < len(rows) else None)
