"""The aws-mode SQL engine: the project's Athena-dialect SQL files run on Amazon Athena with boto3.

Why not dagster-aws's `AthenaClientResource`: it sends only QueryString and WorkGroup (no catalog, no
database, no result location, no ExecutionParameters, so values would have to be formatted into the
SQL), polls at a fixed 5 s (every short query pays up to 5 s), and leaves a query running in Athena
when it times out or the run is terminated, still scanning and billing. This engine:

- checks every statement against Athena's documented rules before StartQueryExecution
  (`health_pipeline.sql.athena_rules`: `?` only in WHERE, parameters only with SELECT / INSERT INTO /
  CTAS / UNLOAD, 1 to 1,024 characters each, nothing S3 Tables refuses, at most 262,144 bytes) and
  raises QueryFailed without sending one that breaks them;
- sends QueryExecutionContext {Catalog, Database}, the WorkGroup, ResultConfiguration.OutputLocation
  and a query's WHERE values as ExecutionParameters, rendered as Athena literals (values outside WHERE
  and in a DELETE are in the text, written by `health_pipeline.sql.render`);
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
- reads a large result (a `Query` with `bulk_result`, the daily summary) from the query's result
  object in S3 in two calls whatever its size (`result_object`), a small one through GetQueryResults;
- reports DataScannedInBytes, engine / queue / total time and a cost estimate ($5 per TB, 10 MB
  minimum, DDL free).

No Dagster import here: the Dagster resource wraps this class.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from health_pipeline.engines.aws.athena.errors import (
    THROTTLING_CODES,
    AthenaExecution,
    AthenaQueryTimeout,
    AthenaThrottled,
    console_url,
    query_failure,
    request_error,
)
from health_pipeline.engines.aws.athena.literals import athena_literal, placeholder_count
from health_pipeline.engines.aws.athena.result_object import read_result_object
from health_pipeline.engines.aws.athena.results import fetch_rows
from health_pipeline.sql import Query, check_query_rules, with_table
from health_pipeline.sql.athena_rules import AthenaRuleViolation, check_athena_rules
from health_pipeline.stack import QueryFailed, QueryResult

log = logging.getLogger(__name__)

RUNNING_STATES = frozenset({"QUEUED", "RUNNING"})
ATHENA_TIMEOUT_S = 1800.0  # a daily summary takes seconds; past 30 minutes something is wrong: stop it


class AthenaQueryEngine:
    """Runs `Query`s and DDL on Athena. The client is a boto3 Athena client; without one, it is created
    on first use from `region` with boto3's own chain (credentials, AWS_ENDPOINT_URL)."""

    engine: ClassVar[str] = "athena"

    def __init__(
        self,
        *,
        catalog: str,
        database: str,
        workgroup: str,
        output_location: str | None,
        client: Any = None,
        s3_client: Any = None,
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
        self._s3_client = s3_client
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
    def s3_client(self) -> Any:
        """The S3 client that reads result objects (boto3's chain; AWS_ENDPOINT_URL(_S3) honoured)."""
        if self._s3_client is None:
            import boto3

            self._s3_client = boto3.client("s3", region_name=self._region)
        return self._s3_client

    @property
    def region(self) -> str:
        return self._region or self.client.meta.region_name

    # -- the entry points ----------------------------------------------------------------------
    def run(self, query: Query) -> QueryResult:
        """Run a SELECT and return its rows typed from Athena's column types."""
        sql, parameters = self._statement(query)
        started = self.clock()
        execution = self._execute(query.name, sql, parameters)
        # A result of one row per user is read from its result object; small answers page through
        # GetQueryResults (one call for up to results_page_size rows, no S3 read).
        rows = read_result_object(self, execution) if query.bulk_result else fetch_rows(self, execution)
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

    def execute_dml(self, query: Query) -> AthenaExecution:
        """Run one DML statement (the erasure's and retention's DELETE on the Iceberg table: no
        ExecutionParameters, its values rendered in its text); returns the finished execution."""
        sql, parameters = self._statement(query)
        return self._execute(query.name, sql, parameters)

    @staticmethod
    def _statement(query: Query) -> tuple[str, list[str]]:
        """The query's SQL on its table, checked against the query rules, and its values as literals,
        one per `?` placeholder."""
        sql = with_table(query.text, query.table)
        check_query_rules(sql, query.table)
        parameters = [athena_literal(value) for value in query.parameters]
        expected = placeholder_count(sql)
        if expected != len(parameters):
            raise QueryFailed(
                f"query {query.name} has {expected} ? placeholder(s) but {len(parameters)} parameter(s);"
                " the SQL file and the code that builds its Query disagree"
            )
        return sql, parameters

    def execute_ddl(self, sql: str, name: str = "ddl") -> AthenaExecution:
        """Run one DDL statement (e.g. ALTER TABLE ... ADD COLUMNS) in the configured catalog and database.
        DDL takes no ExecutionParameters: identifiers and types must be allow-listed by the caller."""
        check_query_rules(sql)
        return self._execute(name, sql, [])

    # -- start, wait, stop -------------------------------------------------------------------------
    def _execute(self, name: str, sql: str, parameters: list[str]) -> AthenaExecution:
        refuse_what_athena_refuses(name, sql, parameters)  # every statement, before anything is sent
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
            query_id = self.call("start_query_execution", name, None, **request)["QueryExecutionId"]
        except ClientError as err:
            raise request_error(name, "StartQueryExecution", err, self) from err
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
                execution = self.call("get_query_execution", name, query_id, QueryExecutionId=query_id)[
                    "QueryExecution"
                ]
                polls += 1
                state = execution["Status"]["State"]
                if state not in RUNNING_STATES:
                    break
        except ClientError as err:
            self._stop(name, query_id)
            raise request_error(name, "GetQueryExecution", err, self, query_id) from err
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
            raise query_failure(name, query_id, execution, self.region)
        return self._execution(query_id, execution, polls, self.clock() - started)

    def _stop(self, name: str, query_id: str) -> None:
        try:
            self.call("stop_query_execution", name, query_id, attempts=3, QueryExecutionId=query_id)
            log.warning("Athena query %s (%s) stopped", name, query_id)
        except BaseException as err:  # the original error is what the caller must see
            link = console_url(self.region, query_id)
            log.error("could not stop Athena query %s (%s): %s; stop it in the console: %s", name, query_id, err, link)

    def _jittered(self, delay: float) -> float:
        return delay * (1.0 - self.poll_jitter * self.rng.random())

    def call(
        self, operation: str, name: str, query_id: str | None, attempts: int | None = None, **kwargs: Any
    ) -> dict[str, Any]:
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


def refuse_what_athena_refuses(name: str, sql: str, parameters: list[str]) -> None:
    """Raise QueryFailed, before StartQueryExecution, for a statement Athena's documented rules refuse
    (`health_pipeline.sql.athena_rules`): nothing is sent, nothing is billed."""
    try:
        check_athena_rules(sql, parameters, name=f"query {name}")
    except AthenaRuleViolation as err:
        raise QueryFailed(f"not sent to Athena: {err}") from err
