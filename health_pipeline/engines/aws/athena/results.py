"""A finished query's result rows, as a typed Arrow table."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
from botocore.exceptions import ClientError

from health_pipeline.engines.aws.athena.errors import AthenaCalls, AthenaExecution, request_error
from health_pipeline.schema.types import athena_result_arrow_type
from health_pipeline.stack import QueryFailed


def fetch_rows(engine: AthenaCalls, execution: AthenaExecution) -> pa.Table:
    """A finished query's rows, page by page through GetQueryResults, typed from Athena's column types."""
    columns: list[dict] | None = None
    values: list[list[str | None]] = []
    token: str | None = None
    first_page = True
    while True:
        kwargs: dict[str, Any] = {"QueryExecutionId": execution.query_id, "MaxResults": engine.results_page_size}
        if token:
            kwargs["NextToken"] = token
        try:
            page = engine.call("get_query_results", "results", execution.query_id, **kwargs)
        except ClientError as err:
            raise request_error("results", "GetQueryResults", err, engine, execution.query_id) from err
        result_set = page["ResultSet"]
        if columns is None:
            columns = result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])
        rows = [[cell.get("VarCharValue") for cell in row.get("Data", [])] for row in result_set.get("Rows", [])]
        if first_page and rows and execution.statement_type in (None, "DML"):
            header, rows = rows[0], rows[1:]  # a SELECT's first row holds the column labels
            labels = [c.get("Label") or c["Name"] for c in columns]
            if header != labels:
                raise QueryFailed(
                    f"Athena query {execution.query_id}: the first result row {header} is not the header"
                    f" {labels}; the result shape is not what this engine reads"
                )
        values.extend(rows)
        first_page = False
        token = page.get("NextToken")
        if not token:
            break
    return typed_table(columns or [], values)


# -- Athena result types -> Arrow ------------------------------------------------------------------
def _parse(text: str, arrow: pa.DataType) -> Any:
    if pa.types.is_integer(arrow):
        return int(text)
    if pa.types.is_floating(arrow):
        return float(text)  # also NaN, Infinity, -Infinity as Athena writes them
    if pa.types.is_boolean(arrow):
        return text.lower() == "true"
    if pa.types.is_date(arrow):
        return date.fromisoformat(text)
    if pa.types.is_timestamp(arrow):
        return datetime.fromisoformat(text)
    if pa.types.is_decimal(arrow):
        return Decimal(text)
    return text


def typed_table(columns: list[dict], rows: list[list[str | None]]) -> pa.Table:
    """Athena's string cells as a typed Arrow table; a missing VarCharValue is null."""
    arrays = []
    for index, column in enumerate(columns):
        arrow = athena_result_arrow_type(column)
        cells = [row[index] if index < len(row) else None for row in rows]
        try:
            arrays.append(pa.array([None if c is None else _parse(c, arrow) for c in cells], type=arrow))
        except (ValueError, ArithmeticError) as err:
            raise QueryFailed(
                f"Athena returned a value in column {column['Name']} that is not a {column.get('Type')}: {err}"
            ) from err
    return pa.Table.from_arrays(arrays, names=[c["Name"] for c in columns])
