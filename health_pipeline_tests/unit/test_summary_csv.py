"""The exported CSV's bytes: `summary_csv` builds the cells a column at a time; what it writes must be
exactly what Python's csv module writes with each float as repr(round(value, 3)) (the contract's
format, and what every earlier export holds), for ordinary summaries and for every awkward cell."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pyarrow as pa

from health_pipeline.summary.csv_format import CSV_COLUMNS, summary_csv

AVERAGES = [c for c in CSV_COLUMNS if c.endswith("_avg")]
AWKWARD_USERS = ["a,b", 'say "hi"', "line\nbreak", "carriage\rreturn", "利用者", " padded ", "", "tab\there",
                 "\u2028sep", "x" * 300, None]  # fmt: skip
AWKWARD_FLOATS = [0.0, -0.0, 0.001, -0.001, 0.0005, 2.0005, 1 / 3, 2 / 3, 9.9995, 10.0, 1e-7, 123456789012.345,
                  1e15, 1e16, 1e300, -5.5, math.nan, math.inf, -math.inf, None]  # fmt: skip


def reference_csv(rows: pa.Table) -> bytes:
    """The CSV as the csv module writes it from Python values, one cell at a time."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows.select(list(CSV_COLUMNS)).sort_by([("user_id", "ascending")]).to_pylist():
        writer.writerow(
            "" if row[c] is None else repr(round(row[c], 3)) if isinstance(row[c], float) else row[c]
            for c in CSV_COLUMNS
        )
    return out.getvalue().encode("utf-8")


def summary_rows(users: list, averages: dict[str, list], rng: np.random.Generator) -> pa.Table:
    n = len(users)
    columns = {"date": pa.array(["2026-11-10"] * n), "user_id": pa.array(users, pa.string())}
    for name in CSV_COLUMNS[2:]:
        columns[name] = (
            pa.array(averages[name], pa.float64()) if name in AVERAGES else pa.array(rng.integers(0, 11, n), pa.int64())
        )
    return pa.table({c: columns[c] for c in CSV_COLUMNS})


def test_a_days_csv_is_the_csv_modules_bytes_for_rounded_averages():
    rng = np.random.default_rng(7)
    n = 70_000  # more than one batch of cells
    users = [f"user-{i:06d}" for i in rng.permutation(n)]
    # What SQL's ROUND(AVG(score), 3) returns: averages of 1..40 scores of 0-10, rounded.
    averages = {c: np.round(rng.integers(0, 401, n) / rng.integers(1, 41, n), 3).tolist() for c in AVERAGES}
    rows = summary_rows(users, averages, rng)
    assert summary_csv(rows) == reference_csv(rows)
    empty = rows.slice(0, 0)  # a day without records: the header alone
    assert summary_csv(empty) == reference_csv(empty) == (",".join(CSV_COLUMNS) + "\n").encode()
    chunked = pa.concat_tables([empty, rows.slice(0, 5), empty, rows.slice(5, 3)])
    assert summary_csv(chunked) == reference_csv(chunked)


def test_every_awkward_cell_is_written_as_the_csv_module_writes_it():
    rng = np.random.default_rng(11)
    floats = AWKWARD_FLOATS + rng.uniform(-20, 20, 200).tolist() + np.round(rng.uniform(0, 10, 200), 3).tolist()
    users = [f"{AWKWARD_USERS[i % len(AWKWARD_USERS)]}-{i}" if i % 3 else AWKWARD_USERS[i % len(AWKWARD_USERS)]
             for i in range(len(floats))]  # fmt: skip
    averages = {c: list(np.roll(np.array(floats, dtype=object), shift)) for shift, c in enumerate(AVERAGES)}
    rows = summary_rows(users, averages, rng)
    data = summary_csv(rows)
    assert data == reference_csv(rows)
    assert b'"a,b"' in data and b'"say ""hi"""' in data and b",-0.0," in data and b",0.001," in data
