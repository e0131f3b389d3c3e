"""What the sandbox's Athena executes: SELECT with Trino semantics (sqlglot trino -> DuckDB) over a
PyIceberg scan of each table the statement reads, DELETE on the Iceberg table, and
`ALTER TABLE ... ADD COLUMNS`; the result in Athena's CSV format and GetQueryResults' shape.

The values of ExecutionParameters are put in the text where the `?` stand, as Athena does; each
table read is scanned with the predicates of its WHERE that PyIceberg can push down (ranges and
equalities on its columns), so DataScannedInBytes is the bytes of the data files that scan plans,
as Athena bills the files it reads.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
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

from sandbox.athena_results import Outcome, column_info, render
from sandbox.athena_rules import DDL_ERROR_TYPE, USER_ERROR_TYPE, placeholder_offsets, statement_kind
from sandbox.pushdown import pushdown


class StatementFailed(Exception):
    """The statement ran and failed: the query ends FAILED with this reason."""

    def __init__(self, message: str, error_type: int = USER_ERROR_TYPE) -> None:
        super().__init__(message)
        self.error_type = error_type


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
        row_filter = pushdown(node, table)
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


def _connect() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with Trino's arithmetic: integer / integer is an integer (truncated)."""
    con = duckdb.connect()
    con.execute("SET integer_division = true")
    return con


def _select(text: str, database: str, load_table: LoadTable) -> Outcome:
    tree = _parse(text)
    con = _connect()
    try:
        scanned = _scan_tables(tree, database, load_table, con)
        try:
            result = _trino_integers(con.sql(tree.sql(dialect="duckdb"))).to_arrow_table()
        except duckdb.Error as err:
            raise StatementFailed(f"GENERIC_USER_ERROR: {err}") from err
    finally:
        con.close()
    columns = [column_info(f) for f in result.schema]
    rows = [[render(value, f.type) for value, f in zip(row, result.schema)] for row in _rows(result)]
    return Outcome(columns=columns, rows=rows, scanned_bytes=scanned)


def _trino_integers(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """DuckDB widens SUM of integers to HUGEINT (128 bits); Trino's SUM(bigint) is a bigint (and
    fails on overflow): the result columns of that type are cast back to BIGINT, as Trino types them."""
    if "HUGEINT" not in map(str, relation.types):
        return relation

    def quoted(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    columns = [
        f"CAST({quoted(name)} AS BIGINT) AS {quoted(name)}" if str(kind) == "HUGEINT" else quoted(name)
        for name, kind in zip(relation.columns, relation.types)
    ]
    return relation.project(", ".join(columns))


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
    row_filter = pushdown(target, table, where=tree.args.get("where"))
    scan = table.scan(row_filter=row_filter)
    tasks = list(scan.plan_files())
    scanned = sum(task.file.file_size_in_bytes for task in tasks)
    candidates = scan.to_arrow()
    where = tree.args.get("where")
    condition = where.this.sql(dialect="duckdb") if where is not None else "TRUE"
    con = _connect()
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
