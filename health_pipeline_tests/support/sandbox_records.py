"""Records for the sandbox's tests, as the table holds them."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa


def sandbox_records(*, seed: int, count: int, users: int = 40, days: int = 3) -> pa.Table:
    """Records as the table holds them (recorded_at UTC without zone, microseconds), over `days` days from
    2026-11-01 00:00 UTC, with a few exact duplicates (at-least-once delivery)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64(datetime(2026, 11, 1), "us")
    moments = start + rng.integers(0, days * 86_400 * 10**6, count).astype("timedelta64[us]")
    user_ids = [f"user-{n:03d}" for n in rng.integers(0, users, count)]
    table = pa.table(
        {
            "user_id": pa.array(user_ids, pa.string()),
            "recorded_at": pa.array(moments, pa.timestamp("us")),
            "fatigue": pa.array(rng.integers(0, 11, count), pa.int32()),
            "mood": pa.array(rng.integers(0, 11, count), pa.int32()),
            "motivation": pa.array(rng.integers(0, 11, count), pa.int32()),
            "flags": pa.array(rng.choice([0, 0, 1, 2, 4, 8, 9], count), pa.int32()),
        }
    )
    return pa.concat_tables([table, table.slice(0, count // 50)]).slice(0, count)
