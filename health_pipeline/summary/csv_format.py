"""The exported CSV's bytes (the contract in docs/reference/csv.md) and the UI's preview of a day."""

from __future__ import annotations

import csv
import io

import numpy as np
import pyarrow as pa

CSV_COLUMNS = (
    "date", "user_id", "record_count",
    "fatigue_avg", "fatigue_min", "fatigue_max",
    "mood_avg", "mood_min", "mood_max",
    "motivation_avg", "motivation_min", "motivation_max",
    "flags_any",
)  # fmt: skip


def summary_csv(rows: pa.Table) -> bytes:
    """The contract's CSV: UTF-8, header, one row per user sorted by user_id, the columns in order.
    The bytes are those of Python's csv module (minimal quoting, "\n" line ends) with each float
    written as repr(round(value, 3)); the cells are made a column at a time with Arrow's kernels, and
    only the rare cell that needs quoting or is not a 3-decimal float goes through Python alone."""
    missing = [c for c in CSV_COLUMNS if c not in rows.column_names]
    if missing:
        raise ValueError(f"the summary result lacks column(s) {', '.join(missing)}; is the SQL file current?")
    import pyarrow.compute as pc  # on use: its kernels (~12 MB) need not be in memory while a query runs

    # The SQL sorts by user_id; sorting again here keeps the contract whatever engine produced the rows.
    ordered = rows.select(list(CSV_COLUMNS)).sort_by([("user_id", "ascending")])
    parts = [(",".join(CSV_COLUMNS) + "\n").encode()]
    for batch in ordered.to_batches(max_chunksize=65_536):  # bounded memory for large days
        if batch.num_rows == 0:
            continue
        cells = [_column_text(batch.column(c)) for c in CSV_COLUMNS]
        cells[-1] = pc.binary_join_element_wise(cells[-1], _LINE_END, _NOTHING)  # each line's end
        lines = pc.binary_join_element_wise(*cells, _COMMA)
        # The lines back to back: one list of all of them, joined with nothing between.
        block = pc.binary_join(pa.ListArray.from_arrays(_numbers(np.array([0, len(lines)], np.int32)), lines), _NOTHING)
        parts.append(block[0].as_buffer().to_pybytes())
    return b"".join(parts)


# Arrays and scalars are built here from their buffers: pa.array() and pa.scalar(), and so compute
# calls given Python values, import pandas (~55 MB, summary_peak_rss_mb) to check what they were given.
def _strings(values: list[str]) -> pa.Array:
    encoded = [value.encode("utf-8") for value in values]
    offsets = np.zeros(len(encoded) + 1, np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return pa.StringArray.from_buffers(len(encoded), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded)))


def _numbers(values: np.ndarray) -> pa.Array:
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])


def _flags(values: np.ndarray) -> pa.Array:
    bits = np.packbits(values.astype(bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])


def _csv_cell(value: str) -> str:
    """One text cell exactly as Python's csv writer writes it (quoted when it must be)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([value, ""])
    return out.getvalue()[:-2]  # the cell, without the empty second cell's "," and the line end


# The characters that make Python's csv writer quote a cell are among these (",", '"' and the line
# terminator's; which exactly varies by Python version), so a cell holding any of them, or any
# character outside printable ASCII, is written by the csv module itself.
_MAY_NEED_QUOTING = r'[^\x20-\x7e]|[,"]'
# 0.5 -> "5", 0.25 -> "25", 0.125 -> "125", 0 -> "0": the decimals of n/1000 as repr writes them.
_THOUSANDTHS = _strings([f"{n:03d}".rstrip("0") or "0" for n in range(1000)])
# The scalars the kernels are given, made once.
_COMMA, _LINE_END, _NOTHING, _POINT, _MINUS = _strings([",", "\n", "", ".", "-"])
_NO, _NAN = _flags(np.zeros(1))[0], _numbers(np.array([np.nan]))[0]


def _column_text(column: pa.Array) -> pa.Array:
    """A column's cells as the CSV writes them (strings, no nulls): floats as Python's shortest repr
    of the value rounded to 3 decimals, other values as Arrow renders them as text (the same as str()
    for ints and strings), nulls empty."""
    import pyarrow.compute as pc

    if pa.types.is_floating(column.type):
        return _float_text(column)
    text = column.cast(pa.string())
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        suspect = pc.fill_null(pc.match_substring_regex(text, _MAY_NEED_QUOTING), _NO)
        if pc.any(suspect).as_py():
            cells = pc.filter(text, suspect).to_pylist()
            text = pc.replace_with_mask(text, suspect, _strings([_csv_cell(c) for c in cells]))
    return pc.fill_null(text, _NOTHING)


def _float_text(column: pa.Array) -> pa.Array:
    """repr(round(v, 3)) for every value, made from integer thousandths where that is exact: when v is
    the double nearest k/1000 for an integer |k| < 10**15 (what SQL's ROUND(x, 3) returns), Python's
    round(v, 3) is v and its shortest repr is k/1000 in decimal (15 significant digits identify a
    double). Any other value (nulls, -0.0, NaN, infinities, huge or unrounded values) is written by
    Python itself."""
    import pyarrow.compute as pc

    filled = pc.fill_null(column.cast(pa.float64()), _NAN)
    values = np.frombuffer(filled.buffers()[1], np.float64, len(filled), filled.offset * 8)
    with np.errstate(invalid="ignore", over="ignore"):
        thousandths = np.rint(values * 1000)
        exact = (np.abs(thousandths) < 1e15) & (thousandths / 1000 == values)
        exact &= ~((thousandths == 0) & np.signbit(values))
    k = np.where(exact, thousandths, 0).astype(np.int64)
    magnitude = np.abs(k)
    text = pc.binary_join_element_wise(
        _numbers(magnitude // 1000).cast(pa.string()), _THOUSANDTHS.take(_numbers(magnitude % 1000)), _POINT
    )
    text = pc.if_else(_flags(k < 0), pc.binary_join_element_wise(_MINUS, text, _NOTHING), text)
    if not exact.all():
        others = _flags(~exact)
        cells = pc.filter(column, others).to_pylist()
        text = pc.replace_with_mask(text, others, _strings(["" if v is None else repr(round(v, 3)) for v in cells]))
    return text


def preview_markdown(rows: pa.Table, limit: int = 10) -> str:
    columns = [c for c in CSV_COLUMNS if c in rows.column_names]
    head = rows.select(columns).slice(0, limit).to_pylist()
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for record in head:
        lines.append("| " + " | ".join("" if record[c] is None else str(record[c]) for c in columns) + " |")
    if rows.num_rows > limit:
        lines.append(f"\n… {rows.num_rows - limit} more rows")
    return "\n".join(lines)
