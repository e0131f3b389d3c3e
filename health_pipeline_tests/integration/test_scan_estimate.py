"""The scan estimate from the table's manifests: the files a day's window keeps and the columns the SQL
reads, checked against the Parquet footers themselves; on each summary's metadata; and
`health-pipeline estimate` for an operator about to launch a backfill (local and aws mode)."""

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from health_pipeline.engines.aws.athena import MINIMUM_BILLED_BYTES, estimate_cost_usd
from health_pipeline.engines.local.table import local_path
from health_pipeline.schema import read_desired_schema
from health_pipeline.summary.days import daily_summary_query
from health_pipeline.summary.estimate import estimate_backfill, estimate_query, summary_columns
from health_pipeline_tests.support import CLI, materialize, run_cli
from health_pipeline_tests.support.aws_moto import BUCKET, aws_env, glue_table
from health_pipeline_tests.support.synthetic_records import synthetic_day

TOKYO = ZoneInfo("Asia/Tokyo")
FIRST = date(2026, 11, 1)
READ = ("user_id", "recorded_at", "fatigue", "mood", "motivation", "flags")


def utc_days(stack, count: int, per_day: int = 4000) -> None:
    """`count` UTC days from FIRST, one append (one file) each."""
    rng = np.random.default_rng(5)
    for n in range(count):
        start = datetime.combine(FIRST + timedelta(days=n), datetime.min.time())
        stack.table.append(synthetic_day(start, per_day, 400, rng), stack.desired_schema())


def footer_bytes(path: str, columns=READ) -> int:
    """The compressed bytes of `columns` in a Parquet file, from its footer: the oracle."""
    metadata = pq.ParquetFile(path).metadata
    names = metadata.schema.to_arrow_schema().names
    return sum(
        metadata.row_group(g).column(names.index(c)).total_compressed_size
        for g in range(metadata.num_row_groups)
        for c in columns
    )


def test_the_summary_reads_exactly_the_columns_the_estimate_counts():
    assert summary_columns() == READ


def test_a_day_counts_the_files_its_window_keeps_and_only_the_columns_read(stack):
    utc_days(stack, 4)
    table = stack.table.iceberg_table()
    query = daily_summary_query(FIRST + timedelta(days=2), TOKYO, stack.settings.table)
    estimate = estimate_query(table, query)
    files, _ = stack.query_engine.plan(table, *query.window)

    # A Tokyo day spans two UTC days: two of the four files, no more.
    assert estimate.files == len(files) == 2
    assert estimate.scan_bytes == sum(footer_bytes(local_path(f)) for f in files)
    assert estimate.cost_usd == estimate_cost_usd(estimate.scan_bytes)
    fewer = estimate_query(table, query, columns=("user_id", "recorded_at"))
    assert fewer.scan_bytes == sum(footer_bytes(local_path(f), ("user_id", "recorded_at")) for f in files)
    assert 0 < fewer.scan_bytes < estimate.scan_bytes
    # And it is the figure the local engine measures, within the footers' own bytes.
    measured = stack.query_engine.run(query).bytes_scanned
    assert 0.8 <= estimate.scan_bytes / measured <= 1.0


def test_a_day_without_records_scans_nothing_but_costs_the_minimum(stack):
    utc_days(stack, 2)
    estimate = estimate_query(
        stack.table.iceberg_table(), daily_summary_query(date(2027, 1, 1), TOKYO, "health_records")
    )
    assert (estimate.files, estimate.scan_bytes) == (0, 0)
    assert estimate.cost_usd == estimate_cost_usd(0) == MINIMUM_BILLED_BYTES / 1024**4 * 5


def test_a_backfill_is_one_query_per_31_days_each_billed_at_least_the_minimum(stack):
    utc_days(stack, 3)
    backfill = estimate_backfill(stack.table.iceberg_table(), FIRST - timedelta(days=40), FIRST + timedelta(days=2),
                                 TOKYO, "health_records")  # fmt: skip
    assert [q.files for q in backfill.queries] == [0, 3]  # the first 31 days hold no records
    assert backfill.queries[0].start == datetime(2026, 9, 21, 15) and backfill.queries[1].end == datetime(
        2026, 11, 3, 15
    )
    assert backfill.cost_usd == estimate_cost_usd(0) + estimate_cost_usd(backfill.queries[1].scan_bytes)
    assert backfill.as_dict()["days"] == 43


def test_each_summary_shows_its_estimate_beside_the_bytes_scanned(settings, stack):
    utc_days(stack, 3)
    day = FIRST + timedelta(days=1)
    result = materialize(settings, ["daily_health_summary"], partition_key=day.isoformat())
    metadata = result.asset_materializations_for_node("daily_health_summary")[0].metadata
    expected = estimate_query(stack.table.iceberg_table(), daily_summary_query(day, TOKYO, "health_records"))
    assert metadata["estimated_scan_bytes"].value == expected.scan_bytes > 0
    scanned = metadata["bytes_scanned"].value
    assert metadata["estimate_vs_scanned"].value == round(expected.scan_bytes / scanned, 3)


def test_the_estimate_command_prints_bytes_and_dollars_and_refuses_bad_days(stack, cli_env):
    utc_days(stack, 3)
    done = run_cli(cli_env, "estimate", "--from", FIRST.isoformat(), "--to", (FIRST + timedelta(days=1)).isoformat())
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode()
    expected = estimate_backfill(stack.table.iceberg_table(), FIRST, FIRST + timedelta(days=1), TOKYO, "health_records")
    assert f"({expected.scan_bytes:,} bytes)" in text and "1 Athena query(ies)" in text
    assert f"${expected.cost_usd:.6f}" in text and "10 MB minimum per query" in text

    as_json = run_cli(cli_env, "estimate", "--from", "2026-10-01", "--to", "2026-12-31", "--json")
    figures = json.loads(as_json.stdout)
    assert as_json.returncode == 0 and len(figures["queries"]) == 3 and figures["days"] == 92
    assert figures["estimated_scan_bytes"] == sum(q["estimated_scan_bytes"] for q in figures["queries"]) > 0

    for args, problem in (
        (("--from", "2026-11-31", "--to", "2026-12-01"), b"is not a day as YYYY-MM-DD"),
        (("--from", "2026-12-02", "--to", "2026-12-01"), b"is before --from"),
        (("--from", "2026-12-01"), b"--to"),
    ):
        refused = run_cli(cli_env, "estimate", *args)
        assert refused.returncode == 2 and problem in refused.stderr, refused.stderr


def test_aws_mode_estimates_from_the_glue_tables_manifests_in_s3(aws, aws_settings):
    import subprocess

    from health_pipeline.settings import PROJECT_ROOT

    table = glue_table(aws_settings, read_desired_schema(aws_settings.s3tables_module_dir))
    rng = np.random.default_rng(9)
    for n in range(3):
        start = datetime.combine(FIRST + timedelta(days=n), datetime.min.time())
        table.append(synthetic_day(start, 3000, 300, rng).cast(table.schema().as_arrow()))
    done = subprocess.run(
        [*CLI, "estimate", "--from", "2026-11-02", "--to", "2026-11-02", "--json"],
        env=aws_env(aws_settings), cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (query,) = json.loads(done.stdout)["queries"]
    s3 = boto3.client("s3")
    kept = [t.file.file_path for t in table.refresh().scan().plan_files() if "2026-11-01" in t.file.file_path
            or "2026-11-02" in t.file.file_path]  # fmt: skip
    assert query["files"] == len(kept) == 2
    oracle = 0
    for path in kept:
        key = path.removeprefix(f"s3://{BUCKET}/")
        data = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        oracle += footer_bytes(pa.BufferReader(data))
    assert query["estimated_scan_bytes"] == oracle


def test_a_compacted_file_of_several_row_groups_counts_the_share_its_window_covers():
    from types import SimpleNamespace

    from pyiceberg.conversions import to_bytes
    from pyiceberg.types import TimestampType

    from health_pipeline.summary.estimate import _window_share

    def micros(when: datetime) -> bytes:
        return to_bytes(TimestampType(), int((when - datetime(1970, 1, 1)).total_seconds() * 10**6))

    four_days = SimpleNamespace(
        split_offsets=[4, 1000, 2000, 3000],
        lower_bounds={2: micros(datetime(2026, 11, 1))},
        upper_bounds={2: micros(datetime(2026, 11, 5))},
    )
    assert _window_share(four_days, 2, datetime(2026, 11, 2), datetime(2026, 11, 3)) == pytest.approx(0.25)
    assert _window_share(four_days, 2, datetime(2026, 11, 2, 12), datetime(2026, 11, 2, 13)) == 0.25  # >= 1 group
    assert _window_share(four_days, 2, datetime(2026, 10, 1), datetime(2026, 12, 1)) == 1.0
    assert _window_share(SimpleNamespace(split_offsets=[4], lower_bounds={}, upper_bounds={}), 2,
                         datetime(2026, 11, 2), datetime(2026, 11, 3)) == 1.0  # fmt: skip


def test_the_estimate_command_says_what_to_check_when_aws_cannot_be_read(cli_env):
    from health_pipeline_tests.support import free_loopback_port

    env = {**cli_env, "HEALTH_PIPELINE_MODE": "aws", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_loopback_port()}",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "ap-northeast-1"}  # fmt: skip
    env.pop("AWS_PROFILE", None)
    refused = run_cli(env, "estimate", "--from", "2026-11-01", "--to", "2026-11-01")
    assert refused.returncode == 2, refused.stderr
    assert b"could not read the table" in refused.stderr and b"credentials" in refused.stderr
