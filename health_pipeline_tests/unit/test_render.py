"""The strict renderer (health_pipeline.sql.render) and the user-id match by SHA-256: the same SQL file
picks the same rows on the local engine (DuckDB, transpiled by sqlglot) as the Trino functions give by
their definition (hashlib's SHA-256 of the UTF-8 bytes), on a real Iceberg table, with ids that hold
quotes, non-ASCII and emoji, and look-alikes that must stay."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pytest

from health_pipeline.erasure.receipt import hashed_user_id
from health_pipeline.erasure.statements import erasure_delete_query, erasure_minutes_query, retention_delete_query
from health_pipeline.sql import to_duckdb
from health_pipeline.sql.render import (
    UnrenderableValue,
    render_user_match,
    render_value,
    user_id_sha256,
    with_rendered,
    with_user_match,
)
from health_pipeline_tests.support import deliver

ERASED = ["o'brien", 'say "hi"', "Zoë", "利用者-さくら", "🙂👩‍⚕️ nurse", "back\\slash", "x'); DROP TABLE t; --"]
# Look-alikes: a trailing space, another case, Zoë decomposed (NFD), the emoji without its joiner.
KEPT = ["o'brien ", "ZOË", "Zoe\u0308", "🙂👩⚕️ nurse", "someone-else", "利用者"]
DAYS = [datetime(2026, 11, 10, 1, 2, 3, 456789, tzinfo=UTC), datetime(2026, 11, 11, 23, 59, 59, 999999, tzinfo=UTC)]


def test_timestamps_render_only_from_datetimes_as_utc_literals():
    assert render_value(datetime(2026, 11, 10, 15, 0)) == "TIMESTAMP '2026-11-10 15:00:00.000000'"
    assert render_value(datetime(2026, 11, 10, 1, 2, 3, 456789)) == "TIMESTAMP '2026-11-10 01:02:03.456789'"
    tokyo = datetime(2026, 11, 11, 0, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert render_value(tokyo) == "TIMESTAMP '2026-11-10 15:00:00.000000'"  # aware: converted to UTC
    assert render_value(datetime(2026, 3, 8, 1, 30, tzinfo=timezone(timedelta(hours=-5)))) == (
        "TIMESTAMP '2026-03-08 06:30:00.000000'"
    )
    assert render_value(42) == "42" and render_value(-7) == "-7"


@pytest.mark.parametrize(
    "value",
    ["2026-11-10 15:00:00", "o'brien", True, 1.5, Decimal("1"), date(2026, 11, 10), None, b"x", [1]],
    ids=repr,
)
def test_anything_else_is_refused(value):
    with pytest.raises(UnrenderableValue, match="takes only a datetime"):
        render_value(value)


def test_a_datetime_subclass_is_refused():
    pandas = pytest.importorskip("pandas")
    with pytest.raises(UnrenderableValue):
        render_value(pandas.Timestamp("2026-11-10 15:00:00.000000001"))


def test_markers_must_match_the_values_given():
    sql = "SELECT 1 FROM t WHERE recorded_at >= '{window_start}'"
    assert with_rendered(sql, window_start=datetime(2026, 1, 1)) == (
        "SELECT 1 FROM t WHERE recorded_at >= TIMESTAMP '2026-01-01 00:00:00.000000'"
    )
    with pytest.raises(ValueError, match="given no value"):
        with_rendered(sql)
    with pytest.raises(ValueError, match="exactly once"):
        with_rendered(sql, window_end=datetime(2026, 1, 1), window_start=datetime(2026, 1, 1))
    with pytest.raises(UnrenderableValue):
        with_rendered(sql, window_start="2026-01-01' OR 1=1 --")


def test_ids_are_matched_by_their_hex_sha256_never_as_text():
    match = render_user_match(ERASED + ERASED[:1])
    digests = [hashed_user_id(user_id) for user_id in ERASED]
    assert match == "lower(to_hex(sha256(to_utf8(user_id)))) IN (" + ", ".join(f"'{d}'" for d in digests) + ")"
    assert not any(user_id in match for user_id in ERASED)
    assert user_id_sha256("o'brien") == "65b87174be3b1b122e2b0929f0b84888637d31a4a83bb96a860bcff411f5e668"
    for bad in ([], "o'brien", [""], [None]):
        with pytest.raises(UnrenderableValue):
            render_user_match(bad)
    with pytest.raises(ValueError, match="exactly once"):
        with_user_match("SELECT 1 FROM t WHERE recorded_at >= ?", ["a"])


def _records() -> list[dict]:
    return [
        {"user_id": user_id, "recorded_at": moment.isoformat(), "fatigue": n % 11, "mood": 5, "motivation": 5,
         "flags": n}
        for n, (user_id, moment) in enumerate((u, m) for u in ERASED + KEPT for m in DAYS)
    ]  # fmt: skip


def test_the_same_rows_match_in_duckdb_as_by_trinos_definition_on_a_real_table(stack):
    """erasure_minutes.sql through the local engine (PyIceberg scan, DuckDB), and erasure_delete.sql
    transpiled to DuckDB over the table's rows, pick exactly the erased people's rows: the rows whose
    SHA-256 (hashlib, which is what Trino's to_hex(sha256(to_utf8(...))) gives, lower-cased) is matched,
    and the rows the local mode's own erasure (a PyIceberg delete by id) removes."""
    records = _records()
    assert deliver(stack, records).accepted == len(records)
    window = (datetime(2026, 11, 1), datetime(2026, 12, 1))
    table = stack.settings.table

    minutes = stack.query_engine.run(erasure_minutes_query(ERASED, window, table)).rows.to_pylist()
    expected = {}
    for moment in DAYS:
        minute = moment.replace(tzinfo=None, second=0, microsecond=0)
        expected[minute] = len(ERASED)
    assert {row["minute_utc"]: row["records"] for row in minutes} == expected

    rows = stack.table.iceberg_table().scan().to_arrow()
    connection = duckdb.connect()
    connection.register("snapshot", rows)
    connection.execute(f"CREATE TABLE {table} AS SELECT * FROM snapshot")
    delete = erasure_delete_query(ERASED, window, table)
    assert delete.parameters == ()  # a DELETE is sent with no ExecutionParameters
    connection.execute(to_duckdb(delete.text))
    duckdb_left = sorted(connection.execute(f"SELECT user_id, recorded_at FROM {table}").fetchall())

    by_definition = {hashed_user_id(user_id) for user_id in ERASED}
    trino_left = sorted(
        (r["user_id"], r["recorded_at"]) for r in rows.to_pylist() if user_id_sha256(r["user_id"]) not in by_definition
    )
    assert duckdb_left == trino_left
    assert {user_id for user_id, _ in duckdb_left} == set(KEPT)  # every look-alike stays

    deleted = stack.erasure.delete_records(ERASED, window, found=len(ERASED) * len(DAYS))  # local: PyIceberg
    assert deleted.rows == len(ERASED) * len(DAYS)
    local_left = sorted(
        (r["user_id"], r["recorded_at"]) for r in stack.table.iceberg_table().scan().to_arrow().to_pylist()
    )
    assert local_left == duckdb_left


def test_the_retention_delete_removes_the_same_rows_as_the_window_says():
    """retention_delete.sql, rendered and transpiled, on DuckDB: the rows before the cutoff, to the microsecond."""
    cutoff = datetime(2026, 11, 11, 15, 0)
    moments = [cutoff - timedelta(microseconds=1), cutoff, cutoff + timedelta(microseconds=1), datetime(2026, 1, 1)]
    connection = duckdb.connect()
    connection.register(
        "snapshot", pa.table({"user_id": ["a"] * 4, "recorded_at": pa.array(moments, pa.timestamp("us"))})
    )
    connection.execute("CREATE TABLE health_records AS SELECT * FROM snapshot")
    query = retention_delete_query((datetime(2026, 1, 1), cutoff), "health_records")
    assert query.parameters == ()
    connection.execute(to_duckdb(query.text))
    left = sorted(row[0] for row in connection.execute("SELECT recorded_at FROM health_records").fetchall())
    assert left == [cutoff, cutoff + timedelta(microseconds=1)]
