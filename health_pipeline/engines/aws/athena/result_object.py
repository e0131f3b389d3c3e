"""A large SELECT result in two calls whatever its size: the column types from one GetQueryResults
call (MaxResults=1: its ResultSetMetadata), then the query's own result object, the CSV Athena writes
at `ResultConfiguration.OutputLocation` (`<query id>.csv`), in one streamed S3 GetObject parsed by
pyarrow.csv into the same typed Arrow table the page-by-page path (`results.fetch_rows`) builds.

Why the result object, not UNLOAD to Parquet: the object already exists once the query succeeds (no
second query, no second prefix to clean, no extra scan), it holds the rows in the order of the
query's ORDER BY, and UNLOAD needs a SELECT wrapped around the project's SQL files. Why not
GetQueryResults page by page: 1,000 rows a call, sequential, against an account-wide request quota
shared with every query's polling; a day of a million users is a thousand calls.

Athena's result CSV (https://docs.aws.amazon.com/athena/latest/ug/querying.html, "Working with query
results"; PyAthena's "NULL and Empty String Handling" describes the same): a header row of the
column labels, every non-null value quoted with double quotes (a quote inside doubled), a null as an
empty unquoted field, "\\n" between rows and inside quoted values. pyarrow.csv reads exactly that with
`quoted_strings_can_be_null=False`: `""` stays the empty string, an empty unquoted field is null.
moto writes its preset results there too, every value quoted but without doubling inner quotes; the
parser here follows Athena's format (the tests write the object in Athena's format themselves).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from botocore.exceptions import ClientError

from health_pipeline.engines.aws.athena.errors import AthenaCalls, AthenaExecution, request_error
from health_pipeline.engines.aws.athena.results import typed_table
from health_pipeline.schema.types import athena_result_arrow_type
from health_pipeline.stack import QueryFailed


def read_result_object(engine: AthenaCalls, execution: AthenaExecution) -> pa.Table:
    """A finished SELECT's rows from its result object: one GetQueryResults (the types) and one GetObject."""
    try:
        page = engine.call("get_query_results", "results", execution.query_id,
                            QueryExecutionId=execution.query_id, MaxResults=1)  # fmt: skip
    except ClientError as err:
        raise request_error("results", "GetQueryResults", err, engine, execution.query_id) from err
    result_set = page["ResultSet"]
    columns = result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])
    data_rows = len(result_set.get("Rows", [])) - 1  # the first row of a SELECT's first page is its header
    if not columns or (data_rows <= 0 and not page.get("NextToken")):
        return typed_table(columns, [])  # no rows: nothing more to read
    location = execution.output_location
    if not location or not location.startswith("s3://"):
        raise QueryFailed(
            f"Athena query {execution.query_id} reports no S3 result location ({location!r}); set"
            " HEALTH_PIPELINE_ATHENA_OUTPUT (or the workgroup's result location) to s3://bucket/prefix/"
        )
    bucket, _, key = location[len("s3://") :].partition("/")
    try:
        body = engine.s3_client.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        raise QueryFailed(
            f"could not read the result of Athena query {execution.query_id} at {location}: {code}:"
            f" {err.response.get('Error', {}).get('Message', '')}. The role running the pipeline needs"
            f" s3:GetObject on the result prefix (terraform/modules/iam) and the object must not have expired"
            f" (the result prefix's lifecycle rule); run the partition again."
        ) from err
    try:
        return parse_result_csv(body, columns)
    finally:
        body.close()


def parse_result_csv(source: Any, columns: list[dict]) -> pa.Table:
    """Athena's result CSV (a binary file-like object) as the typed table of `columns` (ColumnInfo)."""
    import pyarrow.csv as pv

    labels = [column.get("Label") or column["Name"] for column in columns]
    try:
        table = pv.read_csv(
            source,
            read_options=pv.ReadOptions(block_size=16 << 20),
            parse_options=pv.ParseOptions(newlines_in_values=True),
            convert_options=pv.ConvertOptions(
                # Every type athena_result_arrow_type gives (ints, floats with NaN and Infinity, true /
                # false, ISO dates and timestamps, decimals, text) is one pyarrow.csv converts itself.
                column_types={label: athena_result_arrow_type(c) for label, c in zip(labels, columns)},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                true_values=["true"],
                false_values=["false"],
            ),
        )
    except pa.ArrowInvalid as err:
        raise QueryFailed(f"Athena's result CSV does not parse as the columns {labels} say: {err}") from err
    if table.column_names != labels:
        raise QueryFailed(
            f"Athena's result CSV has the header {table.column_names}, not the columns {labels} its"
            " metadata names; the result shape is not what this engine reads"
        )
    return table.rename_columns([column["Name"] for column in columns])
