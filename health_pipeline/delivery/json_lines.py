"""JSON Lines read in blocks and checked in bulk with Arrow, line for line as records.py decides.

`records.check_line` is the reference. For a producer: `validate_record(parse_line(line))`, then the
encoded record must be at most 1,000 KiB. For the delivery stream: the line must be at most 1,000 KiB,
then `conform_to_schema(parse_line(line))`, a timestamp in a form Firehose takes. Doing that in
Python costs 3-5 us a line, so `check_lines` asks Arrow first. A run of lines each framed as one
object (`{` first, `}` last) is parsed with the table's column types (timestamps as text) and unknown
fields refused, and the rules are applied as vector operations.
Every line Arrow cannot vouch for is decided by the reference itself:
- a line outside the framing, or longer than the bulk path takes;
- a row a vector rule flags (a null where a value is required, a score outside 0-10, a timestamp in
  a form the two parsers might read differently...);
- the lines of a run Arrow refuses, found by splitting the run in halves until they stand alone.
So the decisions, the reasons and the accepted values are exactly those of `records.py`: the
framing, Arrow's casts, the regular expressions and the column types only ever admit what the
reference admits (`test_bulk_check_matches_the_reference` checks it on generated hostile lines).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from health_pipeline.delivery.line_blocks import LineBlock
from health_pipeline.delivery.records import (
    MAX_RECORD_BYTES,
    REQUIRED_FIELDS,
    SCORE_FIELDS,
    RecordRejected,
    check_line,
)
from health_pipeline.schema.model import TableSchema

__all__ = ["MAX_RECORD_BYTES", "CheckedLines", "check_line", "check_lines"]

ONE_BY_ONE_BELOW = 64  # a failing run this short is decided line by line rather than split again
_ARROW_BLOCK = 1 << 20  # Arrow's parse unit (1 MiB): longer than any line the bulk path takes
_BULK_TYPES = frozenset({"string", "int", "bigint", "timestamp"})
_NL, _OPEN, _CLOSE, _CR = 10, ord("{"), ord("}"), 13
_T, _COLON, _Z, _PLUS, _MINUS, _ZERO = (ord(c) for c in "T:Z+-0")
_LAST = (6, 5, 4, 3, 2, 1)  # positions from the end a date-time's offset takes (+HH:MM)

# The producer's recorded_at must carry an offset. Arrow's cast to a zoned timestamp takes only text
# with one, and every form it takes Python reads to the same instant (and the stream's casts of the
# Firehose forms, `_firehose_in_utc`, read as records.firehose_timestamp does);
# `test_arrow_reads_every_timestamp_it_takes_as_python_does` checks both. When some row of a run does
# not cast, this pattern (forms both read alike) picks the rows out for the reference instead of
# failing the whole run.
_WITH_OFFSET = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?"
    r"(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)$"
)
# Years 1000-8999: converting to UTC cannot leave datetime's range (the reference rejects what would).
_EARLIEST_US = -30610224000 * 10**6  # 1000-01-01T00:00:00
_LATEST_US = 221845392000 * 10**6  # 9000-01-01T00:00:00
# Every character str.strip() removes: a user_id left empty by stripping them is blank.
_PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000")
)


# -- the bulk path ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Plan:
    parse_schema: pa.Schema  # what Arrow reads (timestamps as text, checked and converted after)
    table_schema: pa.Schema
    timestamps: tuple[str, ...]
    strings: tuple[str, ...]  # every column Arrow reads as text
    required: tuple[str, ...]
    scores: tuple[str, ...]
    has_user_id: bool
    has_flags: bool
    producer: bool
    max_line: int  # the longest line (bytes, with its "\n") whose size cannot decide against it


@lru_cache(maxsize=16)
def _plan(schema: TableSchema, producer: bool) -> _Plan | None:
    if not schema.columns or any(c.glue_type not in _BULK_TYPES for c in schema.columns):
        return None  # a column type the bulk path does not convert: every line goes to the reference
    table_schema = schema.to_arrow()
    timestamps = tuple(c.name for c in schema.columns if c.glue_type == "timestamp")
    # Timestamps are read as text and cast here, so that their form can be checked too.
    parse_schema = pa.schema([pa.field(f.name, pa.string()) if f.name in timestamps else f for f in table_schema])
    # The encoder may add "name":null for an absent column and write a timestamp in up to 18
    # characters; below this bound the encoded record cannot exceed the limit when the raw line does not.
    growth = sum(len(c.name) + 8 for c in schema.columns) + 16 * len(timestamps) if producer else 0
    names = set(schema.names)
    user_id = schema.get("user_id")
    return _Plan(
        parse_schema=parse_schema,
        table_schema=table_schema,
        timestamps=timestamps,
        strings=tuple(f.name for f in parse_schema if pa.types.is_string(f.type)),
        required=tuple(n for n in REQUIRED_FIELDS if n in names),
        scores=tuple(n for n in SCORE_FIELDS if n in names),
        has_user_id=user_id is not None and user_id.glue_type == "string",
        has_flags="flags" in names,
        producer=producer,
        max_line=MAX_RECORD_BYTES - growth,
    )


@dataclass
class CheckedLines:
    """The lines of a block that passed a check against `schema`, and why the others did not."""

    data: bytes | bytearray  # the accepted lines, each ending in one "\n", in the order of `rows`
    rows: pa.Table  # the same lines as the table stores them (the schema's Arrow types)
    index: np.ndarray  # the block line of each accepted row
    rejected: list[tuple[int, RecordRejected]]  # (block line, why), in line order
    schema: TableSchema

    def __len__(self) -> int:
        return self.rows.num_rows


def check_lines(block: LineBlock, schema: TableSchema, *, producer: bool) -> CheckedLines:
    """Check every line of `block` against `schema`, as a producer (`validate_record`) or as the
    delivery stream (`conform_to_schema`); see the module docstring."""
    plan = _plan(schema, producer)
    everything = np.arange(len(block), dtype=np.int64)
    parts: list[tuple[np.ndarray, pa.Table]] = []
    one_by_one: list[np.ndarray] = []
    if plan is None:
        one_by_one.append(everything)
    else:
        framed = _framed(block, plan)
        one_by_one.append(everything[~framed])
        runs = [everything[framed]]
        while runs:
            run = runs.pop()
            if len(run) == 0:
                continue
            checked = _bulk(block, run, plan)
            if checked is not None:
                rows, good = checked
                parts.append((run[good], rows))
                one_by_one.append(run[~good])
            elif len(run) < max(2, ONE_BY_ONE_BELOW):  # a single line is never split further
                one_by_one.append(run)
            else:
                half = len(run) // 2
                runs += [run[half:], run[:half]]
    return _assemble(block, schema, producer, parts, np.sort(np.concatenate(one_by_one)))


def _framed(block: LineBlock, plan: _Plan) -> np.ndarray:
    """Lines that are one compact-framed object each: "{" first, "}" last (before "\\r\\n" or "\\n")."""
    raw = np.frombuffer(block.data, np.uint8)
    starts, ends = block.offsets[:-1], block.offsets[1:]
    lengths = ends - starts
    ok = (lengths >= 3) & (lengths <= plan.max_line)
    if not ok.any():
        return ok
    ok &= raw[starts] == _OPEN
    before = raw[np.maximum(ends - 2, 0)]
    close = np.where(before == _CR, ends - 3, ends - 2)
    ok &= raw[np.maximum(close, 0)] == _CLOSE
    if block.irregular is not None:
        ok &= ~block.irregular
    return ok


def _gather(block: LineBlock, run: np.ndarray) -> bytes | memoryview:
    view = memoryview(block.data)
    offsets = block.offsets
    if run[-1] - run[0] + 1 == len(run):  # contiguous: no copy
        return view[offsets[run[0]] : offsets[run[-1] + 1]]
    breaks = np.flatnonzero(np.diff(run) != 1) + 1
    firsts = np.concatenate(([0], breaks))
    lasts = np.concatenate((breaks, [len(run)])) - 1
    return b"".join(view[offsets[run[first]] : offsets[run[last] + 1]] for first, last in zip(firsts, lasts))


def _bulk(block: LineBlock, run: np.ndarray, plan: _Plan) -> tuple[pa.Table, np.ndarray] | None:
    """The run's rows that pass every vector rule, and which lines they are; None when Arrow refuses
    the run (some line in it is not what the column types admit)."""
    # Framing makes every line start a JSON document, so equal counts mean one row per line, in order.
    try:
        table = pa_json.read_json(
            pa.BufferReader(_gather(block, run)),
            read_options=pa_json.ReadOptions(block_size=_ARROW_BLOCK),
            parse_options=pa_json.ParseOptions(explicit_schema=plan.parse_schema, unexpected_field_behavior="error"),
        )
        if table.num_rows != len(run):
            return None
        for column in plan.strings:
            table[column].validate(full=True)  # Arrow's reader takes bad UTF-8 into strings unchecked
        return _apply_rules(table, plan)
    except (pa.ArrowInvalid, ValueError):  # ValueError: pyarrow reports bad UTF-8 as UnicodeDecodeError
        return None


def _mask(array: pa.ChunkedArray | pa.Array, null_as: bool) -> np.ndarray:
    return pc.fill_null(array, null_as).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _with_offset_in_utc(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, np.ndarray]:
    """A producer's timestamp text cast to UTC, and which rows the cast may be trusted for (a null
    passes: the required-field rule decides it). One cast when every row takes it (the usual case);
    otherwise `_WITH_OFFSET` picks the rows out for the reference first."""
    try:
        return pc.cast(column, pa.timestamp("us", "UTC")), np.ones(len(column), bool)
    except pa.ArrowInvalid:
        pass
    ok = _mask(pc.match_substring_regex(column, _WITH_OFFSET), True)
    if not ok.all():
        column = pc.if_else(pa.array(ok), column, "2000-01-01T00:00:00Z")
    # An impossible date that passed the pattern (2026-02-30) fails the cast: the run is split.
    return pc.cast(column, pa.timestamp("us", "UTC")), ok


def _firehose_shaped(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(rows whose text has the shape of the date-times Firehose takes, rows with a zone), read off
    the string buffers: `T` at 10 and `:` at 13 (a date, hours and minutes), no `+HH` or `+HHMM`
    offset, an `+HH:MM` one within 18:00. Of what Arrow's casts accept, that leaves exactly the
    `records.FIREHOSE_TIMESTAMP` forms (`test_the_timestamp_shape_admits_only_firehose_forms`);
    a null passes (its column's rules decide it). A few array lookups, not a regular expression:
    the check runs on every producer's row too."""
    shaped, zoned = [np.ones(0, bool)], [np.zeros(0, bool)]
    for chunk in column.chunks:
        offsets = np.frombuffer(chunk.buffers()[1], np.int32)[chunk.offset : chunk.offset + len(chunk) + 1]
        data = np.frombuffer(chunk.buffers()[2] or b"", np.uint8)
        ok = np.diff(offsets) >= 16
        is_zoned = np.zeros(len(chunk), bool)
        if data.size >= 16 and ok.any():
            start, end = np.where(ok, offsets[:-1], 0), np.where(ok, offsets[1:], 16)
            # One gather: the characters at 10 and 13, and the last six (an offset's place).
            c10, c13, c6, c5, c4, c3, c2, c1 = data[np.stack((start + 10, start + 13, *(end - k for k in _LAST)))]
            sign = (c6 == _PLUS) | (c6 == _MINUS)
            minutes = (c2.astype(np.int16) - _ZERO) * 10 + c1 - _ZERO
            offset = ((c5.astype(np.int16) - _ZERO) * 10 + c4 - _ZERO) * 60 + minutes
            ok &= (c10 == _T) & (c13 == _COLON)
            ok &= (c3 != _PLUS) & (c3 != _MINUS) & (c5 != _PLUS) & (c5 != _MINUS)  # no +HH, no +HHMM
            ok &= ~sign | ((c3 == _COLON) & (minutes <= 59) & (offset <= 18 * 60))
            is_zoned = ok & (sign | (c1 == _Z))
        if chunk.null_count:
            ok |= ~chunk.is_valid().to_numpy(zero_copy_only=False)
        shaped.append(ok)
        zoned.append(is_zoned)
    return np.concatenate(shaped), np.concatenate(zoned)


def _firehose_in_utc(column: pa.ChunkedArray, zoned: np.ndarray) -> pa.ChunkedArray:
    """The stream's (shaped) timestamp text as UTC without zone: rows with a zone converted, rows
    without read as they are. Each cast sees only its kind; a placeholder stands in for the other."""
    as_utc, naive = pa.timestamp("us", "UTC"), pa.timestamp("us")
    if zoned.all():
        return pc.cast(pc.cast(column, as_utc), naive)
    mask = pa.array(zoned)
    without_zone = pc.cast(pc.if_else(mask, "2000-01-01T00:00:00", column), naive)
    if not zoned.any():
        return without_zone
    with_zone = pc.cast(pc.cast(pc.if_else(mask, column, "2000-01-01T00:00:00Z"), as_utc), naive)
    return pc.if_else(mask, with_zone, without_zone)


def _apply_rules(table: pa.Table, plan: _Plan) -> tuple[pa.Table, np.ndarray]:
    bad = np.zeros(table.num_rows, bool)
    for name in plan.timestamps:
        column = table[name]
        shaped, zoned = _firehose_shaped(column)
        bad |= ~shaped
        if not shaped.all():  # what the reference decides stands in as a harmless placeholder
            column = pc.if_else(pa.array(shaped), column, "2000-01-01T00:00:00Z")
            zoned = zoned | ~shaped
        if plan.producer:  # an offset is required (the cast to a zoned timestamp fails without one)
            column, ok = _with_offset_in_utc(column)
            bad |= ~ok
        else:
            column = _firehose_in_utc(column, zoned)
        column = pc.cast(column, pa.timestamp("us"))
        table = table.set_column(table.schema.get_field_index(name), name, column)
        micros = pc.cast(column, pa.int64())
        bad |= _mask(pc.or_(pc.less(micros, _EARLIEST_US), pc.greater_equal(micros, _LATEST_US)), False)
    if plan.producer:
        for name in plan.required:
            if table[name].null_count:
                bad |= _mask(pc.is_null(table[name]), False)
        if plan.has_user_id:
            kept = pc.binary_length(pc.utf8_ltrim(table["user_id"], characters=_PYTHON_WHITESPACE))
            bad |= _mask(pc.equal(kept, 0), False)
        for name in plan.scores:
            column = table[name]
            bad |= _mask(pc.or_(pc.less(column, 0), pc.greater(column, 10)), False)
        if plan.has_flags:
            bad |= _mask(pc.less(table["flags"], 0), False)
    good = ~bad
    rows = table.cast(plan.table_schema)
    return (rows if good.all() else rows.filter(pa.array(good))), good


def _assemble(
    block: LineBlock,
    schema: TableSchema,
    producer: bool,
    parts: list[tuple[np.ndarray, pa.Table]],
    one_by_one: np.ndarray,
) -> CheckedLines:
    table_schema = schema.to_arrow()
    rejected: list[tuple[int, RecordRejected]] = []
    records: list[dict[str, Any]] = []
    encoded: list[bytes] = []
    accepted: list[int] = []
    for i in one_by_one.tolist():
        try:
            record, data = check_line(block.raw_line(i), schema, producer=producer)
        except RecordRejected as err:
            rejected.append((i, err))
            continue
        records.append(record)
        encoded.append(data)
        accepted.append(i)
    slow_rows, records_ok = _rows_from_records(records, table_schema)
    for keep, i in zip(records_ok, list(accepted)):
        if not keep:
            rejected.append((i, RecordRejected("TypeMismatch", "a value does not fit its column's type")))
    if not all(records_ok):
        encoded = [e for e, keep in zip(encoded, records_ok) if keep]
        accepted = [i for i, keep in zip(accepted, records_ok) if keep]
    parts = sorted(parts, key=lambda part: part[0][0] if len(part[0]) else 0)
    parts = [(index, rows) for index, rows in parts if len(index)]
    accepted_data: bytes | bytearray
    if len(parts) == 1 and not encoded and len(parts[0][0]) == len(block):
        accepted_data = block.data  # the whole block passed in bulk: no copy
    else:
        accepted_data = b"".join([bytes(_gather(block, index)) for index, _ in parts] + encoded)
    tables = [rows for _, rows in parts]
    if slow_rows.num_rows:
        tables.append(slow_rows)
    rows = pa.concat_tables(tables) if tables else table_schema.empty_table()
    index = np.concatenate([index for index, _ in parts] + [np.asarray(accepted, np.int64)])
    rejected.sort(key=lambda item: item[0])
    return CheckedLines(data=accepted_data, rows=rows, index=index, rejected=rejected, schema=schema)


def _rows_from_records(records: list[dict[str, Any]], table_schema: pa.Schema) -> tuple[pa.Table, list[bool]]:
    """The reference's records as Arrow rows; a record whose value Arrow cannot hold in the column's
    type (a decimal wider than its precision) is marked, not raised."""
    try:
        return pa.Table.from_pylist(records, schema=table_schema), [True] * len(records)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        kept, ok = [], []
        for record in records:
            try:
                pa.Table.from_pylist([record], schema=table_schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
                ok.append(False)
                continue
            kept.append(record)
            ok.append(True)
        return pa.Table.from_pylist(kept, schema=table_schema), ok
