"""Glue column types mapped to Iceberg, Arrow and DuckDB types, and Athena's result types to Arrow:
the one place the type systems meet.

Only the types Athena DDL, Glue and Iceberg agree on are allowed; anything else is refused with the
list of what is, so a typo in Terraform fails at `schema status`, not in a Firehose error object.

The Glue spellings are plain data; pyarrow and PyIceberg are imported by the functions that return
their types, so the producer Lambda (which validates against Glue types only) loads neither.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg import types as it

_DECIMAL = re.compile(r"^decimal\((\d{1,2}),\s*(\d{1,2})\)$")
# Glue type -> DuckDB type; the Iceberg and Arrow types are in _iceberg_and_arrow().
_SIMPLE: dict[str, str] = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "boolean": "BOOLEAN",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
}
SUPPORTED_GLUE_TYPES = (*_SIMPLE, "decimal(P,S)")


class UnsupportedTypeError(ValueError):
    """A column type outside the allow-list shared by Glue, Athena DDL and Iceberg."""


@cache
def _iceberg_and_arrow() -> dict[str, tuple[it.PrimitiveType, pa.DataType]]:
    import pyarrow as pa
    from pyiceberg import types as it

    return {
        "string": (it.StringType(), pa.string()),
        "timestamp": (it.TimestampType(), pa.timestamp("us")),
        "date": (it.DateType(), pa.date32()),
        "boolean": (it.BooleanType(), pa.bool_()),
        "int": (it.IntegerType(), pa.int32()),
        "bigint": (it.LongType(), pa.int64()),
        "float": (it.FloatType(), pa.float32()),
        "double": (it.DoubleType(), pa.float64()),
    }


def normalize_glue_type(glue_type: str) -> str:
    """The canonical spelling of a Glue type (`INT` -> `int`, `decimal(10, 2)` -> `decimal(10,2)`)."""
    text = glue_type.strip().lower()
    if text == "integer":
        text = "int"
    if text in _SIMPLE:
        return text
    match = _DECIMAL.match(text)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if 1 <= precision <= 38 and scale <= precision:
            return f"decimal({precision},{scale})"
    raise UnsupportedTypeError(
        f"column type {glue_type!r} is not supported; use one of {', '.join(SUPPORTED_GLUE_TYPES)}"
    )


def iceberg_type(glue_type: str) -> it.PrimitiveType:
    from pyiceberg import types as it

    text = normalize_glue_type(glue_type)
    if text.startswith("decimal("):
        precision, scale = (int(part) for part in text[8:-1].split(","))
        return it.DecimalType(precision, scale)
    return _iceberg_and_arrow()[text][0]


def arrow_type(glue_type: str) -> pa.DataType:
    import pyarrow as pa

    text = normalize_glue_type(glue_type)
    if text.startswith("decimal("):
        precision, scale = (int(part) for part in text[8:-1].split(","))
        return pa.decimal128(precision, scale)
    return _iceberg_and_arrow()[text][1]


def duckdb_type(glue_type: str) -> str:
    """The DuckDB type a column is cast to when the local engine reads the table."""
    text = normalize_glue_type(glue_type)
    return text.upper() if text.startswith("decimal(") else _SIMPLE[text]


@cache
def _athena_result_types() -> dict[str, pa.DataType]:
    """Athena (Trino) result types, as GetQueryResults' ColumnInfo names them."""
    import pyarrow as pa

    return {
        "tinyint": pa.int8(),
        "smallint": pa.int16(),
        "integer": pa.int32(),
        "int": pa.int32(),
        "bigint": pa.int64(),
        "double": pa.float64(),
        "real": pa.float32(),
        "float": pa.float32(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us"),
    }


def athena_result_arrow_type(column: dict) -> pa.DataType:
    """The Arrow type of an Athena ColumnInfo; types without a scalar mapping (array, map, row, json,
    varbinary, time...) stay strings as Athena renders them."""
    import pyarrow as pa

    name = column.get("Type", "varchar").lower()
    if name == "decimal":
        return pa.decimal128(int(column.get("Precision") or 38), int(column.get("Scale") or 0))
    return _athena_result_types().get(name, pa.string())


def glue_type_of(iceberg: it.IcebergType) -> str:
    """The Glue spelling of a live Iceberg column type, for comparing it with Terraform's."""
    from pyiceberg import types as it

    if isinstance(iceberg, it.DecimalType):
        return f"decimal({iceberg.precision},{iceberg.scale})"
    if isinstance(iceberg, it.TimestamptzType):
        return "timestamptz"
    by_iceberg = {str(types[0]): glue for glue, types in _iceberg_and_arrow().items()}
    return by_iceberg.get(str(iceberg), str(iceberg))


def timestamp_from_bound(raw: bytes) -> datetime:
    """A `timestamp` column's bound as a data file's manifest entry holds it (Iceberg's single-value
    binary form: microseconds since the epoch), as a datetime without zone."""
    from pyiceberg.conversions import from_bytes
    from pyiceberg.types import TimestampType

    micros = from_bytes(TimestampType(), raw)
    if not isinstance(micros, int):
        raise TypeError(f"a timestamp bound decoded to {micros!r}, not microseconds since the epoch")
    return datetime(1970, 1, 1) + timedelta(microseconds=micros)
