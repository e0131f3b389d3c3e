"""Athena results at scale and the scan estimate, for `make bench`.

- athena_result_rows_per_s: rows a second of the Athena engine reading a 1,000,000-row daily summary
  result from its result object (one GetQueryResults for the types, one GetObject, pyarrow.csv) on moto
  in server mode (its own process) over HTTP on 127.0.0.1, best of 5; target >= 1,000,000.
- athena_result_calls_1m: every Athena and S3 call of running that query (start, polls, the read);
  target <= 5.
- estimate_vs_scanned: the manifests' estimate for a Tokyo day over the bytes the local engine (DuckDB)
  reads for it, on 10 UTC days of 50,000 records; `_maintained` after table_maintenance (sorted files
  of several row groups). Target 0.8-1.25.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import boto3
import numpy as np

from health_pipeline.engines.aws.athena import AthenaQueryEngine, athena_literal
from health_pipeline.engines.aws.athena.result_object import read_result_object
from health_pipeline.engines.local import LocalStack
from health_pipeline.maintenance import MaintenancePolicy
from health_pipeline.settings import Settings
from health_pipeline.sql import with_table
from health_pipeline.summary.csv_format import CSV_COLUMNS
from health_pipeline.summary.days import daily_summary_query
from health_pipeline.summary.estimate import estimate_query
from health_pipeline_tests.support import preset_athena_results
from health_pipeline_tests.support.athena_results import (
    SUMMARY_TYPES,
    athena_csv_of_cells,
    cell_rows,
    count_calls,
    summary_result_cells,
    write_result_on_start,
)
from health_pipeline_tests.support.synthetic_records import synthetic_day

REGION = "ap-northeast-1"
BUCKET = "health-logger-bench"
OUTPUT = f"s3://{BUCKET}/athena-results/"
ZONE = ZoneInfo("Asia/Tokyo")
ROWS = 1_000_000


def _moto_clients(endpoint: str) -> dict:
    session = boto3.session.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name=REGION)
    return {name: session.client(name, endpoint_url=endpoint) for name in ("athena", "s3")} | {
        "writer": session.client("s3", endpoint_url=endpoint)
    }


def _moto_process() -> tuple[subprocess.Popen, str]:
    """moto's server in a process of its own (as S3 is remote: it does not share this process's GIL)."""
    from health_pipeline_tests.support import free_loopback_port

    port = free_loopback_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            return process, endpoint
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("moto's server did not start") from None
            time.sleep(0.2)


def result_read_figures(rounds: int = 5) -> dict[str, float]:
    server, endpoint = _moto_process()
    try:
        clients = _moto_clients(endpoint)
        clients["writer"].create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        cells = summary_result_cells(ROWS)
        header = list(CSV_COLUMNS)
        write_result_on_start(clients["athena"], clients["writer"], OUTPUT, athena_csv_of_cells(cells))
        engine = AthenaQueryEngine(
            catalog="AwsDataCatalog",
            database="health_logger_prod_health_logs",
            workgroup="primary",
            output_location=OUTPUT,
            client=clients["athena"],
            s3_client=clients["s3"],
            region=REGION,
            sleep=lambda _: None,
        )
        query = daily_summary_query(date(2026, 11, 11), ZONE, "health_records")
        preset = [header, *cell_rows(cells, [0])]

        preset_athena_results(endpoint, preset, REGION, SUMMARY_TYPES)
        calls = count_calls(clients["athena"], clients["s3"])
        rows = engine.run(query).rows.num_rows
        assert rows == ROWS, rows
        figures: dict[str, float] = {"athena_result_calls_1m": sum(calls.values())}
        print(f"athena result of {rows:,} rows: {dict(calls)} ({figures['athena_result_calls_1m']} calls)")

        seconds = []
        for _ in range(rounds):
            preset_athena_results(endpoint, preset, REGION, SUMMARY_TYPES)
            sql = with_table(query.text, query.table)
            execution = engine._execute(query.name, sql, [athena_literal(v) for v in query.parameters])
            started = time.perf_counter()
            table = read_result_object(engine, execution)
            seconds.append(time.perf_counter() - started)
            assert table.num_rows == ROWS
        best = min(seconds)
        figures["athena_result_rows_per_s"] = round(ROWS / best)
        print(
            f"athena_result_rows_per_s: {figures['athena_result_rows_per_s']:,} (best of {rounds} reads:"
            f" {', '.join(f'{s:.3f}' for s in seconds)} s for {ROWS:,} rows)"
        )
        return figures
    finally:
        server.terminate()
        server.wait(timeout=30)


def estimate_figures(days: int = 10, per_day: int = 50_000) -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="hp-bench-estimate-") as tmp:
        stack = LocalStack(Settings(home=Path(tmp)))
        desired = stack.desired_schema()
        rng = np.random.default_rng(42)
        first = date(2026, 9, 1)
        for n in range(days):
            start = datetime.combine(first + timedelta(days=n), datetime.min.time())
            stack.table.append(synthetic_day(start, per_day, per_day // 10, rng), desired)
        query = daily_summary_query(first + timedelta(days=days // 2), ZONE, stack.settings.table)
        for suffix in ("", "_maintained"):
            if suffix:
                stack.maintenance.run(datetime.now(UTC), MaintenancePolicy())
            estimate = estimate_query(stack.table.iceberg_table(), query)
            measured = stack.query_engine.run(query).bytes_scanned
            figures[f"estimate_vs_scanned{suffix}"] = round(estimate.scan_bytes / measured, 3)
            print(
                f"estimate_vs_scanned{suffix}: {figures[f'estimate_vs_scanned{suffix}']} (estimate"
                f" {estimate.scan_bytes:,} bytes in {estimate.files} files, DuckDB read {measured:,} bytes)"
            )
    return figures


def athena_result_figures() -> dict[str, float]:
    return {**result_read_figures(), **estimate_figures()}


if __name__ == "__main__":
    import json

    print("FIGURES " + json.dumps(athena_result_figures(), sort_keys=True))
