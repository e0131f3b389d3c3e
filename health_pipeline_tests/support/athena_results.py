"""Athena's result objects as the tests and `make bench` write them: a summary result as text cells,
its CSV in Athena's format (every non-null value quoted, quotes doubled, null an empty unquoted field),
the object put where Athena would put it once a query starts, and a count of the API calls made."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from health_pipeline.summary.csv_format import CSV_COLUMNS

SUMMARY_TYPES = ["varchar", "varchar", "bigint"] + ["double", "integer", "integer"] * 3 + ["bigint"]
# User ids that a CSV must carry as data: a comma, quotes, a line break, a carriage return, non-ASCII.
HOSTILE_USER_IDS = ["a,b", 'say "hi"', "two\nlines", "cr\rlf", "利用者-さくら", "o'brien", " padded ", '"']


def athena_csv(header: list[str], rows: list[list[str | None]]) -> bytes:
    """Rows of text cells (None: null) as Athena writes its result CSV, written cell by cell."""

    def cell(value: str | None) -> str:
        return "" if value is None else '"' + value.replace('"', '""') + '"'

    return "".join(",".join(map(cell, row)) + "\n" for row in [header, *rows]).encode("utf-8")


def _decimal_text(thousandths: np.ndarray) -> pa.Array:
    """k/1000 as Athena (Java's Double.toString) writes a double in [0, 10**7): 4.0, 4.5, 4.333."""
    fractions = pa.array([f"{n:03d}".rstrip("0") or "0" for n in range(1000)])
    return pc.binary_join_element_wise(
        pa.array(thousandths // 1000).cast(pa.string()), fractions.take(pa.array(thousandths % 1000)), "."
    )


def summary_result_cells(users: int, seed: int = 7) -> dict[str, pa.Array]:
    """A daily summary result of `users` rows as Athena's text cells (null: a null string): the hostile
    user ids first, then user-0000000 on, and some null averages."""
    rng = np.random.default_rng(seed)
    numbered = pc.utf8_lpad(pa.array(np.arange(users)).cast(pa.string()), 7, "0")
    ids = pa.concat_arrays([pa.array(HOSTILE_USER_IDS[:users]), pc.binary_join_element_wise("user-", numbered, "")])
    cells: dict[str, pa.Array] = {
        "date": pa.array(["2026-11-11"] * users),
        "user_id": ids[:users],
        "record_count": pa.array(rng.integers(1, 300, users)).cast(pa.string()),
    }
    for measure in ("fatigue", "mood", "motivation"):
        low = rng.integers(0, 6, users)
        high = low + rng.integers(0, 5, users)
        average = _decimal_text(low * 1000 + rng.integers(0, 1000, users) % ((high - low) * 1000 + 1))
        missing = rng.random(users) < 0.01  # a measure never sent that day: null average, min and max
        mask = pa.array(missing)
        cells[f"{measure}_avg"] = pc.if_else(mask, pa.scalar(None, pa.string()), average)
        cells[f"{measure}_min"] = pc.if_else(mask, pa.scalar(None, pa.string()), pa.array(low).cast(pa.string()))
        cells[f"{measure}_max"] = pc.if_else(mask, pa.scalar(None, pa.string()), pa.array(high).cast(pa.string()))
    cells["flags_any"] = pa.array(rng.integers(0, 2**40, users)).cast(pa.string())
    return cells


def athena_csv_of_cells(cells: dict[str, pa.Array]) -> bytes:
    """The text cells as Athena's result CSV, made a column at a time (for a million rows)."""
    quoted = []
    for name in CSV_COLUMNS:
        column = cells[name]
        text = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
        quoted.append(pc.fill_null(text, ""))
    quoted[-1] = pc.binary_join_element_wise(quoted[-1], "\n", "")  # each line's end
    lines = pc.binary_join_element_wise(*quoted, ",")
    header = ",".join(f'"{name}"' for name in CSV_COLUMNS) + "\n"
    body = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines), "")
    return header.encode("utf-8") + (body[0].as_buffer().to_pybytes() if len(lines) else b"")


def cell_rows(cells: dict[str, pa.Array], indices) -> list[list[str | None]]:
    """The rows at `indices` as lists of text cells, in CSV_COLUMNS order."""
    taken = pa.array(list(indices), pa.int64())
    return [list(row) for row in zip(*(cells[name].take(taken).to_pylist() for name in CSV_COLUMNS))]


def write_result_on_start(athena: Any, s3: Any, output_location: str, data: bytes) -> None:
    """Put `data` as the result object of each query `athena` starts, where Athena writes it
    (`<output_location><query id>.csv`), replacing the object moto wrote from its preset."""
    bucket, _, prefix = output_location[len("s3://") :].partition("/")

    def put(parsed, **_):
        if "QueryExecutionId" in parsed:
            s3.put_object(Bucket=bucket, Key=f"{prefix}{parsed['QueryExecutionId']}.csv", Body=data)

    athena.meta.events.register("after-call.athena.StartQueryExecution", put)


def count_calls(*clients: Any) -> Counter[str]:
    """Every API call the clients make from now on, by operation name."""
    calls: Counter[str] = Counter()
    for client in clients:
        client.meta.events.register("before-call", lambda model, **_: calls.update([model.name]))
    return calls
