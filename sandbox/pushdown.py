"""Which rows of an Iceberg table a statement can need: the conjuncts of the WHERE that reads it that
are `column op literal` on its columns, as a PyIceberg row filter. The scan it narrows plans only
the files that may hold matching rows (their partitions and column bounds), which is what Athena
reads and bills; DuckDB still applies the whole WHERE to what the scan returns."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

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
from pyiceberg.types import IntegerType, LongType, StringType, TimestampType
from sqlglot import exp

COMPARISONS: dict[type, Any] = {
    exp.EQ: EqualTo,
    exp.GT: GreaterThan,
    exp.GTE: GreaterThanOrEqual,
    exp.LT: LessThan,
    exp.LTE: LessThanOrEqual,
}
FLIPPED: dict[type, type] = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE, exp.EQ: exp.EQ}


def pushdown(node: exp.Table, table: Table, where: exp.Where | None = None) -> BooleanExpression:
    """The conjuncts of the WHERE that reads `node` that are `column op literal` on its columns: a filter
    that can only narrow the scan to files that may hold matching rows (DuckDB still applies the whole WHERE)."""
    if where is None:
        select = node.find_ancestor(exp.Select)
        if select is None or any(join.side for join in select.args.get("joins") or []):
            # An outer join's WHERE is applied after the join (an anti-join's IS NULL among them):
            # narrowing one side's scan by it would change the result.
            return AlwaysTrue()
        where = select.args.get("where")
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
