"""The rules Athena documents for StartQueryExecution, checked on every request the sandbox receives.

Written apart from the project's own query-rule checker (health_pipeline.sql), so that a rule the
project forgets is still refused here. Each rule names the AWS page it comes from:

- "Use parameterized queries" (Athena User Guide, querying-with-prepared-statements): `?` parameters
  are placed only in the WHERE clause; parameterized queries are supported for SELECT, INSERT INTO,
  CTAS and UNLOAD.
- StartQueryExecution (Athena API Reference): QueryString is 1 to 262,144 bytes; each
  ExecutionParameters entry 1 to 1,024 characters.
- "Register S3 table bucket catalogs and query Tables from Athena" (Athena User Guide): S3 Tables
  take every Iceberg DDL except ALTER TABLE RENAME, CREATE VIEW and ALTER DATABASE; no OPTIMIZE or
  VACUUM; no INSERT, UPDATE, DELETE or MERGE in a workgroup that encrypts results with SSE-KMS or
  CSE-KMS, nor in one with Requester Pays.
- The execution context's catalog and database must exist (a query names them or inherits them).

A refusal is either a request error (`InvalidRequestException`, HTTP 400: the request itself breaks
the API's constraints) or a failed query (state FAILED with StateChangeReason and AthenaError: the
statement reached the engine and was refused there). Which of the two real Athena gives for each
rule, and its exact words, cannot be seen from here: docs/known-limits.md says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.tokens import Token, TokenType

QUERY_STRING_MAX_BYTES = 262_144
PARAMETER_MAX_CHARS = 1_024
PARAMETERIZED_KINDS = frozenset({"SELECT", "INSERT", "CTAS", "UNLOAD"})
WRITE_KINDS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE"})
KMS_OPTIONS = frozenset({"SSE_KMS", "CSE_KMS"})
MARKER = "__sandbox_parameter_"
USER_ERROR = 2  # AthenaError.ErrorCategory USER ("Athena error catalog")
USER_ERROR_TYPE = 1000  # ErrorType 1000: user error
DDL_ERROR_TYPE = 1003  # ErrorType 1003: DDL task failed


@dataclass(frozen=True)
class Refusal:
    """Why Athena refuses a request: as a request error (`request=True`) or as a FAILED query."""

    message: str
    request: bool = False
    error_type: int = USER_ERROR_TYPE


@dataclass(frozen=True)
class WorkgroupSettings:
    result_encryption: str | None = None  # SSE_S3, SSE_KMS, CSE_KMS or None
    requester_pays: bool = False


def _tokens(sql: str) -> list[Token]:
    return list(sqlglot.Dialect.get_or_raise("trino").tokenize(sql))


def _words(sql: str, count: int) -> list[str]:
    """The first words of the statement, upper case; comments, strings and punctuation skipped."""
    words = [
        t.text.upper() for t in _tokens(sql) if re.fullmatch(r"[A-Za-z_]+", t.text) and t.token_type != TokenType.STRING
    ]
    return words[:count]


def statement_kind(sql: str) -> str:
    """SELECT, INSERT, CTAS, UNLOAD, DELETE, UPDATE, MERGE, or the DDL's first words (e.g. ALTER TABLE)."""
    words = _words(sql, 64)
    if not words:
        return "EMPTY"
    first = words[0]
    if first in ("SELECT", "WITH", "VALUES", "TABLE", "SHOW", "DESCRIBE", "EXPLAIN"):
        return "SELECT" if first in ("SELECT", "WITH", "VALUES", "TABLE") else first
    if first == "INSERT":
        return "INSERT"
    if first in ("DELETE", "UPDATE", "MERGE", "UNLOAD", "OPTIMIZE", "VACUUM", "MSCK"):
        return first
    if first == "CREATE":
        rest = [w for w in words[1:4] if w not in ("OR", "REPLACE", "EXTERNAL", "IF", "NOT", "EXISTS")]
        if rest[:1] == ["VIEW"]:
            return "CREATE VIEW"
        if rest[:1] == ["TABLE"] and "AS" in words and "SELECT" in words[words.index("AS") :]:
            return "CTAS"
        return "CREATE " + (rest[0] if rest else "")
    if first == "ALTER":
        if len(words) > 1 and words[1] in ("DATABASE", "SCHEMA"):
            return "ALTER DATABASE"
        if len(words) > 1 and words[1] == "TABLE" and "RENAME" in words[:8]:
            return "ALTER TABLE RENAME"
        return "ALTER TABLE"
    return first


def statement_type(kind: str) -> str:
    """Athena's QueryExecution.StatementType for a statement kind: DML, DDL or UTILITY."""
    if kind in ("SELECT", "INSERT", "CTAS", "UNLOAD", "DELETE", "UPDATE", "MERGE"):
        return "DML"
    if kind in ("SHOW", "DESCRIBE", "EXPLAIN"):
        return "UTILITY"
    return "DDL"


def placeholders_outside_where(sql: str) -> list[int]:
    """The positions (0 for the first `?` of the text) of the parameters that do not stand in a WHERE clause.

    Each `?` is replaced by a marker literal naming its position in the text (sqlglot's tree keeps no
    position for a placeholder, and its tree order is not the text's: LIMIT comes before WHERE)."""
    offsets = placeholder_offsets(sql)
    marked = sql
    for position, offset in sorted(enumerate(offsets), key=lambda item: item[1], reverse=True):
        marked = marked[:offset] + f"'{MARKER}{position}'" + marked[offset + 1 :]
    try:
        trees = sqlglot.parse(marked, read="trino")
    except ParseError:
        return []  # the statement does not parse: the engine reports that
    outside: set[int] = set(range(len(offsets)))
    for tree in trees:
        for literal in tree.find_all(exp.Literal) if tree is not None else ():
            if literal.is_string and literal.this.startswith(MARKER) and literal.find_ancestor(exp.Where):
                outside.discard(int(literal.this[len(MARKER) :]))
    return sorted(outside)


def placeholder_offsets(sql: str) -> list[int]:
    """Where each `?` parameter stands in the text (strings and comments are not parameters)."""
    return [token.start for token in _tokens(sql) if token.token_type == TokenType.PLACEHOLDER]


def check_request(query: str | None, parameters: list[str] | None) -> Refusal | None:
    """The API's own constraints on StartQueryExecution: refused as InvalidRequestException."""
    size = len((query or "").encode("utf-8"))
    if size < 1 or size > QUERY_STRING_MAX_BYTES:
        return Refusal(
            f"QueryString is {size:,} bytes; StartQueryExecution takes 1 to {QUERY_STRING_MAX_BYTES:,} bytes",
            request=True,
        )
    for index, parameter in enumerate(parameters or [], start=1):
        if not 1 <= len(parameter) <= PARAMETER_MAX_CHARS:
            return Refusal(
                f"ExecutionParameters[{index}] is {len(parameter):,} characters; each parameter takes 1 to"
                f" {PARAMETER_MAX_CHARS:,} characters",
                request=True,
            )
    return None


def check_statement(
    query: str,
    parameters: list[str] | None,
    workgroup: WorkgroupSettings,
    *,
    catalog: str,
    catalog_exists: bool,
    database: str,
    database_exists: bool,
) -> Refusal | None:
    """The statement-level rules: a refused statement ends FAILED with the reason."""
    kind = statement_kind(query)
    if not catalog_exists:
        return Refusal(
            f"CATALOG_NOT_FOUND: Catalog '{catalog}' does not exist: register it as an Athena data source or"
            " name an existing one in QueryExecutionContext.Catalog"
        )
    if not database_exists:
        return Refusal(f"SCHEMA_NOT_FOUND: Schema '{database}' does not exist in catalog '{catalog}'")
    refused_ddl = {
        "ALTER TABLE RENAME": "ALTER TABLE RENAME",
        "CREATE VIEW": "CREATE VIEW",
        "ALTER DATABASE": "ALTER DATABASE",
        "OPTIMIZE": "OPTIMIZE (S3 Tables compacts the table itself)",
        "VACUUM": "VACUUM (S3 Tables expires snapshots and removes unreferenced files itself)",
    }
    if kind in refused_ddl:
        return Refusal(
            f"NOT_SUPPORTED: {refused_ddl[kind]} is not supported on S3 Tables tables from Athena",
            error_type=DDL_ERROR_TYPE if statement_type(kind) == "DDL" else USER_ERROR_TYPE,
        )
    if kind in WRITE_KINDS and (workgroup.result_encryption in KMS_OPTIONS or workgroup.requester_pays):
        why = (
            f"query results encrypted with {workgroup.result_encryption}"
            if workgroup.result_encryption in KMS_OPTIONS
            else "Requester Pays enabled"
        )
        return Refusal(
            f"NOT_SUPPORTED: {kind} on S3 Tables is not supported in a workgroup with {why}; use a workgroup"
            " with SSE_S3 results and Requester Pays off"
        )
    offsets = placeholder_offsets(query)
    if parameters and kind not in PARAMETERIZED_KINDS:
        return Refusal(
            f"INVALID_PARAMETER_USAGE: ExecutionParameters are supported for SELECT, INSERT INTO, CTAS and UNLOAD"
            f" only, not for {kind}; write the values as literals"
        )
    if offsets:
        outside = placeholders_outside_where(query)
        if outside:
            line, column = _position(query, offsets[outside[0]])
            return Refusal(
                f"INVALID_PARAMETER_USAGE: line {line}:{column}: a ? parameter can be placed only in the WHERE clause"
            )
    if len(offsets) != len(parameters or []):
        return Refusal(
            f"INVALID_PARAMETER_USAGE: Incorrect number of parameters: expected {len(offsets)} but found"
            f" {len(parameters or [])}"
        )
    return None


def _position(sql: str, offset: int) -> tuple[int, int]:
    if offset < 0:
        return 1, 1
    before = sql[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1
