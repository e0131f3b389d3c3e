"""The Athena-dialect SQL the pipeline runs, and the pattern's two query rules (no `SELECT *`, always a `recorded_at` range), enforced with sqlglot.

The same file is sent to Athena as it is and, transpiled by sqlglot, run by DuckDB in local mode.
Values outside a WHERE clause or in a DELETE are written into the text only by `render` (Athena takes
parameters only in WHERE, and only in SELECT, INSERT INTO, CTAS and UNLOAD); `athena_rules` holds
every statement to Athena's documented rules before it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

import sqlglot
from sqlglot import exp

from health_pipeline.sql.render import render_value

SQL_DIR = Path(__file__).parent
DIALECT = "athena"
TIME_COLUMN = "recorded_at"


class QueryRuleViolation(ValueError):
    """A query breaks the query rules: no SELECT *, and always a recorded_at range on the table."""


@dataclass(frozen=True)
class Query:
    """A query ready for an engine: Athena-dialect text, positional parameters and the recorded_at window."""

    name: str
    text: str
    parameters: tuple = ()
    window: tuple[datetime, datetime] | None = None
    table: str = "health_records"
    # The query reads only rows whose recorded_at is null (Iceberg's null partition), not a window.
    null_time: bool = False
    # The result may hold a row per user (the daily summary): engines that page their results
    # (Athena's GetQueryResults, 1,000 rows a call) read it whole from the result file instead.
    bulk_result: bool = False


@cache
def load_sql(name: str) -> str:
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file {path}")
    return path.read_text(encoding="utf-8")


def with_day_case(sql: str, name: str, days: list[tuple[date, datetime]]) -> str:
    """The SQL with the string literal '{name}' replaced by the day each row's recorded_at falls in:
    `days` are (day, end of that day in UTC) in order, and the expression is
    CASE WHEN recorded_at < TIMESTAMP '<end 1>.000000' THEN '<day 1>' ... END (one day: just '<day>').

    For values Athena cannot take as ExecutionParameters (those are allowed only in WHERE): every day
    is a `date`, every end a `datetime` rendered by `render.render_value`, so the text is only digits,
    dashes, colons, dots and spaces, never SQL.
    """
    if not days:
        raise ValueError("no day to summarize")
    for day, end in days:
        if type(day) is not date or type(end) is not datetime:
            raise TypeError(f"{name} takes (datetime.date, datetime.datetime) pairs, got {day!r}, {end!r}")
    marker = "'{" + name + "}'"
    if marker not in sql:
        raise ValueError(f"the SQL has no {marker} to replace; is the SQL file current?")
    if len(days) == 1:
        expression = f"'{days[0][0].isoformat()}'"
    else:
        whens = " ".join(f"WHEN {TIME_COLUMN} < {render_value(end)} THEN '{day.isoformat()}'" for day, end in days)
        expression = f"CASE {whens} END"
    return sql.replace(marker, expression)


def sql_files() -> list[Path]:
    return sorted(SQL_DIR.glob("*.sql"))


def with_table(sql: str, table: str) -> str:
    """The SQL with `health_records` replaced by the configured table name (an allow-listed identifier)."""
    if table == "health_records":
        return sql
    tree = sqlglot.parse_one(sql, read=DIALECT)
    for node in tree.find_all(exp.Table):
        if node.name == "health_records":
            node.set("this", exp.to_identifier(table))
    return tree.sql(dialect=DIALECT)


def to_duckdb(sql: str) -> str:
    return sqlglot.transpile(sql, read=DIALECT, write="duckdb")[0]


def check_query_rules(sql: str, table: str = "health_records") -> None:
    """Raise QueryRuleViolation if any statement selects * or reads `table` without a recorded_at range.

    A DELETE from `table` (erasure) needs the range too. DDL (ALTER TABLE ...) is exempt from the
    range rule: it reads no rows. `recorded_at IS NULL` counts as
    a range: with day(recorded_at) partitioning it reads only the null partition.
    """
    for statement in sqlglot.parse(sql, read=DIALECT):
        if statement is None:
            continue
        for star in statement.find_all(exp.Star):
            if not isinstance(star.parent, exp.Count):
                raise QueryRuleViolation(f"SELECT * is not allowed; name the columns: {_short(statement)}")
        for select in statement.find_all(exp.Select):
            reads_table = any(
                isinstance(source, exp.Table) and source.name == table for source in _direct_sources(select)
            )
            if reads_table and not _has_time_range(select.args.get("where")):
                raise QueryRuleViolation(
                    f"a query of {table} must restrict {TIME_COLUMN} to a range in its WHERE: {_short(select)}"
                )
        for delete in statement.find_all(exp.Delete):
            target = delete.this
            if isinstance(target, exp.Table) and target.name == table and not _has_time_range(delete.args.get("where")):
                raise QueryRuleViolation(
                    f"a DELETE from {table} must restrict {TIME_COLUMN} to a range in its WHERE: {_short(delete)}"
                )


def _direct_sources(select: exp.Select) -> list[exp.Expression]:
    sources: list[exp.Expression] = []
    from_ = select.args.get("from") or select.args.get("from_")
    if from_ is not None:
        sources.append(from_.this)
    for join in select.args.get("joins") or []:
        sources.append(join.this)
    return sources


def _conjuncts(node: exp.Expression) -> list[exp.Expression]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    return [node]


def _has_time_range(where: exp.Expression | None) -> bool:
    """A top-level conjunct bounds recorded_at from below (the pipeline pattern's own example has only `>=`), or
    pins it to NULL (Iceberg's null partition). Bounds under OR or NOT do not count: they do not narrow."""
    if where is None:
        return False
    for node in _conjuncts(where.this if isinstance(where, exp.Where) else where):
        if isinstance(node, exp.Between) and _is_time_column(node.this):
            return True
        if isinstance(node, exp.Is) and _is_time_column(node.this) and isinstance(node.expression, exp.Null):
            return True
        if isinstance(node, (exp.GT, exp.GTE)) and _is_time_column(node.this):
            return True
        if isinstance(node, (exp.LT, exp.LTE)) and _is_time_column(node.expression):
            return True
    return False


def _is_time_column(node: exp.Expression) -> bool:
    return isinstance(node, exp.Column) and node.name == TIME_COLUMN


def _short(node: exp.Expr) -> str:
    text = node.sql(dialect=DIALECT)
    return text if len(text) <= 160 else text[:157] + "..."
