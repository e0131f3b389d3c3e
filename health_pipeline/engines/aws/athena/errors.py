"""Athena's errors and costs as the engine reports them: the exceptions (with the reason, AthenaError
and what to do) and a finished query's statistics, priced by `health_pipeline.athena_price`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from health_pipeline.athena_price import estimate_cost_usd
from health_pipeline.stack import QueryFailed

THROTTLING_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})
ERROR_CATEGORIES = {1: "SYSTEM", 2: "USER", 3: "OTHER"}


class AthenaContext(Protocol):
    """Where a query runs, named in every error message."""

    workgroup: str
    catalog: str
    database: str

    @property
    def region(self) -> str: ...


class AthenaCalls(AthenaContext, Protocol):
    """What reading a finished query's rows needs of the engine (`AthenaQueryEngine`): its Athena calls,
    retried on throttling, and its S3 client."""

    results_page_size: int

    @property
    def s3_client(self) -> Any: ...

    def call(
        self, operation: str, name: str, query_id: str | None, attempts: int | None = None, **kwargs: Any
    ) -> dict[str, Any]: ...


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


def console_url(region: str, query_id: str) -> str:
    return f"https://{region}.console.aws.amazon.com/athena/home?region={region}#/query-editor/history/{query_id}"


def query_failure(name: str, query_id: str, execution: dict, region: str) -> AthenaQueryError:
    """The error for a query that ended FAILED or CANCELLED: Athena's reason, its AthenaError and what to do."""
    status = execution.get("Status", {})
    state = status.get("State", "UNKNOWN")
    reason = status.get("StateChangeReason") or "no reason given"
    error = status.get("AthenaError", {})
    category = error.get("ErrorCategory")
    error_type = error.get("ErrorType")
    retryable = bool(error.get("Retryable", False))
    link = console_url(region, query_id)
    if retryable:
        advice = "Athena marks this error retryable: the run's retry policy will try again."
    elif state == "CANCELLED":
        advice = "It was cancelled (in the console, by a stop request or by a workgroup limit); re-run the partition."
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


def request_error(
    name: str, operation: str, err: ClientError, engine: AthenaContext, query_id: str | None = None
) -> AthenaQueryError:
    """The error for an API call Athena refused (not a query that ran and failed)."""
    code = err.response.get("Error", {}).get("Code", "")
    message = err.response.get("Error", {}).get("Message", "")
    retryable = (
        code in ("InternalServerException", "ServiceUnavailable")
        or err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
    )
    target = f" ({query_id})" if query_id else ""
    return AthenaQueryError(
        f"Athena refused {operation} for query {name}{target} in workgroup {engine.workgroup}, catalog"
        f" {engine.catalog}, database {engine.database}: {code}: {message}."
        + (" A retry may succeed." if retryable else " Check the settings, the SQL and the IAM permissions."),
        query_id=query_id,
        state="REQUEST_FAILED",
        reason=message,
        retryable=retryable,
        console_url=console_url(engine.region, query_id) if query_id else None,
    )
