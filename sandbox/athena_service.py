"""moto's Athena, extended inside the sandbox process: every StartQueryExecution is checked against
Athena's documented rules (`athena_rules`) and, when admitted, executed against the Iceberg tables
the sandbox's Glue catalog and S3 hold (`athena_engine`); GetQueryExecution and GetQueryResults
answer from what really ran.

moto's `AthenaResponse` handlers for those calls are replaced (`install`); moto's other Athena calls
(workgroups, data catalogs, named queries) are moto's own. A statement runs to its end inside
StartQueryExecution, one at a time (a lock: Iceberg commits from two statements would conflict), so
the first GetQueryExecution sees it SUCCEEDED or FAILED.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.athena.responses import AthenaResponse
from moto.glue.models import glue_backends
from moto.s3.models import s3_backends

from sandbox.athena_engine import StatementFailed, execute
from sandbox.athena_results import RESULT_PAGE_MAX, Outcome, result_csv, result_page
from sandbox.athena_rules import (
    USER_ERROR,
    WorkgroupSettings,
    check_request,
    check_statement,
    statement_kind,
    statement_type,
)

DEFAULT_CATALOG = "AwsDataCatalog"
LoadTable = Callable[[str, str], Any]


@dataclass
class Execution:
    query_id: str
    query: str
    parameters: list[str] | None
    context: dict[str, Any]
    workgroup: str
    output_location: str | None
    statement: str
    submitted: float
    state: str = "SUCCEEDED"
    reason: str | None = None
    error_type: int | None = None
    outcome: Outcome = field(default_factory=Outcome)
    engine_ms: int = 0
    completed: float = 0.0


class AthenaSandbox:
    """The executions of the sandbox's Athena, and how it reaches the Iceberg tables."""

    def __init__(self, load_table: LoadTable, lock: threading.Lock | None = None) -> None:
        self.load_table = load_table
        self.executions: dict[str, Execution] = {}
        self.lock = lock or threading.Lock()  # shared with Firehose's deliveries: one Iceberg commit at a time


_sandbox: AthenaSandbox | None = None
_originals: dict[str, Any] = {}


def install(sandbox: AthenaSandbox) -> None:
    """Replace moto's Athena handlers with the sandbox's, in this process."""
    global _sandbox
    _sandbox = sandbox
    for name, handler in HANDLERS.items():
        _originals.setdefault(name, getattr(AthenaResponse, name))
        setattr(AthenaResponse, name, handler)


def _state() -> AthenaSandbox:
    if _sandbox is None:
        raise RuntimeError("the sandbox's Athena is not installed (sandbox.athena_service.install)")
    return _sandbox


def _error(message: str, status: int = 400) -> tuple[str, dict[str, int]]:
    return json.dumps({"__type": "InvalidRequestException", "Message": message}), {"status": status}


def _workgroup_settings(configuration: dict[str, Any]) -> WorkgroupSettings:
    encryption = configuration.get("ResultConfiguration", {}).get("EncryptionConfiguration", {})
    return WorkgroupSettings(
        result_encryption=encryption.get("EncryptionOption"),
        requester_pays=bool(configuration.get("RequesterPaysEnabled", False)),
    )


def _output_location(configuration: dict[str, Any], requested: dict[str, Any] | None) -> str | None:
    """Where the result goes: the workgroup's location when it enforces its configuration (or the
    client gave none), else the client's."""
    workgroup_location = configuration.get("ResultConfiguration", {}).get("OutputLocation")
    client_location = (requested or {}).get("OutputLocation")
    enforced = configuration.get("EnforceWorkGroupConfiguration", True)
    return (workgroup_location if enforced or not client_location else client_location) or client_location


def start_query_execution(self: AthenaResponse) -> tuple[str, dict[str, int]] | str:
    sandbox = _state()
    query = self._get_param("QueryString") or ""
    context = self._get_param("QueryExecutionContext") or {}
    parameters = self._get_param("ExecutionParameters")
    workgroup_name = self._get_param("WorkGroup") or "primary"
    workgroup = self.athena_backend.work_groups.get(workgroup_name)
    if workgroup is None:
        return _error(f"WorkGroup {workgroup_name} is not found.")
    refused = check_request(query, parameters)
    if refused is not None:
        return _error(refused.message)
    catalog = context.get("Catalog") or DEFAULT_CATALOG
    database = context.get("Database") or "default"
    location = _output_location(workgroup.configuration, self._get_param("ResultConfiguration"))
    if not location:
        return _error(
            "No output location provided. An output location is required either through the Workgroup result"
            " configuration setting or as an API input."
        )
    query_id = str(uuid.uuid4())
    execution = Execution(
        query_id=query_id,
        query=query,
        parameters=parameters,
        context={"Catalog": catalog, "Database": database},
        workgroup=workgroup_name,
        output_location=location.rstrip("/") + f"/{query_id}.csv",
        statement=statement_type(statement_kind(query)),
        submitted=time.time(),
    )
    admitted = check_statement(
        query,
        parameters,
        _workgroup_settings(workgroup.configuration),
        catalog=catalog,
        catalog_exists=catalog == DEFAULT_CATALOG or catalog in self.athena_backend.data_catalogs,
        database=database,
        database_exists=database in glue_backends[self.current_account][self.region].databases,
    )
    started = time.monotonic()
    if admitted is not None:
        execution.state, execution.reason, execution.error_type = "FAILED", admitted.message, admitted.error_type
    else:
        with sandbox.lock:
            try:
                execution.outcome = execute(query, parameters or [], database, sandbox.load_table)
                if execution.outcome.columns:
                    _write_result(self, execution)
            except StatementFailed as err:
                execution.state, execution.reason, execution.error_type = "FAILED", str(err), err.error_type
    execution.engine_ms = int((time.monotonic() - started) * 1000)
    execution.completed = time.time()
    sandbox.executions[query_id] = execution
    return json.dumps({"QueryExecutionId": query_id})


def _write_result(response: AthenaResponse, execution: Execution) -> None:
    assert execution.output_location is not None
    bucket, _, key = execution.output_location[len("s3://") :].partition("/")
    s3_backends[response.current_account][response.partition].put_object(bucket, key, result_csv(execution.outcome))


def get_query_execution(self: AthenaResponse) -> tuple[str, dict[str, int]] | str:
    query_id = self._get_param("QueryExecutionId")
    execution = _state().executions.get(query_id)
    if execution is None:
        return _error(f"QUERY_NOT_FOUND: Query {query_id} was not found")
    status: dict[str, Any] = {
        "State": execution.state,
        "SubmissionDateTime": execution.submitted,
        "CompletionDateTime": execution.completed,
    }
    if execution.state == "FAILED":
        status["StateChangeReason"] = execution.reason
        status["AthenaError"] = {
            "ErrorCategory": USER_ERROR,
            "ErrorType": execution.error_type,
            "Retryable": False,
            "ErrorMessage": execution.reason,
        }
    result: dict[str, Any] = {
        "QueryExecutionId": query_id,
        "Query": execution.query,
        "StatementType": execution.statement,
        "ResultConfiguration": {"OutputLocation": execution.output_location},
        "QueryExecutionContext": execution.context,
        "Status": status,
        "Statistics": {
            "EngineExecutionTimeInMillis": execution.engine_ms,
            "DataScannedInBytes": execution.outcome.scanned_bytes,
            "TotalExecutionTimeInMillis": execution.engine_ms,
            "QueryQueueTimeInMillis": 0,
            "ServicePreProcessingTimeInMillis": 0,
            "QueryPlanningTimeInMillis": 0,
            "ServiceProcessingTimeInMillis": 0,
            "ResultReuseInformation": {"ReusedPreviousResult": False},
        },
        "WorkGroup": execution.workgroup,
        "EngineVersion": {
            "SelectedEngineVersion": "Athena engine version 3",
            "EffectiveEngineVersion": "Athena engine version 3",
        },
    }
    if execution.parameters is not None:
        result["ExecutionParameters"] = execution.parameters
    return json.dumps({"QueryExecution": result})


def get_query_results(self: AthenaResponse) -> tuple[str, dict[str, int]] | str:
    query_id = self._get_param("QueryExecutionId")
    execution = _state().executions.get(query_id)
    if execution is None:
        return _error(f"QUERY_NOT_FOUND: Query {query_id} was not found")
    if execution.state != "SUCCEEDED":
        return _error(f"Query did not finish successfully. Final query state: {execution.state}")
    max_results = int(self._get_param("MaxResults") or RESULT_PAGE_MAX)
    if not 1 <= max_results <= RESULT_PAGE_MAX:
        return _error(f"MaxResults is {max_results}; GetQueryResults returns 1 to {RESULT_PAGE_MAX} rows a call")
    start = 0
    token = self._get_param("NextToken")
    if token:
        try:
            token_query, offset = base64.urlsafe_b64decode(token.encode()).decode().rsplit(":", 1)
            start = int(offset)
        except (ValueError, UnicodeDecodeError):
            token_query = ""
        if token_query != query_id:
            return _error("NextToken is not a token of this query's results")
    page, following = result_page(execution.outcome, execution.statement, start, max_results)
    if following is not None:
        page["NextToken"] = base64.urlsafe_b64encode(f"{query_id}:{following}".encode()).decode()
    return json.dumps(page)


def stop_query_execution(self: AthenaResponse) -> str:
    return json.dumps({})  # every statement has finished by the time its id is known


def list_query_executions(self: AthenaResponse) -> str:
    workgroup = self._get_param("WorkGroup") or "primary"
    ids = [e.query_id for e in reversed(_state().executions.values()) if e.workgroup == workgroup]
    return json.dumps({"QueryExecutionIds": ids})


HANDLERS: dict[str, Callable[..., Any]] = {
    "start_query_execution": start_query_execution,
    "get_query_execution": get_query_execution,
    "get_query_results": get_query_results,
    "stop_query_execution": stop_query_execution,
    "list_query_executions": list_query_executions,
}
