"""The one strict renderer of values written into a statement's text: where Athena takes no
ExecutionParameters (outside WHERE, or in a DELETE), a value is rendered here or not at all.

- a timestamp only from a Python `datetime` (naive means UTC; an aware one is converted to UTC), as
  `TIMESTAMP 'YYYY-MM-DD HH:MM:SS.ffffff'`;
- an integer only from a Python `int` (not a bool), as its digits;
- a user id never: it is matched by the hex SHA-256 of its UTF-8 bytes
  (`lower(to_hex(sha256(to_utf8(user_id)))) IN ('<hex>', ...)`), so no id enters Athena's query history;
- anything else is refused with `UnrenderableValue`.

The text this gives holds only digits, dashes, colons, dots, spaces and hex: it can never end a
literal or add SQL. Why: Athena's "Use parameterized queries" page (Athena User Guide) places `?`
only in the WHERE clause and lists SELECT, INSERT INTO, CTAS and UNLOAD as the statements that take
parameters. DuckDB runs the same text, transpiled by sqlglot (`sha256(to_utf8(x))` becomes
`unhex(sha256(encode(x)))`, the same bytes; unit/test_render.py checks both against hashlib).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime

USER_ID_COLUMN = "user_id"
USER_MATCH_MARKER = "user_id IN ('{user_ids}')"
# Trino's (Athena engine v3) functions: to_utf8 gives the id's UTF-8 bytes, sha256 their digest,
# to_hex its uppercase hex; lower() makes it the hex hashlib gives.
USER_HASH_EXPRESSION = f"lower(to_hex(sha256(to_utf8({USER_ID_COLUMN}))))"
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
_MARKER = re.compile(r"'\{([a-z_]+)\}'")


class UnrenderableValue(TypeError):
    """A value the renderer will not write into SQL text."""


def user_id_sha256(user_id: str) -> str:
    """The hex SHA-256 of the id's UTF-8 bytes (what Athena's lower(to_hex(sha256(to_utf8(user_id)))) gives)."""
    if type(user_id) is not str or not user_id:
        raise UnrenderableValue(f"a user id must be a non-empty str, got {type(user_id).__name__} {user_id!r}")
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()


def render_value(value: object) -> str:
    """A datetime as an Athena TIMESTAMP literal (UTC, microseconds), an int as its digits; nothing else."""
    if type(value) is datetime:  # exactly datetime: no pandas Timestamp with nanoseconds, no subclass
        utc = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value
        return f"TIMESTAMP '{utc.strftime('%Y-%m-%d %H:%M:%S.%f')}'"
    if type(value) is int:  # exactly int: a bool is not a number here
        return str(value)
    raise UnrenderableValue(
        f"the SQL renderer takes only a datetime (naive UTC, or aware) or an int, got {type(value).__name__}"
        f" {value!r}: a string never becomes SQL text (pass it as a WHERE parameter of a SELECT, or match a"
        " user id with render_user_match)"
    )


def render_user_match(user_ids: Sequence[str]) -> str:
    """`lower(to_hex(sha256(to_utf8(user_id)))) IN ('<hex>', ...)`: the rows of `user_ids`, no id as text."""
    if isinstance(user_ids, str) or not user_ids:
        raise UnrenderableValue("a user-id match needs a non-empty list of user ids (not one str)")
    digests = list(dict.fromkeys(user_id_sha256(user_id) for user_id in user_ids))
    if not all(_HEX_DIGEST.fullmatch(digest) for digest in digests):  # hashlib's own output: a guard, not a filter
        raise UnrenderableValue("a user-id digest is not 64 lowercase hex digits")
    quoted = ", ".join("'" + digest + "'" for digest in digests)
    return f"{USER_HASH_EXPRESSION} IN ({quoted})"


def with_user_match(sql: str, user_ids: Sequence[str]) -> str:
    """The SQL with its one `user_id IN ('{user_ids}')` made the SHA-256 match of `user_ids`."""
    if sql.count(USER_MATCH_MARKER) != 1:
        raise ValueError(
            f"the SQL must hold {USER_MATCH_MARKER} exactly once to match user ids; is the SQL file current?"
        )
    return sql.replace(USER_MATCH_MARKER, render_user_match(user_ids))


def with_rendered(sql: str, **values: object) -> str:
    """The SQL with each marker `'{name}'` replaced by `render_value(values[name])`. Every marker in the
    text must be given a value and every value must have exactly one marker."""
    found = _MARKER.findall(sql)
    missing = sorted(set(found) - set(values) - {"user_ids", "local_day"})
    if missing:
        raise ValueError(f"the SQL has marker(s) {missing} that were given no value")
    for name, value in values.items():
        marker = "'{" + name + "}'"
        if sql.count(marker) != 1:
            raise ValueError(
                f"the SQL must hold {marker} exactly once, found {sql.count(marker)}; is the SQL file current?"
            )
        sql = sql.replace(marker, render_value(value))
    return sql
