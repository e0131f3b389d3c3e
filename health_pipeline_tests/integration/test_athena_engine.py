"""The Athena engine and the S3 export store: against moto over HTTP, and botocore's Stubber for the
states moto cannot produce (failures, throttling, requeueing, timeouts, interrupts)."""

import csv
import io
import random
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import boto3
import dagster as dg
import pytest
import sqlglot
from botocore.stub import ANY, Stubber
from sqlglot import exp

from health_pipeline.engines.aws.athena import (
    AthenaQueryEngine,
    AthenaQueryError,
    AthenaQueryTimeout,
    AthenaThrottled,
    athena_literal,
    estimate_cost_usd,
)
from health_pipeline.engines.aws.export_store import S3ExportStore
from health_pipeline.sql import Query, QueryRuleViolation, check_query_rules, load_sql
from health_pipeline.stack import QueryFailed
from health_pipeline.summary.csv_format import CSV_COLUMNS, summary_csv
from health_pipeline.summary.days import daily_summary_query, export_key
from health_pipeline_tests.support import preset_athena_results
from health_pipeline_tests.support.athena_simulation import SimulatedAthena, simulate
from health_pipeline_tests.support.aws_moto import (
    BUCKET,
    CATALOG,
    DATABASE,
    EXPORTS,
    OUTPUT,
    REGION,
    SUMMARY_ROWS,
    SUMMARY_TYPES,
    RecordedSleep,
    moto_engine,
)

DAY = date(2026, 11, 11)
TOKYO = ZoneInfo("Asia/Tokyo")
TEN_MB_USD = 10 / (1024 * 1024) * 5.0


def test_the_daily_summary_on_athena_sends_the_exact_request_and_returns_typed_rows(moto_aws):
    preset_athena_results(moto_aws["endpoint"], SUMMARY_ROWS, types=SUMMARY_TYPES)
    result = moto_engine(moto_aws).run(daily_summary_query(DAY, TOKYO, "health_records"))

    (request,) = moto_aws["sent"]
    assert set(request) == {
        "QueryString", "QueryExecutionContext", "WorkGroup", "ResultConfiguration", "ExecutionParameters",
        "ClientRequestToken",
    }  # fmt: skip
    assert request["QueryString"] == load_sql("daily_summary").replace("'{local_day}'", "'2026-11-11'")
    assert request["QueryExecutionContext"] == {"Catalog": CATALOG, "Database": DATABASE}
    assert request["WorkGroup"] == "primary"
    assert request["ResultConfiguration"] == {"OutputLocation": OUTPUT}
    # The Tokyo day 2026-11-11 is [2026-11-10 15:00, 2026-11-11 15:00) UTC; values only as parameters.
    assert request["ExecutionParameters"] == [
        "TIMESTAMP '2026-11-10 15:00:00.000000'",
        "TIMESTAMP '2026-11-11 15:00:00.000000'",
    ]
    check_query_rules(request["QueryString"])
    # Athena takes ? only in WHERE: no placeholder anywhere else, and the window only as parameters.
    placeholders = list(sqlglot.parse_one(request["QueryString"], read="athena").find_all(exp.Placeholder))
    assert len(placeholders) == 2 and all(p.find_ancestor(exp.Where) for p in placeholders)
    assert "2026-11-10" not in request["QueryString"]

    rows = result.rows
    assert rows.column_names == list(CSV_COLUMNS)
    assert [str(rows.schema.field(c).type) for c in ("date", "record_count", "fatigue_avg", "fatigue_min", "flags_any")] == [
        "string", "int64", "double", "int32", "int64",
    ]  # fmt: skip
    assert rows.to_pylist()[1] == {
        "date": "2026-11-11", "user_id": "利用者-さくら", "record_count": 3,
        "fatigue_avg": 8.333, "fatigue_min": 7, "fatigue_max": 10,
        "mood_avg": 4.667, "mood_min": 4, "mood_max": 5,
        "motivation_avg": 4.333, "motivation_min": 3, "motivation_max": 5, "flags_any": 7,
    }  # fmt: skip
    assert result.engine == "athena"
    assert result.result_location == f"{OUTPUT}{result.query_id}.csv"
    assert result.cost_usd == pytest.approx(TEN_MB_USD)  # moto scans 0 bytes: the 10 MB minimum
    assert result.extra["console_url"] == (
        f"https://{REGION}.console.aws.amazon.com/athena/home?region={REGION}#/query-editor/history/{result.query_id}"
    )
    assert {"engine_execution_ms", "queue_ms", "total_execution_ms"} <= set(result.metadata())


def test_the_csv_export_is_one_put_of_the_contract_csv_and_a_rerun_replaces_it(moto_aws):
    engine = moto_engine(moto_aws)
    store = S3ExportStore(moto_aws["s3"], EXPORTS)
    operations: list[str] = []
    moto_aws["s3"].meta.events.register("before-call.s3", lambda model, **_: operations.append(model.name))

    preset_athena_results(moto_aws["endpoint"], SUMMARY_ROWS, types=SUMMARY_TYPES)
    rows = engine.run(daily_summary_query(DAY, TOKYO, "health_records")).rows
    operations.clear()
    exported = store.export_summary(export_key(DAY), rows)

    assert exported.location == f"{EXPORTS}daily_summary/date=2026-11-11/daily_summary.csv"
    assert operations == ["PutObject"]
    data = store.read(export_key(DAY))
    assert data == summary_csv(rows) and exported.size_bytes == len(data)  # the same bytes as local mode
    assert list(csv.reader(io.StringIO(data.decode("utf-8")))) == SUMMARY_ROWS
    head = moto_aws["s3"].head_object(Bucket=BUCKET, Key="exports/daily_summary/date=2026-11-11/daily_summary.csv")
    assert head["ContentType"] == "text/csv; charset=utf-8"

    rerun = [SUMMARY_ROWS[0], SUMMARY_ROWS[2]]
    preset_athena_results(moto_aws["endpoint"], rerun, types=SUMMARY_TYPES)
    store.export_summary(export_key(DAY), engine.run(daily_summary_query(DAY, TOKYO, "health_records")).rows)
    assert list(csv.reader(io.StringIO(store.read(export_key(DAY)).decode("utf-8")))) == rerun
    with pytest.raises(FileNotFoundError, match="no object at"):
        store.read("daily_summary/date=1999-01-01/daily_summary.csv")


def test_the_export_store_writes_under_the_export_uri(moto_aws):
    store = S3ExportStore(moto_aws["s3"], f"s3://{BUCKET}/exports")  # a missing trailing slash is fine
    assert store.write("daily_summary/date=2026-11-12/daily_summary.csv", b"date\n") == (
        f"{EXPORTS}daily_summary/date=2026-11-12/daily_summary.csv"
    )
    assert store.read("daily_summary/date=2026-11-12/daily_summary.csv") == b"date\n"
    with pytest.raises(ValueError, match="not an s3:// URI"):
        S3ExportStore(moto_aws["s3"], "/tmp/exports/")


def test_a_user_id_with_quotes_stays_data(moto_aws):
    hostile = "x' OR '1'='1"
    query = Query(
        name="one_user",
        text="SELECT user_id, recorded_at, fatigue FROM health_records WHERE user_id = ? AND recorded_at >= ?",
        parameters=(hostile, datetime(2026, 10, 12)),
        window=(datetime(2026, 10, 12), datetime(2026, 11, 12)),
    )
    moto_engine(moto_aws).run(query)
    (request,) = moto_aws["sent"]
    assert request["ExecutionParameters"] == ["'x'' OR ''1''=''1'", "TIMESTAMP '2026-10-12 00:00:00.000000'"]

    # Athena substitutes each parameter as a literal: the result is one string comparison, no OR.
    substituted = request["QueryString"]
    for literal in request["ExecutionParameters"]:
        substituted = substituted.replace("?", literal, 1)
    where = sqlglot.parse_one(substituted, read="athena").find(exp.Where)
    assert not list(where.find_all(exp.Or))
    (equality,) = list(where.find_all(exp.EQ))
    assert equality.this.name == "user_id"
    assert isinstance(equality.expression, exp.Literal) and equality.expression.this == hostile


@pytest.mark.parametrize(
    "value, problem",
    [
        (1.5, "float"),
        (True, "bool"),
        (None, "NoneType"),
        (date(2026, 11, 11), "date"),
        (datetime(2026, 11, 11, tzinfo=UTC), "has a zone"),
    ],
)
def test_parameters_that_are_not_datetime_str_or_int_are_refused(value, problem):
    with pytest.raises(TypeError, match=problem):
        athena_literal(value)


def test_execute_ddl_runs_in_the_catalog_and_database_without_parameters_and_is_free(moto_aws):
    execution = moto_engine(moto_aws).execute_ddl("ALTER TABLE health_records ADD COLUMNS (sleep_hours int)")
    (request,) = moto_aws["sent"]
    assert request["QueryString"] == "ALTER TABLE health_records ADD COLUMNS (sleep_hours int)"
    assert request["QueryExecutionContext"] == {"Catalog": CATALOG, "Database": DATABASE}
    assert "ExecutionParameters" not in request
    assert execution.state == "SUCCEEDED" and execution.statement_type == "DDL"
    assert execution.cost_usd == 0.0
    assert execution.metadata()["console_url"].endswith(execution.query_id)


# -- botocore Stubber: what moto cannot do ---------------------------------------------------------
QID = "4f1d2c3b-0000-4000-8000-000000000001"
SIMPLE = Query(
    name="users_today",
    text="SELECT user_id FROM health_records WHERE recorded_at >= ? AND recorded_at < ?",
    parameters=(datetime(2026, 11, 10, 15), datetime(2026, 11, 11, 15)),
)


@pytest.fixture
def stubbed():
    client = boto3.Session(aws_access_key_id="stub", aws_secret_access_key="stub", region_name=REGION).client(
        "athena", endpoint_url="https://athena.stub.invalid"
    )
    operations: list[str] = []
    client.meta.events.register("provide-client-params.athena", lambda model, **_: operations.append(model.name))
    with Stubber(client) as stub:
        yield client, stub, operations
        stub.assert_no_pending_responses()


def stub_engine(client, sleep: RecordedSleep | None = None, **settings) -> AthenaQueryEngine:
    sleep = sleep or RecordedSleep()
    return AthenaQueryEngine(
        catalog="AwsDataCatalog",
        database=DATABASE,
        workgroup="primary",
        output_location=OUTPUT,
        client=client,
        sleep=sleep,
        clock=sleep.clock,
        rng=random.Random(7),
        **settings,
    )


def execution(state: str, **status) -> dict:
    return {
        "QueryExecution": {
            "QueryExecutionId": QID,
            "StatementType": "DML",
            "ResultConfiguration": {"OutputLocation": f"{OUTPUT}{QID}.csv"},
            "Status": {"State": state, **status},
            "Statistics": {
                "DataScannedInBytes": 52_428_800,
                "EngineExecutionTimeInMillis": 1800,
                "QueryQueueTimeInMillis": 250,
                "TotalExecutionTimeInMillis": 2100,
            },
        }
    }


def results(rows: list[list[str | None]], types: list[str], next_token: str | None = None, header: bool = True) -> dict:
    names = ["user_id", "n", "avg", "ok", "day", "at", "amount", "tags"][: len(types)]
    body_rows = ([names] if header else []) + rows
    page = {
        "ResultSet": {
            "Rows": [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in body_rows],
            "ResultSetMetadata": {
                "ColumnInfo": [
                    {
                        "Name": n,
                        "Label": n,
                        "Type": t,
                        "Precision": 10 if t == "decimal" else 0,
                        "Scale": 2 if t == "decimal" else 0,
                    }
                    for n, t in zip(names, types)
                ]
            },
        }
    }
    if next_token:
        page["NextToken"] = next_token
    return page


def add_start(stub, **expected) -> None:
    stub.add_response("start_query_execution", {"QueryExecutionId": QID}, expected or None)


def add_stop(stub) -> None:
    stub.add_response("stop_query_execution", {}, {"QueryExecutionId": QID})


def test_a_failed_query_raises_with_its_reason_athena_error_and_link(stubbed):
    client, stub, operations = stubbed
    add_start(stub)
    stub.add_response("get_query_execution", execution("RUNNING"))
    stub.add_response(
        "get_query_execution",
        execution(
            "FAILED",
            StateChangeReason="COLUMN_NOT_FOUND: line 1:8: Column 'sleep_hours' cannot be resolved",
            AthenaError={"ErrorCategory": 2, "ErrorType": 1006, "Retryable": False, "ErrorMessage": "column"},
        ),
    )
    with pytest.raises(AthenaQueryError) as caught:
        stub_engine(client).run(SIMPLE)
    error = caught.value
    assert isinstance(error, QueryFailed)
    message = str(error)
    assert "Column 'sleep_hours' cannot be resolved" in message
    assert "category 2 (USER)" in message and "type 1006" in message and "retryable False" in message
    assert QID in message and f"#/query-editor/history/{QID}" in message
    assert error.retryable is False and error.state == "FAILED" and error.query_id == QID
    assert "StopQueryExecution" not in operations  # it ended by itself


def test_a_retryable_failure_says_so(stubbed):
    client, stub, _ = stubbed
    add_start(stub)
    stub.add_response(
        "get_query_execution",
        execution(
            "FAILED",
            StateChangeReason="GENERIC_INTERNAL_ERROR: Query exhausted resources at this scale factor",
            AthenaError={"ErrorCategory": 1, "ErrorType": 401, "Retryable": True},
        ),
    )
    with pytest.raises(AthenaQueryError, match=r"category 1 \(SYSTEM\).*retryable True") as caught:
        stub_engine(client).run(SIMPLE)
    assert caught.value.retryable is True


def test_a_cancelled_query_raises_with_its_reason(stubbed):
    client, stub, _ = stubbed
    add_start(stub)
    stub.add_response("get_query_execution", execution("CANCELLED", StateChangeReason="Query cancelled by user"))
    with pytest.raises(AthenaQueryError, match="CANCELLED: Query cancelled by user") as caught:
        stub_engine(client).run(SIMPLE)
    assert caught.value.state == "CANCELLED" and caught.value.retryable is False


def test_throttled_calls_are_retried_with_backoff_and_the_same_request_token(stubbed):
    client, stub, operations = stubbed
    stub.add_client_error("start_query_execution", "TooManyRequestsException", "Rate exceeded", 400)
    add_start(stub)
    stub.add_client_error("get_query_execution", "ThrottlingException", "Rate exceeded", 400)
    stub.add_response("get_query_execution", execution("SUCCEEDED"))
    stub.add_client_error("get_query_results", "TooManyRequestsException", "Rate exceeded", 400)
    stub.add_response("get_query_results", results([["u1"]], ["varchar"]))
    tokens = []
    client.meta.events.register(
        "provide-client-params.athena.StartQueryExecution",
        lambda params, **_: tokens.append(params["ClientRequestToken"]),
    )
    sleep = RecordedSleep()
    result = stub_engine(client, sleep).run(SIMPLE)

    assert result.rows.to_pylist() == [{"user_id": "u1"}]
    assert len(tokens) == 2 and tokens[0] == tokens[1]  # a retried start cannot start a second query
    throttle_sleeps = [sleep.seconds[0], sleep.seconds[2], sleep.seconds[3]]
    assert all(0.5 <= s <= 1.0 for s in throttle_sleeps)  # first retry: half to all of 1 s
    assert operations.count("StartQueryExecution") == 2 and "StopQueryExecution" not in operations


def test_throttling_that_never_ends_gives_up_stops_the_query_and_is_retryable(stubbed):
    client, stub, _ = stubbed
    add_start(stub)
    for _ in range(3):
        stub.add_client_error("get_query_execution", "ThrottlingException", "Rate exceeded", 400)
    add_stop(stub)
    sleep = RecordedSleep()
    with pytest.raises(AthenaThrottled, match="throttled get_query_execution .* 3 times") as caught:
        stub_engine(client, sleep, throttle_attempts=3).run(SIMPLE)
    assert caught.value.retryable is True
    # after the first poll interval, two backoffs: half to all of 1 s, then of 2 s
    assert 0.5 <= sleep.seconds[1] <= 1.0 and 1.0 <= sleep.seconds[2] <= 2.0


def test_running_then_queued_again_then_succeeded_is_normal(stubbed):
    client, stub, operations = stubbed
    add_start(stub)
    for state in ("RUNNING", "QUEUED", "SUCCEEDED"):
        stub.add_response("get_query_execution", execution(state))
    stub.add_response("get_query_results", results([["u1"], ["u2"]], ["varchar"]))
    sleep = RecordedSleep()
    result = stub_engine(client, sleep).run(SIMPLE)
    assert result.rows.column("user_id").to_pylist() == ["u1", "u2"]
    assert result.extra["polls"] == 3
    assert 0.18 <= sleep.seconds[0] <= 0.2 and 0.36 <= sleep.seconds[1] <= 0.4 and 0.72 <= sleep.seconds[2] <= 0.8
    assert result.bytes_scanned == 52_428_800
    assert result.cost_usd == pytest.approx(50 / (1024 * 1024) * 5.0)
    assert (result.extra["engine_execution_ms"], result.extra["queue_ms"], result.extra["total_execution_ms"]) == (
        1800,
        250,
        2100,
    )
    assert "StopQueryExecution" not in operations


def test_a_timeout_stops_the_query(stubbed):
    client, stub, operations = stubbed
    add_start(stub)
    for _ in range(4):  # 0.2 + 0.4 + 0.8 + the 0.6 s left of the 2 s budget
        stub.add_response("get_query_execution", execution("RUNNING"))
    add_stop(stub)
    sleep = RecordedSleep()
    with pytest.raises(
        AthenaQueryTimeout, match=r"did not finish within 2 s .*stopped with StopQueryExecution"
    ) as caught:
        stub_engine(client, sleep, timeout_s=2.0).run(SIMPLE)
    assert sum(sleep.seconds) == pytest.approx(2.0)
    assert operations[-1] == "StopQueryExecution" and caught.value.query_id == QID


@pytest.mark.parametrize(
    "interrupt",
    [KeyboardInterrupt(), dg.DagsterExecutionInterruptedError()],
    ids=["ctrl-c", "dagster-run-termination"],
)
def test_an_interrupt_while_waiting_stops_the_query_and_propagates(stubbed, interrupt):
    client, stub, operations = stubbed
    add_start(stub)
    stub.add_response("get_query_execution", execution("RUNNING"))
    add_stop(stub)
    sleep = RecordedSleep(raise_on_call=2, exception=interrupt)
    with pytest.raises(type(interrupt)):
        stub_engine(client, sleep).run(SIMPLE)
    assert operations == ["StartQueryExecution", "GetQueryExecution", "StopQueryExecution"]


def test_an_error_while_waiting_stops_the_query(stubbed):
    client, stub, operations = stubbed
    add_start(stub)
    stub.add_client_error("get_query_execution", "InternalServerException", "We encountered an internal error", 500)
    add_stop(stub)
    with pytest.raises(AthenaQueryError, match="InternalServerException.*A retry may succeed") as caught:
        stub_engine(client).run(SIMPLE)
    assert caught.value.retryable is True
    assert operations[-1] == "StopQueryExecution"


def test_a_refused_start_explains_where(stubbed):
    client, stub, operations = stubbed
    stub.add_client_error("start_query_execution", "InvalidRequestException", "WorkGroup is not found", 400)
    with pytest.raises(
        AthenaQueryError, match="refused StartQueryExecution .*workgroup primary.*WorkGroup is not found"
    ):
        stub_engine(client).run(SIMPLE)
    assert operations == ["StartQueryExecution"]


def test_the_request_carries_context_workgroup_location_and_parameters(stubbed):
    client, stub, _ = stubbed
    add_start(
        stub,
        QueryString=SIMPLE.text,
        QueryExecutionContext={"Catalog": "AwsDataCatalog", "Database": DATABASE},
        WorkGroup="primary",
        ResultConfiguration={"OutputLocation": OUTPUT},
        ExecutionParameters=["TIMESTAMP '2026-11-10 15:00:00.000000'", "TIMESTAMP '2026-11-11 15:00:00.000000'"],
        ClientRequestToken=ANY,
    )
    stub.add_response("get_query_execution", execution("SUCCEEDED"))
    stub.add_response("get_query_results", results([], ["varchar"]))
    result = stub_engine(client).run(SIMPLE)
    assert result.rows.num_rows == 0 and result.rows.column_names == ["user_id"]


def test_rows_are_paged_and_typed_with_nulls(stubbed):
    client, stub, _ = stubbed
    types = ["varchar", "bigint", "double", "boolean", "date", "timestamp", "decimal", "array"]
    add_start(stub)
    stub.add_response("get_query_execution", execution("SUCCEEDED"))
    stub.add_response(
        "get_query_results",
        results(
            [["u1", "9007199254740993", "4.333", "true", "2026-11-11", "2026-11-11 03:00:00.000", "12.50", "[a, b]"]],
            types,
            "page-2",
        ),
        {"QueryExecutionId": QID, "MaxResults": 1000},
    )
    stub.add_response(
        "get_query_results",
        results([["", None, "NaN", "false", None, "2026-11-11 23:59:59.999999", None, None]], types, header=False),
        {"QueryExecutionId": QID, "MaxResults": 1000, "NextToken": "page-2"},
    )
    rows = stub_engine(client).run(SIMPLE).rows
    assert [str(t) for t in rows.schema.types] == [
        "string", "int64", "double", "bool", "date32[day]", "timestamp[us]", "decimal128(10, 2)", "string",
    ]  # fmt: skip
    first, second = rows.to_pylist()
    assert (
        first["n"] == 9007199254740993 and first["at"] == datetime(2026, 11, 11, 3) and str(first["amount"]) == "12.50"
    )
    assert second["user_id"] == "" and second["n"] is None and second["day"] is None  # empty string is not null
    assert second["at"] == datetime(2026, 11, 11, 23, 59, 59, 999999) and second["ok"] is False


def test_a_rule_breaking_query_or_a_parameter_mismatch_never_reaches_athena(stubbed):
    client, _, operations = stubbed
    engine = stub_engine(client)
    with pytest.raises(QueryRuleViolation):
        engine.run(
            Query(
                name="everything",
                text="SELECT * FROM health_records WHERE recorded_at >= ?",
                parameters=(datetime(2026, 1, 1),),
            )
        )
    with pytest.raises(QueryRuleViolation, match="recorded_at"):
        engine.run(
            Query(name="no_range", text="SELECT user_id FROM health_records WHERE user_id = ?", parameters=("u1",))
        )
    with pytest.raises(QueryFailed, match="2 \\? placeholder\\(s\\) but 1 parameter"):
        engine.run(Query(name="short", text=SIMPLE.text, parameters=SIMPLE.parameters[:1]))
    assert operations == []


def test_a_statement_athena_refuses_is_never_sent(stubbed):
    """Athena's documented rules (sql/athena_rules.py), checked by the engine before StartQueryExecution:
    each refusal is a QueryFailed naming the rule and the query, and no API call is made."""
    client, _, operations = stubbed
    engine = stub_engine(client)
    window = (datetime(2026, 11, 10, 15), datetime(2026, 11, 11, 15))
    select_list = Query(
        name="future_rows",
        text="SELECT SUM(CASE WHEN recorded_at > ? THEN 1 ELSE 0 END) AS n FROM health_records"
        " WHERE recorded_at >= ? AND recorded_at < ?",
        parameters=(window[1], *window),
        window=window,
    )
    with pytest.raises(QueryFailed, match=r"not sent to Athena: query future_rows has a \? outside a WHERE clause"):
        engine.run(select_list)
    delete = Query(name="careless_delete", text="DELETE FROM health_records WHERE recorded_at >= ? AND recorded_at < ?",
                   parameters=window, window=window)  # fmt: skip
    with pytest.raises(QueryFailed, match=r"careless_delete \(DELETE\) has 2 \? and 2 ExecutionParameters"):
        engine.execute_dml(delete)
    with pytest.raises(QueryFailed, match="OPTIMIZE, which Athena does not run on S3 Tables"):
        engine.execute_ddl("OPTIMIZE health_records REWRITE DATA USING BIN_PACK")
    long_id = Query(name="long_id", text="SELECT user_id FROM health_records WHERE user_id = ? AND recorded_at >= ?",
                    parameters=("x" * 1023, window[0]), window=window)  # fmt: skip
    with pytest.raises(QueryFailed, match="entry 1 has length 1025"):
        engine.run(long_id)
    assert operations == []


# -- polling and cost ------------------------------------------------------------------------------
def test_polling_starts_quick_and_backs_off_to_a_bounded_interval_with_jitter():
    athena = SimulatedAthena(300.0)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        athena.sleep(seconds)

    engine = AthenaQueryEngine(
        catalog="AwsDataCatalog", database=DATABASE, workgroup="primary", output_location=OUTPUT,
        client=athena, sleep=sleep, clock=athena.clock, rng=random.Random(1),
    )  # fmt: skip
    engine.run(SIMPLE)
    assert 0.18 <= sleeps[0] <= 0.2
    ramp = [s for s in sleeps if s < 9.9]
    assert ramp == sleeps[: len(ramp)]  # the interval only grows
    assert all(1.6 <= after / before <= 2.3 for before, after in zip(ramp, ramp[1:]))  # doubling, jitter <= 10%
    assert all(9.9 <= s <= 11.0 for s in sleeps[len(ramp) :])
    assert len(set(sleeps[len(ramp) :])) > 1  # jittered: concurrent queries do not poll in lockstep
    # A 300 s query costs about 30 polls, not 60 (a fixed 5 s) or 1500 (a fixed 0.2 s).
    assert athena.calls["GetQueryExecution"] == len(sleeps) <= 35


def test_a_quick_query_is_seen_quickly():
    run = simulate(0.5, seed=3)
    assert run.detected_at - run.finished_at < 0.5
    assert run.calls["GetQueryExecution"] <= 3 and run.calls["StopQueryExecution"] == 0


def test_the_cost_estimate_follows_athena_pricing():
    assert estimate_cost_usd(0) == pytest.approx(TEN_MB_USD)  # the 10 MB minimum
    assert estimate_cost_usd(10 * 1024 * 1024 + 1) == pytest.approx(11 / (1024 * 1024) * 5.0)  # rounded up to the MB
    assert estimate_cost_usd(1024**4) == pytest.approx(5.0)
    assert estimate_cost_usd(50 * 1024**4, "DDL") == 0.0
