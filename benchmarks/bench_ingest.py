"""The ingest figures of `make bench` (see bench.py's docstring).

One million records (synthetic_records: arrival order over a week, half `Z`, half `+09:00`) in a JSON
Lines file, sent through `send`'s own path (`producer.send_file` on the local delivery stream, its
default 5 MB buffers: one snapshot per buffer) and flushed, so every record is in committed Iceberg;
once validated (the default) and once `--raw`. The table exists before the clock starts, as it does
for a running pipeline. The reference is pyarrow's own `read_json` of the same file plus a Parquet
write of the result, in the same run. The machine's speed drifts from one second to the next (a shared
VM), so the three are taken in turn, round after round, and each figure is the best of its rounds:
both sides of a ratio get the same chances. The CPU seconds of each best run are printed too.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import pyarrow.json as pa_json
import pyarrow.parquet as pq

from health_pipeline.delivery.producer import send_file
from health_pipeline.delivery.stream import SendReport
from health_pipeline.engines.local import LocalStack
from health_pipeline.settings import Settings
from health_pipeline_tests.support.synthetic_records import write_jsonl

RECORDS = 1_000_000
ROUNDS = 6


@dataclass(frozen=True)
class Timing:
    seconds: float
    cpu_seconds: float  # every thread of the process


def timed(run: Callable[[], object]) -> Timing:
    os.sync()  # no side pays for the dirty pages of what ran before (the spool fsyncs)
    cpu, started = time.process_time(), time.perf_counter()
    run()
    return Timing(time.perf_counter() - started, time.process_time() - cpu)


def arrow_run(source: Path, out: Path) -> Timing:
    return timed(lambda: pq.write_table(pa_json.read_json(source), out))


def send_run(stack: LocalStack, source: Path, raw: bool = False) -> tuple[Timing, SendReport]:
    """`send` of `source` and a `flush`, timed: every accepted record is in committed Iceberg after."""
    desired = stack.desired_schema()
    stack.table.load_or_create(desired)
    reports: list[SendReport] = []

    def ingest() -> None:
        with source.open("rb") as handle:
            reports.append(send_file(stack.delivery_stream, desired, handle, str(source), raw=raw))
        stack.delivery_stream.flush()

    return timed(ingest), reports[0]


def ingest_run(source: Path, home: Path, raw: bool) -> tuple[Timing, int]:
    stack = LocalStack(Settings(home=home))
    timing, report = send_run(stack, source, raw)
    rows = stack.table.load().scan(selected_fields=("flags",)).to_arrow().num_rows
    if report.accepted != RECORDS or rows != RECORDS or report.rejected:
        raise RuntimeError(f"ingest bench: {report.accepted} accepted, {rows} rows for {RECORDS} records")
    snapshots = len(stack.table.load().metadata.snapshots)
    shutil.rmtree(home)
    return timing, snapshots


def ingest_figures(rounds: int = ROUNDS) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hp-bench-ingest-") as tmp:
        tmp_path = Path(tmp)
        source = write_jsonl(tmp_path / "records.jsonl", RECORDS)
        size_mb = source.stat().st_size / 2**20
        arrow: list[Timing] = []
        runs: dict[bool, list[Timing]] = {False: [], True: []}
        for n in range(rounds):
            arrow.append(arrow_run(source, tmp_path / "arrow.parquet"))
            for raw in (False, True):
                timing, snapshots = ingest_run(source, tmp_path / f"home-{raw}-{n}", raw)
                runs[raw].append(timing)
    best_arrow = min(arrow, key=lambda t: t.seconds)
    validated, raw_best = (min(runs[raw], key=lambda t: t.seconds) for raw in (False, True))
    figures = {
        "ingest_records_per_s": round(RECORDS / validated.seconds),
        "ingest_records_per_s_raw": round(RECORDS / raw_best.seconds),
        "ingest_vs_arrow": round(best_arrow.seconds / validated.seconds, 3),
        "ingest_vs_arrow_raw": round(best_arrow.seconds / raw_best.seconds, 3),
        "ingest_arrow_s": round(best_arrow.seconds, 3),
        # The same ratio taken round by round (each ingest against the reference run just before it),
        # the median round: the best of each side can pair a slow ingest with a fast moment of the VM.
        "ingest_vs_arrow_median_round": round(median(a.seconds / i.seconds for a, i in zip(arrow, runs[False])), 3),
        "ingest_snapshots": snapshots,
    }
    print(
        f"ingest: {RECORDS:,} records ({size_mb:.0f} MB) to committed Iceberg, best of {rounds} rounds:"
        f" {validated.seconds:.2f} s validated ({figures['ingest_records_per_s']:,}/s, {validated.cpu_seconds:.2f} CPU-s),"
        f" {raw_best.seconds:.2f} s --raw ({figures['ingest_records_per_s_raw']:,}/s), {snapshots} snapshots;"
        f" pyarrow read_json + parquet write {best_arrow.seconds:.2f} s ({best_arrow.cpu_seconds:.2f} CPU-s);"
        f" ingest_vs_arrow {figures['ingest_vs_arrow']} (raw {figures['ingest_vs_arrow_raw']});"
        f" every round, validated/arrow s: "
        + ", ".join(f"{i.seconds:.2f}/{a.seconds:.2f}" for i, a in zip(runs[False], arrow))
    )
    return figures


if __name__ == "__main__":
    print("FIGURES " + json.dumps(ingest_figures()))
