"""The sandbox's Athena (`make sandbox`, sandbox/): Athena's documented rules refused on every
StartQueryExecution, and statements executed on the Iceberg table's real data, over HTTP."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime

import pandas as pd
import pyarrow as pa
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from health_pipeline_tests.support.sandbox_records import round_half_up, sandbox_records
from sandbox.client import SandboxProcess, athena_run, iceberg_catalog

DATABASE = "health_logger_prod_health_logs"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> SandboxProcess:
    with SandboxProcess.started(tmp_path_factory.mktemp("sandbox_home")) as running:
        yield running


@pytest.fixture(scope="module")
def athena(sandbox):
    return sandbox.client("athena", config=Config(parameter_validation=False))


@pytest.fixture(scope="module")
def records(sandbox) -> pa.Table:
    """Three days of records appended to the sandbox's health_records (its table as Terraform lays it out)."""
    table = iceberg_catalog(sandbox).load_table((DATABASE, "health_records"))
    rows = sandbox_records(seed=5, count=3000)
    table.append(rows)
    return rows


def probe_table(sandbox, rows: pa.Table):
    """A table of its own (same columns) in the sandbox's catalog, so a DELETE or DDL touches nothing else."""
    catalog = iceberg_catalog(sandbox)
    main = catalog.load_table((DATABASE, "health_records"))
    name = f"probe_{uuid.uuid4().hex[:8]}"
    table = catalog.create_table(
        (DATABASE, name), schema=main.schema(), partition_spec=main.spec(),
        location=f"s3://health-logger-prod-tables/{DATABASE}/{name}",
    )  # fmt: skip
    table.append(rows)
    return name, table


# -- the rules --------------------------------------------------------------------------------------
WINDOW = ["TIMESTAMP '2026-11-02 00:00:00.000000'", "TIMESTAMP '2026-11-03 00:00:00.000000'"]
REFUSED_AS_FAILED = [
    pytest.param(
        "SELECT CASE WHEN recorded_at > ? THEN 1 ELSE 0 END AS late FROM health_records WHERE recorded_at < ?",
        WINDOW, "only in the WHERE clause", id="placeholder-in-select-list",
    ),
    pytest.param(
        "DELETE FROM health_records WHERE recorded_at >= ? AND recorded_at < ?",
        WINDOW, "SELECT, INSERT INTO, CTAS and UNLOAD only", id="parameters-with-delete",
    ),
    pytest.param("ALTER TABLE health_records RENAME TO other_records", None, "ALTER TABLE RENAME", id="rename"),
    pytest.param("CREATE VIEW recent AS SELECT user_id FROM health_records", None, "CREATE VIEW", id="create-view"),
    pytest.param(
        f"ALTER DATABASE {DATABASE} SET DBPROPERTIES ('owner'='x')", None, "ALTER DATABASE", id="alter-database"
    ),
    pytest.param("OPTIMIZE health_records REWRITE DATA USING BIN_PACK", None, "OPTIMIZE", id="optimize"),
    pytest.param("VACUUM health_records", None, "VACUUM", id="vacuum"),
    pytest.param(
        "SELECT user_id FROM health_records WHERE recorded_at >= ? AND recorded_at < ?",
        WINDOW[:1], "expected 2 but found 1", id="parameter-count",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("sql", "parameters", "reason"), REFUSED_AS_FAILED)
def test_a_statement_athena_refuses_ends_failed_with_its_reason(athena, sql, parameters, reason):
    execution = athena_run(athena, sql, parameters)
    status = execution["Status"]
    assert status["State"] == "FAILED", status
    assert reason in status["StateChangeReason"]
    assert status["AthenaError"]["ErrorCategory"] == 2 and status["AthenaError"]["Retryable"] is False
    assert execution["Statistics"]["DataScannedInBytes"] == 0


@pytest.mark.parametrize(
    ("sql", "parameters", "reason"),
    [
        pytest.param("SELECT 1 FROM health_records WHERE user_id = ?", [""], "1 to 1,024 characters", id="empty"),
        pytest.param(
            "SELECT 1 FROM health_records WHERE user_id = ?", ["'" + "u" * 1023 + "'"], "1 to 1,024", id="1025-chars"
        ),
        pytest.param("SELECT 1 -- " + "x" * 262_144, None, "1 to 262,144 bytes", id="query-too-long"),
    ],
)
def test_a_request_outside_the_api_limits_is_an_invalid_request(athena, sql, parameters, reason):
    with pytest.raises(ClientError) as raised:
        athena_run(athena, sql, parameters)
    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"
    assert reason in raised.value.response["Error"]["Message"]


def test_the_limits_themselves_are_accepted(athena, records):
    parameter = "'" + "u" * 1022 + "'"  # 1,024 characters
    execution = athena_run(athena, "SELECT count(*) AS n FROM health_records WHERE user_id = ?", [parameter])
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]


@pytest.mark.parametrize(
    ("configuration", "reason"),
    [
        ({"EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": "alias/x"}}, "SSE_KMS"),
        ({"EncryptionConfiguration": {"EncryptionOption": "CSE_KMS", "KmsKey": "alias/x"}}, "CSE_KMS"),
        (None, "Requester Pays"),
    ],
)
def test_dml_in_a_kms_or_requester_pays_workgroup_fails_and_a_select_there_runs(sandbox, athena, records,
                                                                                 configuration, reason):  # fmt: skip
    name = f"wg-{uuid.uuid4().hex[:8]}"
    result = {"OutputLocation": "s3://health-logger-prod/athena-results/", **(configuration or {})}
    athena.create_work_group(
        Name=name,
        Configuration={"ResultConfiguration": result, "RequesterPaysEnabled": configuration is None},
    )
    delete = athena_run(athena, "DELETE FROM health_records WHERE user_id = 'nobody'", None, workgroup=name)
    assert delete["Status"]["State"] == "FAILED" and reason in delete["Status"]["StateChangeReason"]
    select = athena_run(athena, "SELECT count(*) FROM health_records WHERE user_id = 'nobody'", None, workgroup=name)
    assert select["Status"]["State"] == "SUCCEEDED", select["Status"]


def test_the_execution_context_must_name_an_existing_catalog_and_database(athena):
    sql = "SELECT 1 AS one"
    missing_db = athena_run(athena, sql, None, database="no_such_database")
    assert missing_db["Status"]["State"] == "FAILED"
    assert "SCHEMA_NOT_FOUND" in missing_db["Status"]["StateChangeReason"]
    missing_catalog = athena_run(athena, sql, None, catalog="s3tablescatalog/no-such-bucket")
    assert missing_catalog["Status"]["State"] == "FAILED"
    assert "CATALOG_NOT_FOUND" in missing_catalog["Status"]["StateChangeReason"]
    assert athena_run(athena, sql, None)["Status"]["State"] == "SUCCEEDED"


# -- SELECT on the real data -------------------------------------------------------------------------
def test_a_select_answers_from_the_table_as_pandas_computes_it(sandbox, athena, records):
    sql = (
        "SELECT user_id, COUNT(*) AS n, ROUND(AVG(mood), 3) AS mood_avg, MAX(fatigue) AS fatigue_max,"
        " MIN(recorded_at) AS first_seen"
        " FROM health_records WHERE recorded_at >= ? AND recorded_at < ? GROUP BY user_id ORDER BY user_id"
    )
    execution = athena_run(athena, sql, WINDOW)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    assert execution["StatementType"] == "DML"

    frame = records.to_pandas()
    day = frame[(frame.recorded_at >= datetime(2026, 11, 2)) & (frame.recorded_at < datetime(2026, 11, 3))]
    expected = (
        day.groupby("user_id")
        .agg(n=("mood", "size"), mood_avg=("mood", "mean"), fatigue_max=("fatigue", "max"),
             first_seen=("recorded_at", "min"))
        .reset_index()
        .sort_values("user_id")
    )  # fmt: skip
    # The result object, in Athena's CSV format: a header, every value quoted.
    location = execution["ResultConfiguration"]["OutputLocation"]
    bucket, _, key = location[len("s3://") :].partition("/")
    assert location.startswith("s3://health-logger-prod/athena-results/") and key.endswith(".csv")
    text = sandbox.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    lines = text.splitlines()
    assert lines[0] == '"user_id","n","mood_avg","fatigue_max","first_seen"'
    assert all(cell.startswith('"') and cell.endswith('"') for cell in lines[1].split(","))
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert [r[0] for r in rows] == list(expected.user_id)
    assert [int(r[1]) for r in rows] == list(expected.n)
    assert [float(r[2]) for r in rows] == [round_half_up(v) for v in expected.mood_avg]
    assert [int(r[3]) for r in rows] == list(expected.fatigue_max)
    assert [pd.Timestamp(r[4]) for r in rows] == list(expected.first_seen)

    # GetQueryResults: the header first, the column types, the same rows.
    page = athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    types = [(c["Name"], c["Type"]) for c in page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
    assert types == [("user_id", "varchar"), ("n", "bigint"), ("mood_avg", "double"),
                     ("fatigue_max", "integer"), ("first_seen", "timestamp")]  # fmt: skip
    cells = [[d.get("VarCharValue") for d in row["Data"]] for row in page["ResultSet"]["Rows"]]
    assert cells[0] == ["user_id", "n", "mood_avg", "fatigue_max", "first_seen"] and cells[1:] == rows


def test_results_page_by_at_most_1000_rows_with_the_header_on_the_first_page_only(athena, records):
    execution = athena_run(
        athena, "SELECT user_id, recorded_at FROM health_records WHERE recorded_at >= ? ORDER BY recorded_at, user_id",
        ["TIMESTAMP '2026-11-01 00:00:00'"],
    )  # fmt: skip
    query_id = execution["QueryExecutionId"]
    pages, token = [], None
    while True:
        page = athena.get_query_results(
            QueryExecutionId=query_id, MaxResults=1000, **({"NextToken": token} if token else {})
        )
        pages.append(page["ResultSet"]["Rows"])
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [1000, 1000, 1000, 1]  # 3,000 rows and the header
    assert pages[0][0]["Data"][0]["VarCharValue"] == "user_id"
    assert all(row["Data"][0]["VarCharValue"] != "user_id" for page in pages[1:] for row in page)
    with pytest.raises(ClientError, match="1 to 1000 rows"):
        athena.get_query_results(QueryExecutionId=query_id, MaxResults=1001)


def test_data_scanned_is_the_bytes_of_the_files_read_and_a_day_reads_fewer_than_the_table(sandbox, athena, records):
    table = iceberg_catalog(sandbox).load_table((DATABASE, "health_records"))
    everything = sum(task.file.file_size_in_bytes for task in table.scan().plan_files())
    one_day = athena_run(
        athena, "SELECT count(*) FROM health_records WHERE recorded_at >= ? AND recorded_at < ?", WINDOW
    )
    all_days = athena_run(athena, "SELECT count(*) FROM health_records WHERE flags >= 0")
    day_bytes = one_day["Statistics"]["DataScannedInBytes"]
    assert 0 < day_bytes < everything
    assert all_days["Statistics"]["DataScannedInBytes"] == everything


# -- DELETE and DDL ----------------------------------------------------------------------------------
def test_delete_removes_the_rows_from_the_iceberg_table(sandbox, athena, records):
    name, table = probe_table(sandbox, records)
    victim = records["user_id"][0].as_py()
    before = records.to_pandas()
    execution = athena_run(
        athena, f"DELETE FROM {name} WHERE user_id = '{victim}' AND recorded_at < TIMESTAMP '2026-11-03 00:00:00'"
    )
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    assert execution["Statistics"]["DataScannedInBytes"] > 0

    after = iceberg_catalog(sandbox).load_table((DATABASE, name)).scan().to_arrow().to_pandas()
    gone = (before.user_id == victim) & (before.recorded_at < datetime(2026, 11, 3))
    assert gone.sum() > 0
    assert len(after) == len(before) - gone.sum()
    assert not ((after.user_id == victim) & (after.recorded_at < datetime(2026, 11, 3))).any()
    assert ((after.user_id == victim) & (after.recorded_at >= datetime(2026, 11, 3))).sum() == (
        (before.user_id == victim) & (before.recorded_at >= datetime(2026, 11, 3))
    ).sum()
    assert sorted(map(tuple, after.drop(columns=[]).values.tolist())) == sorted(
        map(tuple, before[~gone].values.tolist())
    )


def test_add_columns_evolves_the_schema_and_a_select_reads_the_new_column(sandbox, athena, records):
    name, table = probe_table(sandbox, records)
    ddl = athena_run(athena, f"ALTER TABLE {name} ADD COLUMNS (sleep_hours double, note string)")
    assert ddl["Status"]["State"] == "SUCCEEDED" and ddl["StatementType"] == "DDL", ddl["Status"]
    live = iceberg_catalog(sandbox).load_table((DATABASE, name))
    assert [f.name for f in live.schema().fields][-2:] == ["sleep_hours", "note"]
    glue = sandbox.client("glue").get_table(DatabaseName=DATABASE, Name=name)["Table"]
    assert [c["Name"] for c in glue["StorageDescriptor"]["Columns"]][-2:] == ["sleep_hours", "note"]

    live.append(
        pa.Table.from_pylist(
            [{"user_id": "late-user", "recorded_at": datetime(2026, 11, 4, 1), "fatigue": 1, "mood": 2,
              "motivation": 3, "flags": 0, "sleep_hours": 7.5, "note": "slept well"}],
            schema=live.schema().as_arrow(),
        )
    )  # fmt: skip
    execution = athena_run(
        athena, f"SELECT user_id, sleep_hours, note FROM {name} WHERE recorded_at >= ? ORDER BY sleep_hours NULLS LAST LIMIT 2",
        ["TIMESTAMP '2026-11-03 00:00:00'"],
    )  # fmt: skip
    page = athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    cells = [[d.get("VarCharValue") for d in row["Data"]] for row in page["ResultSet"]["Rows"]]
    assert cells[:2] == [["user_id", "sleep_hours", "note"], ["late-user", "7.5", "slept well"]]
    assert cells[2][1:] == [None, None]  # the old rows read the new columns as null
    again = athena_run(athena, f"ALTER TABLE {name} ADD COLUMNS (note string)")
    assert again["Status"]["State"] == "FAILED" and "already exists" in again["Status"]["StateChangeReason"]


def test_an_outer_joins_where_is_applied_after_the_join(athena, records):
    """An anti-join (LEFT JOIN ... WHERE right.x IS NULL): each user's latest record, as pandas finds it.
    The scan of the right side must not be narrowed by the WHERE that tests it for null."""
    execution = athena_run(
        athena,
        "SELECT count(*) AS latest FROM health_records a LEFT JOIN health_records b"
        " ON a.user_id = b.user_id AND b.recorded_at > a.recorded_at"
        " WHERE b.user_id IS NULL AND a.recorded_at >= ?",
        ["TIMESTAMP '2026-11-01 00:00:00'"],
    )
    page = athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    frame = records.to_pandas()
    latest = frame[frame.recorded_at == frame.groupby("user_id").recorded_at.transform("max")]
    assert page["ResultSet"]["Rows"][1]["Data"][0]["VarCharValue"] == str(len(latest))


def test_arithmetic_and_types_follow_trino(athena):
    execution = athena_run(
        athena, "SELECT 7 / 2 AS whole, -7 / 2 AS toward_zero, 7.0 / 2 AS exact, SUM(x) AS total, AVG(x) AS mean"
        " FROM (VALUES 1, 2) AS t (x)",
    )  # fmt: skip
    page = athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    values = [d.get("VarCharValue") for d in page["ResultSet"]["Rows"][1]["Data"]]
    types = [c["Type"] for c in page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
    assert values == ["3", "-3", "3.5", "3", "1.5"]
    assert types[:2] == ["integer", "integer"] and types[3:] == ["bigint", "double"]
