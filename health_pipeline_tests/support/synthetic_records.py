"""Plausible JSON Lines records made fast (vectorized), for the ingest benchmark and the crash test.

Records arrive roughly in time order over `days` days, as a stream's producers write them, with a
few late ones (a phone syncing after a day offline); `recorded_at` is ISO 8601 with microseconds, half
with `Z` and half in Tokyo time (`+09:00`). Each record's user_id is `<prefix><line number>` when
`unique_users`, so a test can tell exactly which lines reached the table.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

START = np.datetime64("2026-11-01T00:00:00", "us")
TOKYO = np.timedelta64(9 * 3600 * 10**6, "us")


def jsonl_records(
    count: int, *, prefix: str = "user-", unique_users: bool = False, days: int = 7, seed: int = 3
) -> bytes:
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.integers(0, days * 86_400 * 10**6, count))
    late = rng.random(count) < 0.02
    moments = START + (offsets - np.where(late, rng.integers(0, 86_400 * 10**6, count), 0)).astype("timedelta64[us]")
    tokyo = rng.random(count) < 0.5
    stamps = pc.if_else(
        pa.array(tokyo),
        pc.binary_join_element_wise(pa.array(np.datetime_as_string(moments + TOKYO, unit="us")), "+09:00", ""),
        pc.binary_join_element_wise(pa.array(np.datetime_as_string(moments, unit="us")), "Z", ""),
    )
    users = np.arange(1, count + 1) if unique_users else rng.integers(0, max(1, count // 200), count)
    user_ids = pc.binary_join_element_wise(prefix, pc.cast(pa.array(users), pa.string()), "")

    def score() -> pa.Array:
        return pc.cast(pa.array(rng.integers(0, 11, count)), pa.string())

    lines = pc.binary_join_element_wise(
        '{"user_id":"',
        user_ids,
        '","recorded_at":"',
        stamps,
        '","fatigue":',
        score(),
        ',"mood":',
        score(),
        ',"motivation":',
        score(),
        ',"flags":',
        pc.cast(pa.array(rng.choice([0, 0, 1, 2, 4, 8, 9], count)), pa.string()),
        "}\n",
        "",
    )
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], np.int32)[lines.offset : lines.offset + count + 1]
    return lines.buffers()[2].to_pybytes()[offsets[0] : offsets[-1]]  # the values back to back


def write_jsonl(path: Path, count: int, **options) -> Path:
    path.write_bytes(jsonl_records(count, **options))
    return path


def synthetic_day(start: datetime, records: int, users: int, rng: np.random.Generator) -> pa.Table:
    """`records` check-ins as the table holds them, spread over the 24 hours from `start` (UTC, no zone),
    by `users` users: for appending straight to a local table (benchmarks, memory tests)."""
    offsets_us = rng.integers(0, 86_400_000_000, records)
    base = np.datetime64(start, "us")
    return pa.table(
        {
            "user_id": pa.array([f"user-{n:06d}" for n in rng.integers(0, users, records)], pa.string()),
            "recorded_at": pa.array(base + offsets_us.astype("timedelta64[us]"), pa.timestamp("us")),
            "fatigue": pa.array(rng.integers(0, 11, records), pa.int32()),
            "mood": pa.array(rng.integers(0, 11, records), pa.int32()),
            "motivation": pa.array(rng.integers(0, 11, records), pa.int32()),
            "flags": pa.array(rng.choice([0, 1, 2, 4, 8], records), pa.int32()),
        }
    )
