"""The ingest figures of `make bench` (see bench.py's docstring).

One million records (synthetic_records: arrival order over a week, half `Z`, half `+09:00`) in a JSON
Lines file, sent through `send`'s own path (`producer.send_file` on the local delivery stream, its
default 5 MB buffers: one snapshot per buffer) and flushed, so every record is in committed Iceberg;
once validated (the default) and once `--raw`. The table exists before the clock starts, as it does
for a running pipeline. The reference is pyarrow's own `read_json` of the same file plus a Parquet
write of the result, in the same run. Each is the best of two runs.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pyarrow.json as pa_json
import pyarrow.parquet as pq

from health_pipeline.engines import LocalStack
from health_pipeline.producer import send_file
from health_pipeline.settings import Settings
from health_pipeline_tests.synthetic_records import write_jsonl

RECORDS = 1_000_000


def arrow_seconds(source: Path, out: Path) -> float:
    os.sync()  # neither side pays for the dirty pages of what ran before (the spool fsyncs)
    started = time.perf_counter()
    pq.write_table(pa_json.read_json(source), out)
    return time.perf_counter() - started


def ingest_seconds(source: Path, home: Path, raw: bool) -> tuple[float, int]:
    stack = LocalStack(Settings(home=home))
    desired = stack.desired_schema()
    stack.table.load_or_create(desired)
    os.sync()
    started = time.perf_counter()
    with source.open("rb") as handle:
        report = send_file(stack.delivery, desired, handle, str(source), raw=raw)
    stack.delivery.flush()
    elapsed = time.perf_counter() - started
    rows = stack.table.load().scan(selected_fields=("flags",)).to_arrow().num_rows
    if report.accepted != RECORDS or rows != RECORDS or report.rejected:
        raise RuntimeError(f"ingest bench: {report.accepted} accepted, {rows} rows for {RECORDS} records")
    return elapsed, len(stack.table.load().metadata.snapshots)


def ingest_figures() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hp-bench-ingest-") as tmp:
        tmp_path = Path(tmp)
        source = write_jsonl(tmp_path / "records.jsonl", RECORDS)
        size_mb = source.stat().st_size / 2**20
        arrow = min(arrow_seconds(source, tmp_path / f"arrow{n}.parquet") for n in range(2))
        runs = {
            raw: min(ingest_seconds(source, tmp_path / f"home-{raw}-{n}", raw) for n in range(2)) for raw in (False, True)
        }
    validated, snapshots = runs[False]
    raw_seconds, _ = runs[True]
    figures = {
        "ingest_records_per_s": round(RECORDS / validated),
        "ingest_records_per_s_raw": round(RECORDS / raw_seconds),
        "ingest_vs_arrow": round(arrow / validated, 3),
        "ingest_vs_arrow_raw": round(arrow / raw_seconds, 3),
        "ingest_arrow_s": round(arrow, 3),
        "ingest_snapshots": snapshots,
    }
    print(
        f"ingest: {RECORDS:,} records ({size_mb:.0f} MB) to committed Iceberg in {validated:.2f} s validated"
        f" ({figures['ingest_records_per_s']:,}/s), {raw_seconds:.2f} s --raw ({figures['ingest_records_per_s_raw']:,}/s),"
        f" {snapshots} snapshots; pyarrow read_json + parquet write {arrow:.2f} s;"
        f" ingest_vs_arrow {figures['ingest_vs_arrow']} (raw {figures['ingest_vs_arrow_raw']})"
    )
    return figures


if __name__ == "__main__":
    ingest_figures()
