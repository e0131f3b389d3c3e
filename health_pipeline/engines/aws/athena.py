"""The aws-mode SQL engine: the project's Athena-dialect SQL files run on Amazon Athena with boto3.

Why not dagster-aws's `AthenaClientResource`: it sends only QueryString and WorkGroup (no catalog, no
database, no result location, no ExecutionParameters, so values would have to be formatted into the
SQL), polls at a fixed 5 s (every short query pays up to 5 s), and leaves a query running in Athena
when it times out or the run is terminated, still scanning and billing. This engine:

- sends QueryExecutionContext {Catalog, Database}, the WorkGroup, ResultConfiguration.OutputLocation
  and the query's values only as ExecutionParameters, rendered as Athena literals;
- polls from 0.2 s, doubling with jitter up to 11 s: quick for quick queries, few calls for long ones
  (a 100 s query: at most 15 polls, seen within 10% of its duration; `make bench` measures it);
  QUEUED after RUNNING is normal (Athena can requeue a query);
- retries TooManyRequestsException / ThrottlingException on every call with jittered exponential
  backoff, a bounded number of times;
- calls StopQueryExecution on timeout and on any exception or interrupt while waiting (KeyboardInterrupt,
  Dagster's run termination), then re-raises: a query never outlives the run that started it;
- raises `AthenaQueryError` (a `QueryFailed`) for FAILED / CANCELLED with the StateChangeReason, the
  AthenaError category, type and Retryable, the query id and the console link; `.retryable` tells
  the Dagster layer whether a RetryPolicy should try again;
- reports DataScannedInBytes, engine / queue / total time and a cost estimate ($5 per TB, 10 MB
  minimum, DDL free).

No Dagster import here: the Dagster resource wraps this class.
"""

from __future__ import annotations

import logging
import math
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import sqlglot
from botocore.exceptions import ClientError
from sqlglot import exp

from health_pipeline.engines.base import QueryFailed, QueryResult
from health_pipeline.schema.types import athena_result_arrow_type
from health_pipeline.sql import DIALECT, Query, check_query_rules, with_table

log = logging.getLogger(__name__)

THROTTLING_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})
RUNNING_STATES = frozenset({"QUEUED", "RUNNING"})
ERROR_CATEGORIES = {1: "SYSTEM", 2: "USER", 3: "OTHER"}
USD_PER_TB = 5.0
BYTES_PER_MB = 1024 * 1024
BYTES_PER_TB = 1024**4
MINIMUM_BILLED_BYTES = 10 * BYTES_PER_MB
FREE_STATEMENT_TYPES = frozenset({"DDL"})


ATHENA_TIMEOUT_S = 1800.0  # a daily summary takes seconds; past 30 minutes something is wrong: stop it


class AthenaQueryError(QueryFailed):
    """An Athena query ended FAILED or CANCELLED (or was stopped by us); `retryable` says whether running
    it again may succeed (Athena's AthenaError.Retryable)."""

    def __init__(
        self,
        message: str,
        *,
        query_id: str | None,
        state: str,
        reason: str | None = None,
        error_category: int | None = None,
        error_type: int | None = None,
        retryable: bool = False,
        console_url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.query_id = query_id
        self.state = state
        self.reason = reason
        self.error_category = error_category
        self.error_type = error_type
        self.retryable = retryable
        self.console_url = console_url


class AthenaQueryTimeout(AthenaQueryError):
    """The query did not finish within the engine's timeout; it was stopped."""


class AthenaThrottled(AthenaQueryError):
    """Athena kept refusing a call with throttling after the bounded retries (retryable later)."""


@dataclass(frozen=True)
class AthenaExecution:
    """What GetQueryExecution said about a finished query, with the engine's own counts."""

    query_id: str
    state: str
    statement_type: str | None
    output_location: str | None
    data_scanned_bytes: int
    engine_execution_ms: int
    queue_ms: int
    total_execution_ms: int
    console_url: str
    polls: int
    elapsed_s: float

    @property
    def cost_usd(self) -> float:
        return estimate_cost_usd(self.data_scanned_bytes, self.statement_type)

    def metadata(self) -> dict:
        return {
            "query_id": self.query_id,
            "state": self.state,
            "statement_type": self.statement_type,
            "data_scanned_bytes": self.data_scanned_bytes,
            "engine_execution_ms": self.engine_execution_ms,
            "queue_ms": self.queue_ms,
            "total_execution_ms": self.total_execution_ms,
            "cost_usd": self.cost_usd,
            "console_url": self.console_url,
            "polls": self.polls,
        }


def estimate_cost_usd(data_scanned_bytes: int, statement_type: str | None = "DML") -> float:
    """Athena's price: $5 per TB scanned, rounded up to the megabyte, 10 MB minimum; DDL is free."""
    if statement_type in FREE_STATEMENT_TYPES:
        return 0.0
    billed = max(MINIMUM_BILLED_BYTES, math.ceil(max(data_scanned_bytes, 0) / BYTES_PER_MB) * BYTES_PER_MB)
    return billed / BYTES_PER_TB * USD_PER_TB


def console_url(region: str, query_id: str) -> str:
    return f"https://{region}.console.aws.amazon.com/athena/home?region={region}#/query-editor/history/{query_id}"


def athena_literal(value: Any) -> str:
    """One ExecutionParameters entry: Athena substitutes it as a SQL literal, so strings are quoted here
    (quotes doubled: a value can never end the literal) and timestamps carry their type."""
    if isinstance(value, bool) or not isinstance(value, (datetime, str, int)):
        raise TypeError(
            f"an Athena query parameter must be a datetime (UTC, no zone), a str or an int; got"
            f" {type(value).__name__} {value!r}: convert it before building the Query"
        )
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise TypeError(
                f"timestamp parameter {value.isoformat()} has a zone; recorded_at holds UTC without zone:"
                " pass value.astimezone(timezone.utc).replace(tzinfo=None)"
            )
        return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S.%f')}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(int(value))


def placeholder_count(sql: str) -> int:
    return sum(
        1 for statement in sqlglot.parse(sql, read=DIALECT) if statement for _ in statement.find_all(exp.Placeholder)
    )


class AthenaQueryEngine:
    """Runs `Query`s and DDL on Athena. The client is a boto3 Athena client; without one, it is created
    on first use from `region` with boto3's own chain (credentials, AWS_ENDPOINT_URL)."""

    engine = "athena"

    def __init__(
        self,
        *,
        catalog: str,
        database: str,
        workgroup: str,
        output_location: str | None,
        client: Any = None,
        region: str | None = None,
        timeout_s: float = ATHENA_TIMEOUT_S,
        poll_initial_s: float = 0.2,
        poll_backoff: float = 2.0,
        poll_max_s: float = 11.0,
        poll_jitter: float = 0.1,
        throttle_attempts: int = 8,
        throttle_base_s: float = 1.0,
        throttle_max_s: float = 30.0,
        results_page_size: int = 1000,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if output_location is not None and not output_location.startswith("s3://"):
            raise ValueError(
                f"the Athena result location {output_location!r} is not an s3:// URI;"
                " set HEALTH_PIPELINE_ATHENA_OUTPUT to s3://bucket/prefix/"
            )
        self.catalog = catalog
        self.database = database
        self.workgroup = workgroup
        self.output_location = output_location
        self._client = client
        self._region = region
        self.timeout_s = timeout_s
        self.poll_initial_s = poll_initial_s
        self.poll_backoff = poll_backoff
        self.poll_max_s = poll_max_s
        self.poll_jitter = poll_jitter
        self.throttle_attempts = throttle_attempts
        self.throttle_base_s = throttle_base_s
        self.throttle_max_s = throttle_max_s
        self.results_page_size = results_page_size
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            # Botocore retries a throttled call a little itself; ours (below) backs off further.
            self._client = boto3.client(
                "athena", region_name=self._region, config=Config(retries={"mode": "standard", "max_attempts": 3})
            )
        return self._client

    @property
    def region(self) -> str:
        return self._region or self.client.meta.region_name

    # -- the two entry points ----------------------------------------------------------------------
    def run(self, query: Query) -> QueryResult:
        """Run a SELECT and return its rows typed from Athena's column types."""
        sql = with_table(query.text, query.table)
        check_query_rules(sql, query.table)
        parameters = [athena_literal(value) for value in query.parameters]
        expected = placeholder_count(sql)
        if expected != len(parameters):
            raise QueryFailed(
                f"query {query.name} has {expected} ? placeholder(s) but {len(parameters)} parameter(s);"
                " the SQL file and the code that builds its Query disagree"
            )
        started = self.clock()
        execution = self._execute(query.name, sql, parameters)
        rows = self._fetch_rows(execution)
        return QueryResult(
            query_id=execution.query_id,
            rows=rows,
            sql=sql,
            bytes_scanned=execution.data_scanned_bytes,
            files_scanned=0,  # Athena does not report files read
            elapsed_s=self.clock() - started,
            engine=self.engine,
            result_location=execution.output_location,
            cost_usd=execution.cost_usd,
            extra={
                "console_url": execution.console_url,
                "engine_execution_ms": execution.engine_execution_ms,
                "queue_ms": execution.queue_ms,
                "total_execution_ms": execution.total_execution_ms,
                "polls": execution.polls,
                "workgroup": self.workgroup,
                "catalog": self.catalog,
                "database": self.database,
            },
        )

    def execute_ddl(self, sql: str, name: str = "ddl") -> AthenaExecution:
        """Run one DDL statement (e.g. ALTER TABLE ... ADD COLUMNS) in the configured catalog and database.
        DDL takes no ExecutionParameters: identifiers and types must be allow-listed by the caller."""
        check_query_rules(sql)
        return self._execute(name, sql, [])

    # -- start, wait, stop -------------------------------------------------------------------------
    def _execute(self, name: str, sql: str, parameters: list[str]) -> AthenaExecution:
        request: dict[str, Any] = {
            "QueryString": sql,
            "QueryExecutionContext": {"Catalog": self.catalog, "Database": self.database},
            "WorkGroup": self.workgroup,
            # One token for all our retries: a retried start can never launch the query twice.
            "ClientRequestToken": str(uuid.uuid4()),
        }
        if self.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.output_location}
        if parameters:
            request["ExecutionParameters"] = parameters
        started = self.clock()
        try:
            query_id = self._call("start_query_execution", name, None, **request)["QueryExecutionId"]
        except ClientError as err:
            raise self._request_error(name, "StartQueryExecution", err) from err
        log.info("Athena query %s started: %s", name, query_id)
        return self._wait(name, query_id, started)

    def _wait(self, name: str, query_id: str, started: float) -> AthenaExecution:
        deadline = started + self.timeout_s
        delay = self.poll_initial_s
        polls = 0
        state = "QUEUED"
        try:
            while True:
                remaining = deadline - self.clock()
                if remaining <= 0:
                    break
                self.sleep(min(self._jittered(delay), remaining))
                delay = min(delay * self.poll_backoff, self.poll_max_s)
                execution = self._call("get_query_execution", name, query_id, QueryExecutionId=query_id)[
                    "QueryExecution"
                ]
                polls += 1
                state = execution["Status"]["State"]
                if state not in RUNNING_STATES:
                    break
        except ClientError as err:
            self._stop(name, query_id)
            raise self._request_error(name, "GetQueryExecution", err, query_id) from err
        except BaseException:
            # An interrupt (KeyboardInterrupt, Dagster's run termination) or any other error: the
            # query must not keep running, and billing, after the run has gone.
            self._stop(name, query_id)
            raise
        if state in RUNNING_STATES:
            self._stop(name, query_id)
            raise AthenaQueryTimeout(
                f"Athena query {name} ({query_id}) did not finish within {self.timeout_s:g} s (still {state});"
                f" it was stopped with StopQueryExecution. Narrow the query or raise the timeout."
                f" Console: {console_url(self.region, query_id)}",
                query_id=query_id,
                state="TIMEOUT",
                console_url=console_url(self.region, query_id),
            )
        if state != "SUCCEEDED":
            raise self._failure(name, query_id, execution)
        return self._execution(query_id, execution, polls, self.clock() - started)

    def _stop(self, name: str, query_id: str) -> None:
        try:
            self._call("stop_query_execution", name, query_id, attempts=3, QueryExecutionId=query_id)
            log.warning("Athena query %s (%s) stopped", name, query_id)
        except BaseException as err:  # the original error is what the caller must see
            link = console_url(self.region, query_id)
            log.error("could not stop Athena query %s (%s): %s; stop it in the console: %s", name, query_id, err, link)

    def _jittered(self, delay: float) -> float:
        return delay * (1.0 - self.poll_jitter * self.rng.random())

    def _call(self, operation: str, name: str, query_id: str | None, attempts: int | None = None, **kwargs) -> dict:
        """One Athena API call, retried on throttling with equal-jitter exponential backoff, bounded."""
        attempts = attempts or self.throttle_attempts
        for attempt in range(attempts):
            try:
                return getattr(self.client, operation)(**kwargs)
            except ClientError as err:
                code = err.response.get("Error", {}).get("Code", "")
                if code not in THROTTLING_CODES:
                    raise
                if attempt == attempts - 1:
                    raise AthenaThrottled(
                        f"Athena throttled {operation} for query {name} {attempts} times ({code}:"
                        f" {err.response.get('Error', {}).get('Message', '')}). The account's request or"
                        " active-query quota is exhausted: lower the `athena` concurrency pool limit or ask"
                        " AWS for a higher quota; a later retry may succeed.",
                        query_id=query_id,
                        state="THROTTLED",
                        retryable=True,
                        console_url=console_url(self.region, query_id) if query_id else None,
                    ) from err
                backoff = min(self.throttle_max_s, self.throttle_base_s * 2**attempt)
                self.sleep(backoff / 2 + self.rng.random() * backoff / 2)
        raise AssertionError("unreachable")

    # -- results -----------------------------------------------------------------------------------
    def _execution(self, query_id: str, execution: dict, polls: int, elapsed_s: float) -> AthenaExecution:
        statistics = execution.get("Statistics", {})
        return AthenaExecution(
            query_id=query_id,
            state=execution["Status"]["State"],
            statement_type=execution.get("StatementType"),
            output_location=execution.get("ResultConfiguration", {}).get("OutputLocation"),
            data_scanned_bytes=int(statistics.get("DataScannedInBytes", 0)),
            engine_execution_ms=int(statistics.get("EngineExecutionTimeInMillis", 0)),
            queue_ms=int(statistics.get("QueryQueueTimeInMillis", 0)),
            total_execution_ms=int(statistics.get("TotalExecutionTimeInMillis", 0)),
            console_url=console_url(self.region, query_id),
            polls=polls,
            elapsed_s=elapsed_s,
        )

    def _fetch_rows(self, execution: AthenaExecution) -> pa.Table:
        columns: list[dict] | None = None
        values: list[list[str | None]] = []
        token: str | None = None
        first_page = True
        while True:
            kwargs: dict[str, Any] = {"QueryExecutionId": execution.query_id, "MaxResults": self.results_page_size}
            if token:
                kwargs["NextToken"] = token
            try:
                page = self._call("get_query_results", "results", execution.query_id, **kwargs)
            except ClientError as err:
                raise self._request_error("results", "GetQueryResults", err, execution.query_id) from err
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

    # -- errors ------------------------------------------------------------------------------------
    def _failure(self, name: str, query_id: str, execution: dict) -> AthenaQueryError:
        status = execution.get("Status", {})
        state = status.get("State", "UNKNOWN")
        reason = status.get("StateChangeReason") or "no reason given"
        error = status.get("AthenaError", {})
        category = error.get("ErrorCategory")
        error_type = error.get("ErrorType")
        retryable = bool(error.get("Retryable", False))
        link = console_url(self.region, query_id)
        if retryable:
            advice = "Athena marks this error retryable: the run's retry policy will try again."
        elif state == "CANCELLED":
            advice = (
                "It was cancelled (in the console, by a stop request or by a workgroup limit); re-run the partition."
            )
        elif category == 2:
            advice = "This is a query or permission error: fix the SQL, the table or the IAM policy, then re-run."
        else:
            advice = "Open the query in the console for details; re-run once the cause is fixed."
        return AthenaQueryError(
            f"Athena query {name} ({query_id}) {state}: {reason}."
            f" AthenaError: category {category} ({ERROR_CATEGORIES.get(category, 'unknown')}), type {error_type},"
            f" retryable {retryable}. {advice} Console: {link}",
            query_id=query_id,
            state=state,
            reason=reason,
            error_category=category,
            error_type=error_type,
            retryable=retryable,
            console_url=link,
        )

    def _request_error(
        self, name: str, operation: str, err: ClientError, query_id: str | None = None
    ) -> AthenaQueryError:
        code = err.response.get("Error", {}).get("Code", "")
        message = err.response.get("Error", {}).get("Message", "")
        retryable = (
            code in ("InternalServerException", "ServiceUnavailable")
            or err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
        )
        target = f" ({query_id})" if query_id else ""
        return AthenaQueryError(
            f"Athena refused {operation} for query {name}{target} in workgroup {self.workgroup}, catalog"
            f" {self.catalog}, database {self.database}: {code}: {message}."
            + (" A retry may succeed." if retryable else " Check the settings, the SQL and the IAM permissions."),
            query_id=query_id,
            state="REQUEST_FAILED",
            reason=message,
            retryable=retryable,
            console_url=console_url(self.region, query_id) if query_id else None,
        )


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
