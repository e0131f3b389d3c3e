"""The two query rules, enforced on every SQL the project runs: the files and the generated text."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlglot
from sqlglot import exp

from health_pipeline.schema.model import Column, TableSchema
from health_pipeline.schema.plan import MigrationPlan
from health_pipeline.sql import (
    QueryRuleViolation,
    check_query_rules,
    load_sql,
    sql_files,
    to_duckdb,
    with_day_case,
    with_table,
    with_user_ids,
)
from health_pipeline.summary.days import daily_summary_query


def every_sql_the_project_runs() -> list[tuple[str, str]]:
    texts = [(path.name, path.read_text()) for path in sql_files()]
    query = daily_summary_query(date(2026, 11, 20), ZoneInfo("Asia/Tokyo"), "health_records")
    texts.append(("daily_summary (generated)", with_table(query.text, query.table)))
    days = [date(2026, 11, 20) + timedelta(days=n) for n in range(31)]
    backfill = daily_summary_query(days, ZoneInfo("America/New_York"), "health_records")
    texts.append(("daily_summary backfill (generated)", with_table(backfill.text, backfill.table)))
    renamed = with_table(query.text, "health_records_v2")
    texts.append(("daily_summary (renamed table)", renamed))
    plan = MigrationPlan.build(
        "health_records",
        TableSchema((Column("recorded_at", "timestamp"), Column("sleep_hours", "double"))),
        TableSchema((Column("recorded_at", "timestamp"),)),
    )
    texts.append(("schema verification (generated)", plan.verification_sql(["sleep_hours"])))
    texts.append(("schema DDL (generated)", plan.add_columns_ddl()))
    for name in ("erasure_minutes", "erasure_delete"):
        texts.append((f"{name} (generated)", with_user_ids(load_sql(name), 3)))
        texts.append((f"{name} long ids (generated)", with_user_ids(load_sql(name), 1, hashed=2)))
    return texts


def test_there_is_sql_to_check():
    assert {p.name for p in sql_files()} >= {"daily_summary.sql"}


@pytest.mark.parametrize(("name", "sql"), every_sql_the_project_runs(), ids=lambda v: v if len(v) < 40 else "")
def test_no_select_star_and_always_a_recorded_at_range(name, sql):
    table = "health_records_v2" if "renamed" in name else "health_records"
    check_query_rules(sql, table)
    tree = sqlglot.parse_one(sql, read="athena")
    assert not [s for s in tree.find_all(exp.Star) if not isinstance(s.parent, exp.Count)]
    # the DuckDB text the local engine runs keeps the range too
    check_query_rules(sqlglot.transpile(to_duckdb(sql), read="duckdb", write="athena")[0], table)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM health_records WHERE recorded_at >= ?",
        "SELECT user_id FROM health_records",
        "SELECT user_id FROM health_records WHERE user_id = 'x'",
        "SELECT user_id FROM health_records WHERE recorded_at < ?",
        "WITH t AS (SELECT user_id FROM health_records) SELECT user_id FROM t WHERE 1 = 1",
        "SELECT a.user_id FROM other a JOIN health_records b ON a.user_id = b.user_id WHERE a.x > 1",
        "SELECT user_id FROM health_records WHERE recorded_at >= ? OR user_id = 'x'",
        "SELECT user_id FROM health_records WHERE NOT (recorded_at >= ?)",
        "SELECT user_id FROM health_records WHERE recorded_at IS NOT NULL",
        "SELECT user_id FROM health_records WHERE recorded_at IS NULL OR flags < 0",
        "DELETE FROM health_records WHERE user_id IN (?)",
        "DELETE FROM health_records WHERE user_id = ? OR recorded_at >= ?",
    ],
)
def test_the_rules_catch_what_the_seed_forbids(sql):
    with pytest.raises(QueryRuleViolation):
        check_query_rules(sql)


def test_the_seeds_own_examples_pass():
    check_query_rules(
        "SELECT user_id, recorded_at, fatigue, mood, motivation FROM health_records WHERE user_id = 'xxx'"
        " AND recorded_at >= current_date - INTERVAL '30' DAY ORDER BY recorded_at DESC LIMIT 100"
    )
    check_query_rules("ALTER TABLE health_records ADD COLUMNS (new_col string)")
    check_query_rules("SELECT COUNT(*) AS n FROM health_records WHERE recorded_at IS NULL")
    check_query_rules("SELECT user_id FROM health_records WHERE (user_id = 'x' AND (recorded_at BETWEEN ? AND ?))")


def test_the_window_is_passed_as_parameters_not_text():
    query = daily_summary_query(date(2026, 11, 20), ZoneInfo("Asia/Tokyo"), "health_records")
    assert "2026-11-19" not in query.text  # the window's UTC start is a parameter, not text
    placeholders = list(sqlglot.parse_one(query.text, read="athena").find_all(exp.Placeholder))
    assert len(placeholders) == len(query.parameters) == 2
    # Athena allows ? only in WHERE; the date column is the one literal, rendered from a date object.
    assert all(placeholder.find_ancestor(exp.Where) for placeholder in placeholders)
    assert query.text.count("'2026-11-20'") == 1


def test_only_date_and_datetime_objects_can_become_the_day_expression():
    with pytest.raises(TypeError, match="datetime.date"):
        with_day_case(
            load_sql("daily_summary"), "local_day", [("2026-11-20'); DROP TABLE x; --", datetime(2026, 11, 21))]
        )
    with pytest.raises(TypeError, match="datetime.date"):
        with_day_case(load_sql("daily_summary"), "local_day", [(date(2026, 11, 20), "2026-11-21' OR 1=1 --")])


def test_a_range_is_one_query_with_each_day_named_from_its_utc_boundaries():
    """Across New York's DST change (2026-03-08 has 23 hours), each day ends at its own UTC instant."""
    days = [date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)]
    query = daily_summary_query(days, ZoneInfo("America/New_York"), "health_records")
    assert query.parameters == (datetime(2026, 3, 7, 5), datetime(2026, 3, 10, 4))
    assert "WHEN recorded_at < TIMESTAMP '2026-03-08 05:00:00' THEN '2026-03-07'" in query.text
    assert "WHEN recorded_at < TIMESTAMP '2026-03-09 04:00:00' THEN '2026-03-08'" in query.text
    with pytest.raises(ValueError, match="consecutive"):
        daily_summary_query([date(2026, 3, 7), date(2026, 3, 9)], ZoneInfo("America/New_York"), "health_records")
