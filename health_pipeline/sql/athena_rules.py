"""Athena's documented rules for one StartQueryExecution, checked before it is sent (pure: no AWS call,
no Dagster). `check_athena_rules(sql, parameters)` raises `AthenaRuleViolation` naming the rule, the
statement and what to do. The aws engine calls it on every statement; unit/test_query_rules.py holds
every statement the project runs to it.

The rules and where AWS documents them:

- `?` only in a WHERE clause ("Currently, ? parameters can be placed only in the WHERE clause. Syntax
  like SELECT ? FROM table is not supported."): Athena User Guide, "Use parameterized queries".
- ExecutionParameters (and `?`) only with SELECT, INSERT INTO, CTAS and UNLOAD: the same page
  ("Currently, parameterized queries are supported only for SELECT, INSERT INTO, CTAS, and UNLOAD
  statements"). Its introduction also says "any DML query"; the list is the narrower reading, and the
  one this checker enforces, so a statement passes under both.
- one value per `?`, each ExecutionParameters entry 1 to 1,024 characters: the Athena API Reference,
  StartQueryExecution (botocore's model: ExecutionParameters items min 1, max 1024).
- none of what S3 Tables refuses from Athena: ALTER TABLE RENAME, CREATE VIEW, ALTER DATABASE,
  OPTIMIZE, VACUUM: Athena User Guide, "Register S3 table bucket catalogs and query Tables from Athena".
- the query string at most 262,144: StartQueryExecution's QueryString (min 1, max 262144). The model
  counts characters; this checker counts UTF-8 bytes, the stricter reading.
- one statement per query string: StartQueryExecution runs one query.

The statement is parsed with sqlglot's Trino dialect (Athena engine v3 is Trino), Athena's (Hive DDL)
where Trino's parser refuses it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.tokens import TokenType

MAX_QUERY_BYTES = 262_144
MAX_PARAMETER_CHARS = 1_024
PARAMETERIZED_STATEMENTS = ("SELECT", "INSERT INTO", "CTAS", "UNLOAD")
PARAMETERS_PAGE = 'Athena User Guide, "Use parameterized queries"'
S3_TABLES_PAGE = 'Athena User Guide, "Register S3 table bucket catalogs and query Tables from Athena"'
API_PAGE = "Athena API Reference, StartQueryExecution"


class AthenaRuleViolation(ValueError):
    """A statement Athena would refuse; the message says which rule, where it is documented, what to do."""


def check_athena_rules(sql: str, parameters: Sequence[str] = (), name: str = "statement") -> None:
    """Raise AthenaRuleViolation if Athena would refuse `sql` sent with `parameters` (ExecutionParameters,
    already rendered as Athena literals)."""
    size = len(sql.encode("utf-8"))
    if size > MAX_QUERY_BYTES:
        raise AthenaRuleViolation(
            f"{name} is {size:,} bytes (UTF-8); Athena takes a query string of at most {MAX_QUERY_BYTES:,}"
            f" ({API_PAGE}, QueryString). Split the work into smaller statements (fewer ids or days per query)."
        )
    for index, value in enumerate(parameters, start=1):
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_PARAMETER_CHARS:
            length = len(value) if isinstance(value, str) else type(value).__name__
            raise AthenaRuleViolation(
                f"{name}: ExecutionParameters entry {index} has length {length}; Athena takes 1 to"
                f" {MAX_PARAMETER_CHARS:,} characters each ({API_PAGE}). Match a long value another way"
                " (a user id by its SHA-256 hex) or render it with health_pipeline.sql.render."
            )
    statement = _one_statement(sql, name)
    kind = statement_kind(statement)
    _refused_by_s3_tables(statement, kind, name)
    placeholders = _placeholders(statement)
    if (parameters or placeholders) and kind not in PARAMETERIZED_STATEMENTS:
        raise AthenaRuleViolation(
            f"{name} ({kind}) has {len(placeholders)} ? and {len(parameters)} ExecutionParameters; Athena"
            f" takes parameters only in {', '.join(PARAMETERIZED_STATEMENTS)} ({PARAMETERS_PAGE}). Send it"
            f" without parameters, its values rendered by health_pipeline.sql.render: {_short(sql)}"
        )
    for placeholder in placeholders:
        if not _in_where(placeholder):
            raise AthenaRuleViolation(
                f"{name} has a ? outside a WHERE clause (in {_clause_of(placeholder)}); Athena places ?"
                f" parameters only in the WHERE clause ({PARAMETERS_PAGE}). Move the value into WHERE, or"
                f" render it as a literal with health_pipeline.sql.render: {_short(sql)}"
            )
    if len(placeholders) != len(parameters):
        raise AthenaRuleViolation(
            f"{name} has {len(placeholders)} ? but {len(parameters)} ExecutionParameters; Athena needs one value"
            f" per ? ({PARAMETERS_PAGE}). The SQL file and the code that builds its Query disagree."
        )


def statement_kind(statement: exp.Expr) -> str:
    """SELECT, INSERT INTO, CTAS, UNLOAD, DELETE, UPDATE, MERGE, CREATE VIEW, ALTER TABLE, ... (upper case)."""
    if isinstance(statement, exp.Query):  # SELECT, WITH ... SELECT, UNION
        return "SELECT"
    if isinstance(statement, exp.Insert):
        return "INSERT INTO"
    if isinstance(statement, exp.Create):
        kind = str(statement.args.get("kind") or "").upper()
        return "CTAS" if kind == "TABLE" and isinstance(statement.expression, exp.Query) else f"CREATE {kind}"
    if isinstance(statement, exp.Delete):
        return "DELETE"
    if isinstance(statement, exp.Update):
        return "UPDATE"
    if isinstance(statement, exp.Merge):
        return "MERGE"
    if isinstance(statement, exp.Alter):
        return f"ALTER {str(statement.args.get('kind') or '').upper()}".strip()
    words = [token.text.upper() for token in sqlglot.tokenize(statement.sql(dialect="athena"))[:2]]
    return " ".join(words) if words and words[0] in ("ALTER", "CREATE", "DROP") else (words[0] if words else "")


def _one_statement(sql: str, name: str) -> exp.Expr:
    try:
        statements = [s for s in sqlglot.parse(sql, read="trino") if s is not None]
    except ParseError:
        try:
            statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
        except ParseError as err:
            raise AthenaRuleViolation(f"{name} does not parse as Athena SQL: {err}") from err
    if len(statements) != 1:
        raise AthenaRuleViolation(
            f"{name} holds {len(statements)} statements; Athena runs one statement per StartQueryExecution"
            f" ({API_PAGE}): send each on its own."
        )
    return statements[0]


def _refused_by_s3_tables(statement: exp.Expr, kind: str, name: str) -> None:
    refused = None
    if isinstance(statement, exp.Alter) and any(
        isinstance(a, exp.AlterRename) for a in statement.args.get("actions") or []
    ):
        refused = "ALTER TABLE RENAME"
    elif kind == "CREATE VIEW":
        refused = "CREATE VIEW"
    elif kind in ("ALTER DATABASE", "ALTER SCHEMA"):
        refused = "ALTER DATABASE"
    elif kind in ("OPTIMIZE", "VACUUM"):
        refused = kind
    if refused:
        raise AthenaRuleViolation(
            f"{name} is {refused}, which Athena does not run on S3 Tables ({S3_TABLES_PAGE}; S3 Tables"
            " compacts and expires snapshots itself). Leave maintenance to S3 Tables (its settings in"
            " terraform/modules/s3tables), keep the table's name, and query the table instead of a view."
        )


def _placeholders(statement: exp.Expr) -> list[exp.Expr]:
    """The `?` of the statement. A statement sqlglot keeps as a Command (UNLOAD) is read inside its
    parentheses, the query it runs."""
    if isinstance(statement, exp.Command):
        text = statement.sql(dialect="athena")
        tokens = sqlglot.tokenize(text)
        if not any(token.token_type == TokenType.PLACEHOLDER for token in tokens):
            return []
        inner = _first_parenthesized(text, tokens)
        if not isinstance(inner, exp.Query):
            raise AthenaRuleViolation(f"a ? in a statement this checker cannot read: {_short(text)}")
        statement = inner
    return [node for node in statement.find_all(exp.Placeholder)]


def _first_parenthesized(text: str, tokens: list) -> exp.Expr | None:
    """The statement inside the first balanced parentheses of `text` (UNLOAD's query), parsed."""
    depth, start = 0, None
    for token in tokens:
        if token.token_type == TokenType.L_PAREN:
            depth += 1
            start = token.end + 1 if start is None else start
        elif token.token_type == TokenType.R_PAREN and start is not None:
            depth -= 1
            if depth == 0:
                try:
                    return sqlglot.parse_one(text[start : token.start], read="trino")
                except ParseError:
                    return None
    return None


def _in_where(placeholder: exp.Expr) -> bool:
    """Whether the nearest clause around the `?` is a WHERE (not a FILTER's, not a JOIN's ON, not the
    SELECT list, GROUP BY, HAVING, LIMIT, or a VALUES row)."""
    node = placeholder.parent
    while node is not None:
        if isinstance(node, exp.Where):
            return not isinstance(node.parent, exp.Filter)
        if isinstance(node, (exp.Query, exp.DML, exp.Join, exp.Having, exp.Group, exp.Order, exp.Limit, exp.Values)):
            return False
        node = node.parent
    return False


def _clause_of(placeholder: exp.Expr) -> str:
    node = placeholder.parent
    while node is not None and not isinstance(
        node, (exp.Select, exp.Join, exp.Having, exp.Group, exp.Limit, exp.Filter)
    ):
        node = node.parent
    return (
        "the SELECT list" if isinstance(node, exp.Select) else type(node).__name__.upper() if node else "the statement"
    )


def _short(sql: str) -> str:
    text = " ".join(line for line in sql.splitlines() if not line.lstrip().startswith("--")).strip()
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:197] + "..."
