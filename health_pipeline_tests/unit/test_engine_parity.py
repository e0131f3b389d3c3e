"""The two modes cannot drift apart: the same SQL file on the local engine and, for the same inputs, in
the shape Athena returns it (every value a string, typed by ColumnInfo, in its result CSV) give equal
Arrow tables."""

from datetime import date
from zoneinfo import ZoneInfo

import boto3
import pyarrow as pa

from health_pipeline.demo import generate_records
from health_pipeline.engines.aws.athena import AthenaQueryEngine
from health_pipeline.summary.csv_format import CSV_COLUMNS, summary_csv
from health_pipeline.summary.days import daily_summary_query
from health_pipeline_tests.support import deliver, preset_athena_results
from health_pipeline_tests.support.athena_results import athena_csv, write_result_on_start
from health_pipeline_tests.support.summary_oracle import EDGE_RECORDS

DAY = date(2026, 11, 11)
REGION = "ap-northeast-1"

# The types Athena (Trino) gives the daily summary's columns, from its documented return types:
# CAST(? AS VARCHAR) varchar; a Glue `string` column varchar; COUNT(*) bigint; ROUND(AVG(integer), 3)
# double; MIN / MAX of an `int` column integer; BITWISE_OR_AGG bigint.
ATHENA_SUMMARY_TYPES = {
    "date": "varchar",
    "user_id": "varchar",
    "record_count": "bigint",
    **{f"{score}_{stat}": ("double" if stat == "avg" else "integer")
       for score in ("fatigue", "mood", "motivation") for stat in ("avg", "min", "max")},
    "flags_any": "bigint",
}  # fmt: skip


def as_athena_returns_it(value) -> str | None:
    """A cell as GetQueryResults renders it: a string (doubles like Trino's 4.0, 4.333), or no value."""
    if value is None:
        return None
    return repr(value) if isinstance(value, float) else str(value)


def test_the_summary_sql_gives_the_same_table_on_duckdb_and_in_athenas_shape(stack, aws):
    zone = ZoneInfo("Asia/Tokyo")
    records = list(generate_records(40, [date(2026, 11, 10), DAY, date(2026, 11, 12)], zone, seed=11)) + EDGE_RECORDS
    assert deliver(stack, records).accepted == len(records)
    query = daily_summary_query(DAY, zone, stack.settings.table)
    local = stack.query_engine.run(query).rows
    assert local.num_rows > 10 and local.column_names == list(CSV_COLUMNS)

    types = [ATHENA_SUMMARY_TYPES[name] for name in local.column_names]
    rendered = [local.column_names] + [
        [as_athena_returns_it(record[name]) for name in local.column_names] for record in local.to_pylist()
    ]
    preset_athena_results(aws, rendered, types=types)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="results", CreateBucketConfiguration={"LocationConstraint": REGION})
    client = boto3.client("athena", region_name=REGION)
    # The summary is read from its result object: written here in Athena's CSV format (moto's own
    # copy of a preset leaves inner quotes undoubled, which Athena doubles).
    write_result_on_start(client, s3, "s3://results/athena/", athena_csv(rendered[0], rendered[1:]))
    athena = AthenaQueryEngine(
        catalog="AwsDataCatalog",
        database=stack.settings.database,
        workgroup="primary",
        output_location="s3://results/athena/",
        client=client,
        sleep=lambda _: None,
    ).run(query)

    assert athena.sql == stack.query_engine.run(query).sql  # the same SQL file, as sent
    assert athena.rows.schema == local.schema, f"types drifted:\nathena {athena.rows.schema}\nlocal  {local.schema}"
    assert athena.rows.equals(local)
    assert summary_csv(athena.rows) == summary_csv(local)
    assert pa.compute.sum(athena.rows["record_count"]).as_py() == pa.compute.sum(local["record_count"]).as_py()
