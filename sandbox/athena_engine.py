"""What the sandbox's Athena executes: SELECT with Trino semantics (sqlglot trino -> DuckDB) over a
PyIceberg scan of each table the statement reads, DELETE on the Iceberg table, and
`ALTER TABLE ... ADD COLUMNS`; the result in Athena's CSV format and GetQueryResults' shape.

The values of ExecutionParameters are put in the text where the `?` stand, as Athena does; each
table read is scanned with the predicates of its WHERE that PyIceberg can push down (ranges and
equalities on its columns), so DataScannedInBytes is the bytes of the data files that scan plans,
as Athena bills the files it reads.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    EqualTo,
    GreaterThan,
    GreaterThanOrEqual,
    IsNull,
    LessThan,
    LessThanOrEqual,
    NotNull,
)
from pyiceberg.table import Table
from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
)
from sqlglot import exp

from sandbox.athena_rules import DDL_ERROR_TYPE, USER_ERROR_TYPE, placeholder_offsets, statement_kind

RESULT_PAGE_MAX = 1_000


class StatementFailed(Exception):
    """The statement ran and failed: the query ends FAILED with this reason."""

    def __init__(self, message: str, error_type: int = USER_ERROR_TYPE) -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass
class Outcome:
    """What one statement produced: its columns and rows as Athena renders them, and the bytes read."""

    columns: list[dict[str, Any]] = field(default_factory=list)
    rows: list[list[str | None]] = field(default_factory=list)
    scanned_bytes: int = 0
    update_count: int | None = None


LoadTable = Callable[[str, str], Table]


def substitute(sql: str, parameters: list[str]) -> str:
    """The statement with each `?` replaced by its ExecutionParameters entry, in the order of the text."""
    out = sql
    for offset, value in sorted(zip(placeholder_offsets(sql), parameters), reverse=True):
        out = out[:offset] + value + out[offset + 1 :]
    return out


def execute(sql: str, parameters: list[str], database: str, load_table: LoadTable) -> Outcome:
    """Run one statement (already admitted by the rules) against the Iceberg tables."""
    kind = statement_kind(sql)
    text = substitute(sql, parameters)
    if kind == "SELECT":
        return _select(text, database, load_table)
    if kind == "DELETE":
        return _delete(text, database, load_table)
    if kind == "ALTER TABLE":
        return _alter_table(text, database, load_table)
    raise StatementFailed(
        f"NOT_SUPPORTED: the sandbox executes SELECT, DELETE and ALTER TABLE ... ADD COLUMNS; {kind} is not"
        " executed here (Athena itself may accept it)",
        error_type=DDL_ERROR_TYPE,
    )


# -- SELECT ------------------------------------------------------------------------------------------
def _parse(text: str) -> exp.Expression:
    try:
        return sqlglot.parse_one(text, read="trino")
    except sqlglot.errors.ParseError as err:
        raise StatementFailed(f"SYNTAX_ERROR: {err}") from err


def _scan_tables(tree: exp.Expression, database: str, load_table: LoadTable, con: duckdb.DuckDBPyConnection) -> int:
    """Register a filtered scan of every table the statement reads in `con` and point the statement at it;
    returns the bytes of the data files planned."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    scanned = 0
    for node in list(tree.find_all(exp.Table)):
        if not node.args.get("db") and node.name.lower() in ctes:
            continue
        db = node.db or database
        table = _load(load_table, db, node.name)
        row_filter = _pushdown(node, table)
        scan = table.scan(row_filter=row_filter)
        tasks = list(scan.plan_files())
        scanned += sum(task.file.file_size_in_bytes for task in tasks)
        scanned += sum(d.file_size_in_bytes for task in tasks for d in task.delete_files)
        view = f"scan_{uuid.uuid4().hex[:12]}"
        con.register(view, scan.to_arrow())
        alias = node.alias or node.name
        node.replace(exp.Table(this=exp.to_identifier(view), alias=exp.TableAlias(this=exp.to_identifier(alias))))
    return scanned


def _load(load_table: LoadTable, db: str, name: str) -> Table:
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    try:
        return load_table(db, name)
    except (NoSuchTableError, NoSuchNamespaceError) as err:
        raise StatementFailed(f"TABLE_NOT_FOUND: Table 'awsdatacatalog.{db}.{name}' does not exist") from err


def _select(text: str, database: str, load_table: LoadTable) -> Outcome:
    tree = _parse(text)
    con = duckdb.connect()
    try:
        scanned = _scan_tables(tree, database, load_table, con)
        try:
            result = con.execute(tree.sql(dialect="duckdb")).to_arrow_table()
        except duckdb.Error as err:
            raise StatementFailed(f"GENERIC_USER_ERROR: {err}") from err
    finally:
        con.close()
    columns = [_column_info(f) for f in result.schema]
    rows = [[_render(value, f.type) for value, f in zip(row, result.schema)] for row in _rows(result)]
    return Outcome(columns=columns, rows=rows, scanned_bytes=scanned)


def _rows(table: pa.Table) -> list[tuple]:
    columns = [column.to_pylist() for column in table.columns]
    return list(zip(*columns)) if columns else []


# -- DELETE ------------------------------------------------------------------------------------------
def _delete(text: str, database: str, load_table: LoadTable) -> Outcome:
    """DELETE FROM t [WHERE c]: the rows where c is true are removed. Athena writes position-delete
    files (merge-on-read); the sandbox rewrites the files that hold such rows (copy-on-write): the
    rows a reader sees afterwards are the same."""
    tree = _parse(text)
    if not isinstance(tree, exp.Delete):
        raise StatementFailed("SYNTAX_ERROR: not a DELETE statement")
    target = tree.this
    table = _load(load_table, target.db or database, target.name)
    row_filter = _pushdown(target, table, where=tree.args.get("where"))
    scan = table.scan(row_filter=row_filter)
    tasks = list(scan.plan_files())
    scanned = sum(task.file.file_size_in_bytes for task in tasks)
    candidates = scan.to_arrow()
    where = tree.args.get("where")
    condition = where.this.sql(dialect="duckdb") if where is not None else "TRUE"
    con = duckdb.connect()
    try:
        con.register("candidates", candidates)
        alias = target.alias or target.name
        try:
            kept = con.execute(
                f'SELECT * FROM candidates AS "{alias}" WHERE NOT COALESCE(({condition}), FALSE)'
            ).to_arrow_table()
        except duckdb.Error as err:
            raise StatementFailed(f"GENERIC_USER_ERROR: {err}") from err
    finally:
        con.close()
    removed = candidates.num_rows - kept.num_rows
    if removed:
        with table.transaction() as tx:
            tx.delete(delete_filter=row_filter)
            if kept.num_rows:
                tx.append(kept.cast(table.schema().as_arrow()))
    return Outcome(scanned_bytes=scanned, update_count=removed)


# -- ALTER TABLE ... ADD COLUMNS ---------------------------------------------------------------------
ADD_COLUMNS = re.compile(
    r"^\s*ALTER\s+TABLE\s+(?P<name>[`\"]?[\w.`\"]+)\s+ADD\s+COLUMNS\s*\((?P<columns>.*)\)\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
HIVE_TYPES: dict[str, Any] = {
    "string": StringType(),
    "varchar": StringType(),
    "int": IntegerType(),
    "integer": IntegerType(),
    "bigint": LongType(),
    "double": DoubleType(),
    "float": FloatType(),
    "boolean": BooleanType(),
    "timestamp": TimestampType(),
    "date": DateType(),
}


def _alter_table(text: str, database: str, load_table: LoadTable) -> Outcome:
    match = ADD_COLUMNS.match(re.sub(r"--[^\n]*", "", text))
    if match is None:
        raise StatementFailed(
            "NOT_SUPPORTED: the sandbox executes ALTER TABLE ... ADD COLUMNS (name type, ...) only",
            error_type=DDL_ERROR_TYPE,
        )
    parts = [p.strip().strip('`"') for p in match["name"].replace("`", "").replace('"', "").split(".")]
    db, name = (parts[-2], parts[-1]) if len(parts) >= 2 else (database, parts[-1])
    table = _load(load_table, db, name)
    new: list[tuple[str, Any]] = []
    for spec in _split_columns(match["columns"]):
        words = spec.split(None, 1)
        if len(words) != 2:
            raise StatementFailed(f"SYNTAX_ERROR: column definition {spec!r} is not `name type`", DDL_ERROR_TYPE)
        column, type_text = words[0].strip('`"').lower(), words[1].strip().lower()
        decimal = re.fullmatch(r"decimal\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", type_text)
        iceberg_type = DecimalType(int(decimal[1]), int(decimal[2])) if decimal else HIVE_TYPES.get(type_text)
        if iceberg_type is None:
            raise StatementFailed(f"NOT_SUPPORTED: Unknown type '{type_text}' for column '{column}'", DDL_ERROR_TYPE)
        if _has(table, column):
            raise StatementFailed(f"COLUMN_ALREADY_EXISTS: Column '{column}' already exists", DDL_ERROR_TYPE)
        new.append((column, iceberg_type))
    with table.update_schema() as update:
        for column, iceberg_type in new:
            update.add_column(column, iceberg_type)
    return Outcome()


def _has(table: Table, column: str) -> bool:
    return any(f.name.lower() == column for f in table.schema().fields)


def _split_columns(text: str) -> list[str]:
    out, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            out.append(current.strip())
            current = ""
            continue
        depth += (char == "(") - (char == ")")
        current += char
    if current.strip():
        out.append(current.strip())
    return out


# -- predicate pushdown ------------------------------------------------------------------------------
COMPARISONS: dict[type, Any] = {
    exp.EQ: EqualTo,
    exp.GT: GreaterThan,
    exp.GTE: GreaterThanOrEqual,
    exp.LT: LessThan,
    exp.LTE: LessThanOrEqual,
}
FLIPPED: dict[type, type] = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE, exp.EQ: exp.EQ}


def _pushdown(node: exp.Table, table: Table, where: exp.Where | None = None) -> BooleanExpression:
    """The conjuncts of the WHERE that reads `node` that are `column op literal` on its columns: a filter
    that can only narrow the scan to files that may hold matching rows (DuckDB still applies the whole WHERE)."""
    if where is None:
        select = node.find_ancestor(exp.Select)
        where = select.args.get("where") if select is not None else None
    if where is None:
        return AlwaysTrue()
    names = {node.alias_or_name.lower(), node.name.lower()}
    fields = {f.name.lower(): f for f in table.schema().fields}
    result: BooleanExpression = AlwaysTrue()
    for conjunct in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
        predicate = _predicate(conjunct, names, fields)
        if predicate is not None:
            result = predicate if isinstance(result, AlwaysTrue) else And(result, predicate)
    return result


def _predicate(node: exp.Expression, tables: set[str], fields: dict[str, Any]) -> BooleanExpression | None:
    def column_of(e: exp.Expression) -> str | None:
        if isinstance(e, exp.Column) and (not e.table or e.table.lower() in tables) and e.name.lower() in fields:
            return fields[e.name.lower()].name
        return None

    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        name = column_of(node.this)
        return IsNull(name) if name else None
    if isinstance(node, exp.Not) and isinstance(node.this, exp.Is) and isinstance(node.this.expression, exp.Null):
        name = column_of(node.this.this)
        return NotNull(name) if name else None
    if type(node) not in COMPARISONS:
        return None
    left, right, kind = node.this, node.expression, type(node)
    if column_of(left) is None:
        left, right, kind = right, left, FLIPPED[kind]
    name = column_of(left)
    if name is None:
        return None
    value = _literal(right, fields[name.lower()].field_type)
    return None if value is None else COMPARISONS[kind](name, value)


def _literal(node: exp.Expression, field_type: Any) -> Any:
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
        text = node.this.this
    elif isinstance(node, exp.Literal):
        text = node.this
        if not node.is_string and isinstance(field_type, (IntegerType, LongType)):
            return int(text) if re.fullmatch(r"-?\d+", text) else None
        if not node.is_string:
            return None
    else:
        return None
    if isinstance(field_type, TimestampType):
        try:
            return datetime.fromisoformat(text).isoformat()
        except ValueError:
            return None
    if isinstance(field_type, StringType):
        return text
    return None


# -- Athena's result shape ---------------------------------------------------------------------------
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


def _column_info(arrow_field: pa.Field) -> dict[str, Any]:
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


def _render(value: Any, arrow: pa.DataType) -> str | None:
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


def elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
