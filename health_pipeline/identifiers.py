"""The one rule for the names that reach SQL or the catalog (database, table, column): Glue and
Athena take lower-case letters, digits and underscores, at most 255 characters; words Athena DDL will
not take bare are refused too. Settings, the schema plan and the DDL all use it."""

from __future__ import annotations

import re

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,254}$")
# Words Athena DDL will not take as bare column names even in backticks' company; refuse rather than guess.
RESERVED = frozenset(
    [
        "all",
        "alter",
        "and",
        "as",
        "between",
        "by",
        "case",
        "cast",
        "column",
        "create",
        "cross",
        "date",
        "delete",
        "describe",
        "distinct",
        "drop",
        "else",
        "end",
        "exists",
        "false",
        "for",
        "from",
        "full",
        "group",
        "having",
        "in",
        "inner",
        "insert",
        "interval",
        "into",
        "is",
        "join",
        "left",
        "like",
        "limit",
        "not",
        "null",
        "on",
        "or",
        "order",
        "outer",
        "partition",
        "right",
        "select",
        "table",
        "then",
        "time",
        "timestamp",
        "true",
        "union",
        "update",
        "using",
        "values",
        "when",
        "where",
        "with",
    ]
)


class UnsafeSchemaError(ValueError):
    """An identifier or type that is not allowed to reach DDL text."""


def is_identifier(name: object) -> bool:
    return isinstance(name, str) and bool(IDENTIFIER.match(name)) and name not in RESERVED


def check_identifier(name: str, what: str = "column") -> str:
    if not is_identifier(name):
        raise UnsafeSchemaError(
            f"{what} name {name!r} is not allowed in DDL: use lower-case letters, digits and _ (starting with a"
            " letter or _), at most 255 characters, and not an SQL keyword"
        )
    return name
