"""The seed's two query rules and Athena's documented rules, enforced on every SQL the project runs:
the files and the generated text, each statement with the ExecutionParameters it is sent with."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from health_pipeline.engines.aws.athena import AthenaQueryEngine
from health_pipeline.erasure import MAX_USERS
from health_pipeline.erasure.statements import erasure_delete_query, erasure_minutes_query, retention_delete_query
from health_pipeline.preflight.services import minute_query
from health_pipeline.quality.checks import table_outcomes, validity_query
from health_pipeline.schema.model import Column, TableSchema
from health_pipeline.schema.plan import MigrationPlan
from health_pipeline.schema.verification import verification_query
from health_pipeline.sql import (
    Query,
    QueryRuleViolation,
    check_query_rules,
    load_sql,
    sql_files,
    to_duckdb,
    with_day_case,
    with_table,
)
from health_pipeline.sql.athena_rules import AthenaRuleViolation, check_athena_rules
from health_pipeline.sql.render import with_user_match
from health_pipeline.stack import QueryResult
from health_pipeline.summary.days import daily_summary_query

NOW = datetime(2026, 11, 20, 3, 4, 5, 678901, tzinfo=UTC)
WINDOW = (datetime(2026, 11, 19, 15), datetime(2026, 11, 20, 15))
# Ids as people have them, and as an attacker might: quotes, SQL, non-ASCII, emoji, 10,000 characters.
HOSTILE_IDS = ["o'brien", "x'); DROP TABLE health_records; --", "利用者-さくら", "🙂👩‍⚕️", "y" * 10_000]


# The columns each quality query answers with.
QUALITY_COLUMNS = {
    "quality_window": ["total_rows", "missing_user_id", "score_out_of_range", "negative_flags", "future_rows",
                       "latest_recorded_at"],
    "quality_missing_time": ["missing_recorded_at"],
    "quality_copies": ["distinct_records", "extra_copies"],
    "quality_hourly": ["hour_utc", "records"],
}  # fmt: skip


class RecordingEngine:
    """The quality checks' engine here: records each Query they run and answers with zeros (no hours)."""

    def __init__(self) -> None:
        self.queries: list[Query] = []

    def run(self, query: Query) -> QueryResult:
        self.queries.append(query)
        width = 0 if query.name == "quality_hourly" else 1
        rows = pa.table({
            column: pa.array([None if column.endswith("_at") else 0] * width,
                             pa.timestamp("us") if column.endswith("_at") else pa.int64())
            for column in QUALITY_COLUMNS[query.name]
        })  # fmt: skip
        return QueryResult(query.name, rows, query.text, 0, 0, 0.0, "recording")


def every_query_the_aws_mode_sends() -> list[tuple[str, str, list[str]]]:
    """(name, statement, ExecutionParameters) as AthenaQueryEngine prepares each for StartQueryExecution."""
    engine = RecordingEngine()
    table_outcomes(engine, "health_records", NOW, ZoneInfo("Asia/Tokyo"))
    queries = [*engine.queries]
    queries.append(daily_summary_query(date(2026, 11, 20), ZoneInfo("Asia/Tokyo"), "health_records"))
    days = [date(2026, 11, 20) + timedelta(days=n) for n in range(31)]
    queries.append(daily_summary_query(days, ZoneInfo("America/New_York"), "health_records_v2"))
    plan = MigrationPlan.build(
        "health_records",
        TableSchema((Column("recorded_at", "timestamp"), Column("sleep_hours", "double"))),
        TableSchema((Column("recorded_at", "timestamp"),)),
    )
    queries.append(verification_query(plan, ["sleep_hours"], NOW.replace(tzinfo=None)))
    most_ids = HOSTILE_IDS + [f"user-{n}" for n in range(MAX_USERS - len(HOSTILE_IDS))]
    for ids in (HOSTILE_IDS, most_ids):
        queries.append(erasure_minutes_query(ids, WINDOW, "health_records"))
        queries.append(erasure_delete_query(ids, WINDOW, "health_records"))
    queries.append(retention_delete_query(WINDOW, "health_records"))
    queries.append(minute_query("health_records", NOW))
    sent = []
    for query in queries:
        sql, parameters = AthenaQueryEngine._statement(query)
        sent.append((f"{query.name} ({len(sent)})", sql, parameters))
    sent.append(("schema DDL", plan.add_columns_ddl(), []))
    return sent


def test_the_aws_mode_sends_every_statement_it_has():
    names = {name.split(" ")[0] for name, _, _ in every_query_the_aws_mode_sends()}
    assert names >= {p.stem for p in sql_files()}


@pytest.mark.parametrize(
    ("name", "sql", "parameters"),
    every_query_the_aws_mode_sends(),
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else "",
)
def test_every_statement_the_aws_mode_sends_obeys_athenas_rules(name, sql, parameters):
    check_athena_rules(sql, parameters, name=name)
    check_query_rules(sql, "health_records_v2" if "v2" in sql else "health_records")
    assert not any(user_id in sql for user_id in HOSTILE_IDS)  # ids only as their SHA-256 hex
    assert not any(user_id in parameter for user_id in HOSTILE_IDS for parameter in parameters)


@pytest.mark.parametrize("path", sql_files(), ids=lambda p: p.name)
def test_every_sql_file_obeys_athenas_rules_as_written(path):
    """A file as it stands: every ? in a WHERE clause, and none in a statement that takes no parameters."""
    sql = path.read_text()
    count = sum(1 for _ in sqlglot.parse_one(sql, read="trino").find_all(exp.Placeholder))
    check_athena_rules(sql, ["'x'"] * count, name=path.name)


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
    texts.append(("erasure_minutes (generated)", erasure_minutes_query(HOSTILE_IDS, WINDOW, "health_records").text))
    texts.append(("erasure_delete (generated)", erasure_delete_query(HOSTILE_IDS, WINDOW, "health_records").text))
    texts.append(("retention_delete (generated)", retention_delete_query(WINDOW, "health_records").text))
    texts.append(("quality_window (generated)", validity_query("health_records", WINDOW, NOW).text))
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
    assert "WHEN recorded_at < TIMESTAMP '2026-03-08 05:00:00.000000' THEN '2026-03-07'" in query.text
    assert "WHEN recorded_at < TIMESTAMP '2026-03-09 04:00:00.000000' THEN '2026-03-08'" in query.text
    with pytest.raises(ValueError, match="consecutive"):
        daily_summary_query([date(2026, 3, 7), date(2026, 3, 9)], ZoneInfo("America/New_York"), "health_records")


# -- careless edits: each of Athena's rules catches the edit that breaks it ------------------------
def _placeholders(sql: str) -> int:
    return sum(1 for _ in sqlglot.parse_one(sql, read="trino").find_all(exp.Placeholder))


def test_a_question_mark_in_the_select_list_is_caught():
    """quality_window.sql with its future cutoff back as a ? in the SELECT list."""
    careless = load_sql("quality_window").replace("'{future_cutoff}'", "?")
    assert careless != load_sql("quality_window")
    check_query_rules(careless)  # the seed's rules see nothing wrong
    with pytest.raises(AthenaRuleViolation, match=r"\? outside a WHERE clause \(in the SELECT list\)"):
        check_athena_rules(careless, ["TIMESTAMP '2026-11-20 03:09:05.678901'", "'a'", "'b'"])


def test_a_parameterized_delete_is_caught():
    """erasure_delete.sql and retention_delete.sql with their window back as ExecutionParameters."""
    for name in ("erasure_delete", "retention_delete"):
        careless = load_sql(name).replace("'{window_start}'", "?").replace("'{window_end}'", "?")
        if "'{user_ids}'" in careless:
            careless = with_user_match(careless, ["u-1"])
        check_query_rules(careless)
        with pytest.raises(AthenaRuleViolation, match=r"\(DELETE\) has 2 \? and 2 ExecutionParameters"):
            check_athena_rules(careless, ["TIMESTAMP '2026-11-19 15:00:00.000000'"] * 2)
        with pytest.raises(AthenaRuleViolation, match="only in SELECT, INSERT INTO, CTAS, UNLOAD"):
            check_athena_rules(careless.replace("?", "TIMESTAMP '2026-11-19 15:00:00.000000'"), ["'u-1'"])


@pytest.mark.parametrize(
    "statement",
    [
        "OPTIMIZE health_records REWRITE DATA USING BIN_PACK WHERE recorded_at >= TIMESTAMP '2026-11-01 00:00:00'",
        "VACUUM health_records",
        "ALTER TABLE health_records RENAME TO health_records_old",
        "CREATE VIEW recent_records AS SELECT user_id FROM health_records WHERE recorded_at >= current_date",
        "ALTER DATABASE health_logs SET DBPROPERTIES ('owner' = 'x')",
    ],
)
def test_what_s3_tables_refuses_is_caught(statement):
    with pytest.raises(AthenaRuleViolation, match="does not run on S3 Tables"):
        check_athena_rules(statement)


def test_the_ddl_s3_tables_runs_passes():
    check_athena_rules("ALTER TABLE health_records ADD COLUMNS (sleep_hours double)")
    check_athena_rules("ALTER TABLE health_records CHANGE COLUMN mood mood bigint")


def test_an_oversized_statement_is_caught():
    """An erasure of 4,000 people in one statement (MAX_USERS raised carelessly): 272 kB of SQL."""
    ids = [f"user-{n}" for n in range(4000)]
    careless = erasure_delete_query(ids, WINDOW, "health_records")
    check_query_rules(careless.text)
    with pytest.raises(AthenaRuleViolation, match=r"bytes \(UTF-8\); Athena takes a query string of at most 262,144"):
        check_athena_rules(careless.text)
    check_athena_rules(erasure_delete_query(ids[:MAX_USERS], WINDOW, "health_records").text)  # the real limit fits


def test_an_empty_or_overlong_parameter_is_caught():
    """The old erasure sent each id as a parameter: a 1,023-character id is a 1,025-character literal."""
    sql = "SELECT user_id FROM health_records WHERE user_id IN (?) AND recorded_at >= ? AND recorded_at < ?"
    window = ["TIMESTAMP '2026-11-19 15:00:00.000000'", "TIMESTAMP '2026-11-20 15:00:00.000000'"]
    check_athena_rules(sql, ["'" + "x" * 1022 + "'", *window])  # 1,024 characters: the most Athena takes
    with pytest.raises(AthenaRuleViolation, match="entry 1 has length 1025; Athena takes 1 to 1,024"):
        check_athena_rules(sql, ["'" + "x" * 1023 + "'", *window])
    with pytest.raises(AthenaRuleViolation, match="entry 2 has length 0"):
        check_athena_rules(sql, [window[0], "", window[1]])


def test_a_parameter_count_that_does_not_match_is_caught():
    sql = "SELECT user_id FROM health_records WHERE recorded_at >= ? AND recorded_at < ?"
    with pytest.raises(AthenaRuleViolation, match="has 2 \\? but 1 ExecutionParameters"):
        check_athena_rules(sql, ["TIMESTAMP '2026-11-19 15:00:00.000000'"])


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT user_id FROM health_records WHERE recorded_at >= ? LIMIT ?",
        "SELECT COUNT(*) FILTER (WHERE fatigue > ?) FROM health_records WHERE recorded_at >= ?",
        "SELECT r.user_id FROM health_records r JOIN other o ON o.n = ? WHERE r.recorded_at >= ?",
        "SELECT user_id FROM health_records WHERE recorded_at >= ? GROUP BY user_id HAVING COUNT(*) > ?",
        "SELECT user_id FROM health_records WHERE recorded_at >= ? AND user_id IN (SELECT ? FROM other)",
        "SELECT user_id FROM health_records WHERE recorded_at >= ?; SELECT user_id FROM health_records WHERE recorded_at >= ?",
    ],
)
def test_a_question_mark_anywhere_but_a_where_clause_is_caught(sql):
    with pytest.raises(AthenaRuleViolation):
        check_athena_rules(sql, ["'1'"] * _placeholders(sql.split(";")[0]) * (2 if ";" in sql else 1))


def test_the_statements_athena_takes_parameters_in_pass():
    value = "TIMESTAMP '2026-11-19 15:00:00.000000'"
    for sql, count in (
        ("SELECT user_id FROM health_records WHERE recorded_at >= ? AND user_id IN (SELECT u FROM o WHERE n = ?)", 2),
        ("INSERT INTO archive SELECT user_id FROM health_records WHERE recorded_at >= ?", 1),
        ("CREATE TABLE archive AS SELECT user_id FROM health_records WHERE recorded_at >= ?", 1),
        (
            "UNLOAD (SELECT user_id FROM health_records WHERE recorded_at >= ?) TO 's3://b/p/' WITH (format = 'PARQUET')",
            1,
        ),
    ):
        check_athena_rules(sql, [value] * count)
