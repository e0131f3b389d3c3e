"""The statements an erasure and the retention send to a SQL engine (Athena in aws mode; DuckDB runs the
day-finding one in local mode): the people matched by the SHA-256 of their ids, never the ids; a
DELETE with its values rendered into its text, since Athena takes no ExecutionParameters in a DELETE
(Athena User Guide, "Use parameterized queries")."""

from __future__ import annotations

from datetime import datetime

from health_pipeline.sql import Query, load_sql
from health_pipeline.sql.render import with_rendered, with_user_match


def erasure_minutes_query(user_ids: list[str], window: tuple[datetime, datetime], table: str) -> Query:
    """The people's records per UTC minute: a SELECT, the window as WHERE parameters, the ids by hash."""
    text = with_user_match(load_sql("erasure_minutes"), user_ids)
    return Query(name="erasure_minutes", text=text, parameters=window, window=window, table=table)


def erasure_delete_query(user_ids: list[str], window: tuple[datetime, datetime], table: str) -> Query:
    """The DELETE of the people's records: no parameters, the ids by hash, the window rendered."""
    text = with_rendered(
        with_user_match(load_sql("erasure_delete"), user_ids), window_start=window[0], window_end=window[1]
    )
    return Query(name="erasure_delete", text=text, window=window, table=table)


def retention_delete_query(window: tuple[datetime, datetime], table: str) -> Query:
    """The DELETE of every record in the window (oldest record to the retention's cutoff), rendered."""
    text = with_rendered(load_sql("retention_delete"), window_start=window[0], window_end=window[1])
    return Query(name="retention_delete", text=text, window=window, table=table)
