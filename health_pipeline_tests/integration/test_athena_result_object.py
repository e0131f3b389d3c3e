"""A large Athena result read from its result object in S3 (moto over HTTP): a bounded number of calls
whatever the size, and the same rows and CSV bytes as GetQueryResults page by page."""

import csv
import dataclasses
import io
from datetime import date
from zoneinfo import ZoneInfo

import boto3
import pyarrow as pa
import pytest

from health_pipeline.engines.aws.athena import AthenaQueryEngine
from health_pipeline.stack import QueryFailed
from health_pipeline.summary.csv_format import CSV_COLUMNS, summary_csv
from health_pipeline.summary.days import daily_summary_query
from health_pipeline_tests.support import preset_athena_results
from health_pipeline_tests.support.athena_results import (
    HOSTILE_USER_IDS,
    SUMMARY_TYPES,
    athena_csv,
    athena_csv_of_cells,
    cell_rows,
    count_calls,
    summary_result_cells,
    write_result_on_start,
)

REGION = "ap-northeast-1"
BUCKET = "health-logger-prod"
OUTPUT = f"s3://{BUCKET}/athena-results/"
QUERY = daily_summary_query(date(2026, 11, 11), ZoneInfo("Asia/Tokyo"), "health_records")
HEADER = list(CSV_COLUMNS)


@pytest.fixture
def clients(aws):
    """The engine's Athena and S3 clients, and a separate S3 client the test writes with (not counted)."""
    writer = boto3.client("s3", region_name=REGION)
    writer.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return {
        "endpoint": aws,
        "athena": boto3.client("athena", region_name=REGION),
        "s3": boto3.client("s3", region_name=REGION),
        "writer": writer,
    }


def engine(clients) -> AthenaQueryEngine:
    return AthenaQueryEngine(
        catalog="s3tablescatalog/health-logger-tables",
        database="health_logger_prod_health_logs",
        workgroup="primary",
        output_location=OUTPUT,
        client=clients["athena"],
        s3_client=clients["s3"],
        sleep=lambda _: None,
    )


def expected_csv(rows: list[list[str | None]]) -> bytes:
    """The contract's CSV of text cells, by Python's csv module: floats as repr(round(v, 3))."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    averages = {i for i, name in enumerate(HEADER) if name.endswith("_avg")}
    for row in sorted(rows, key=lambda r: r[1].encode()):
        writer.writerow(
            ["" if v is None else repr(round(float(v), 3)) if i in averages else v for i, v in enumerate(row)]
        )
    return out.getvalue().encode("utf-8")


SMALL = [
    ["2026-11-11", user, "2", "4.5", "3", "6", None if n % 3 == 0 else "7.0", None if n % 3 == 0 else "5",
     None if n % 3 == 0 else "9", "5.333", "4", "6", str(2**40 + n)]
    for n, user in enumerate([*HOSTILE_USER_IDS, ""])
]  # fmt: skip


def test_the_result_object_gives_the_same_rows_and_csv_bytes_as_the_pages(clients):
    write_result_on_start(clients["athena"], clients["writer"], OUTPUT, athena_csv(HEADER, SMALL))
    preset_athena_results(clients["endpoint"], [HEADER, *SMALL], types=SUMMARY_TYPES)  # the pages
    paged = engine(clients).run(dataclasses.replace(QUERY, bulk_result=False))
    preset_athena_results(clients["endpoint"], [HEADER, *SMALL], types=SUMMARY_TYPES)  # the types
    calls = count_calls(clients["athena"], clients["s3"])
    read = engine(clients).run(QUERY)

    assert calls["GetObject"] == 1 and calls["GetQueryResults"] == 1
    assert read.rows.schema == paged.rows.schema
    assert read.rows.equals(paged.rows)
    assert summary_csv(read.rows) == summary_csv(paged.rows) == expected_csv(SMALL)
    users = read.rows.column("user_id").to_pylist()
    assert users == [*HOSTILE_USER_IDS, ""]  # commas, quotes, line breaks, unicode; "" is not null
    assert read.rows.column("mood_avg").null_count == 3 and read.rows.column("mood_avg")[0].as_py() is None


def test_a_million_row_summary_is_read_in_at_most_five_calls_with_every_row_intact(clients):
    cells = summary_result_cells(1_000_000)
    write_result_on_start(clients["athena"], clients["writer"], OUTPUT, athena_csv_of_cells(cells))
    preset_athena_results(clients["endpoint"], [HEADER, *cell_rows(cells, [0])], types=SUMMARY_TYPES)
    calls = count_calls(clients["athena"], clients["s3"])
    result = engine(clients).run(QUERY)

    assert sum(calls.values()) <= 5, calls  # start, poll(s), one GetQueryResults, one GetObject
    assert calls["GetQueryResults"] == 1 and calls["GetObject"] == 1
    rows = result.rows
    assert rows.num_rows == 1_000_000
    assert [str(rows.schema.field(c).type) for c in ("user_id", "record_count", "fatigue_avg", "fatigue_min")] == [
        "string", "int64", "double", "int32",
    ]  # fmt: skip
    # Every cell, column by column: text columns as written, numbers as their text says.
    for name in CSV_COLUMNS:
        text = cells[name]
        if name in ("date", "user_id"):
            assert rows.column(name).equals(pa.chunked_array([text])), name
        elif name.endswith("_avg"):
            assert rows.column(name).to_pylist() == [None if v is None else float(v) for v in text.to_pylist()], name
        else:
            assert rows.column(name).cast(pa.string()).equals(pa.chunked_array([text])), name
    sample = list(range(len(HOSTILE_USER_IDS))) + list(range(len(HOSTILE_USER_IDS), 1_000_000, 9973))
    assert rows.take(pa.array(sample)).to_pylist() == [
        dict(zip(HEADER, typed(row))) for row in cell_rows(cells, sample)
    ]


def typed(row: list[str | None]) -> list:
    """A row of text cells as the values they stand for (Python's own parsing, the oracle)."""
    return [v if i < 2 or v is None else float(v) if HEADER[i].endswith("_avg") else int(v) for i, v in enumerate(row)]


def test_an_empty_result_needs_no_object(clients):
    preset_athena_results(clients["endpoint"], [HEADER], types=SUMMARY_TYPES)
    calls = count_calls(clients["athena"], clients["s3"])
    rows = engine(clients).run(QUERY).rows
    assert rows.num_rows == 0 and rows.column_names == HEADER
    assert str(rows.schema.field("record_count").type) == "int64"
    assert calls["GetObject"] == 0 and calls["GetQueryResults"] == 1
    assert summary_csv(rows) == (",".join(HEADER) + "\n").encode()


def test_a_result_object_that_cannot_be_read_says_where_and_what_the_role_needs(clients):
    def remove(parsed, **_):
        clients["writer"].delete_object(Bucket=BUCKET, Key=f"athena-results/{parsed['QueryExecutionId']}.csv")

    clients["athena"].meta.events.register("after-call.athena.StartQueryExecution", remove)
    preset_athena_results(clients["endpoint"], [HEADER, *SMALL], types=SUMMARY_TYPES)
    with pytest.raises(
        QueryFailed, match=r"at s3://health-logger-prod/athena-results/.+\.csv: NoSuchKey.*s3:GetObject"
    ):
        engine(clients).run(QUERY)


@pytest.mark.parametrize(
    "data, problem",
    [
        (athena_csv(["date", "user", *HEADER[2:]], SMALL), "has the header"),
        (athena_csv(HEADER, [["2026-11-11", "u1", "two", *SMALL[0][3:]]]), "does not parse"),
    ],
)
def test_a_result_object_of_another_shape_is_refused(clients, data, problem):
    write_result_on_start(clients["athena"], clients["writer"], OUTPUT, data)
    preset_athena_results(clients["endpoint"], [HEADER, *SMALL], types=SUMMARY_TYPES)
    with pytest.raises(QueryFailed, match=problem):
        engine(clients).run(QUERY)


def test_every_athena_type_parses_from_the_object_as_from_the_pages():
    from health_pipeline.engines.aws.athena.result_object import parse_result_csv
    from health_pipeline.engines.aws.athena.results import typed_table

    columns = [
        {"Name": name, "Label": name, "Type": kind, "Precision": precision, "Scale": scale}
        for name, kind, precision, scale in [
            ("t", "tinyint", 3, 0), ("s", "smallint", 5, 0), ("i", "integer", 10, 0), ("b", "bigint", 19, 0),
            ("d", "double", 17, 0), ("r", "real", 7, 0), ("ok", "boolean", 0, 0), ("day", "date", 0, 0),
            ("at", "timestamp", 3, 0), ("price", "decimal", 12, 3), ("text", "varchar", 0, 0),
            ("tags", "array", 0, 0),
        ]
    ]  # fmt: skip
    rows = [
        ["-7", "300", "-2147483648", "9223372036854775807", "NaN", "1.5", "true", "2026-11-11",
         "2026-11-11 23:59:59.999", "123456789.125", 'q"uote', "[a, b]"],
        ["7", "-300", "2147483647", "-9223372036854775808", "Infinity", "-Infinity", "false", "1970-01-01",
         "1970-01-01 00:00:00.000", "-0.001", "", "[]"],
        ["0", "0", "0", "0", "-Infinity", "1.0E-10", None, None, None, None, None, None],
        [None, None, None, None, None, None, "true", "2026-02-28", "2026-02-28 12:00:00.500", "0.000",
         "改行\nあり", None],
    ]  # fmt: skip
    names = [c["Name"] for c in columns]
    from_object = parse_result_csv(pa.BufferReader(athena_csv(names, rows)), columns)
    from_pages = typed_table(columns, rows)
    assert from_object.schema == from_pages.schema
    assert from_object.to_pylist()[1:] == from_pages.to_pylist()[1:]
    # NaN equals nothing, so the first row is compared as text.
    assert [str(v) for v in from_object.to_pylist()[0].values()] == [str(v) for v in from_pages.to_pylist()[0].values()]
    assert from_object.column("text").to_pylist() == ['q"uote', "", None, "改行\nあり"]
