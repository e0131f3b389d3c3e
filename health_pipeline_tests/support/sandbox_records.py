"""Records for the sandbox's tests, as the table holds them."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa


def sandbox_records(*, seed: int, count: int, users: int = 40, days: int = 3) -> pa.Table:
    """Records as the table holds them (recorded_at UTC without zone, microseconds), over `days` days from
    2026-11-01 00:00 UTC, with a few exact duplicates (at-least-once delivery)."""
    rng = np.random.default_rng(seed)
    copies = count // 50
    total, count = count, count - copies
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
    both = pa.concat_tables([table, table.slice(0, copies)])
    assert both.num_rows == total
    return both


def round_half_up(value: float, digits: int = 3) -> float:
    """ROUND(x, d) as Trino (and DuckDB) round a double: halves away from zero (5.3125 -> 5.313), where
    pandas' round gives the nearest binary value (5.312)."""
    from decimal import ROUND_HALF_UP, Decimal

    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def expected_day_summary(records: pa.Table, day: date, zone: str) -> pd.DataFrame:
    """The contract's daily summary of `records` (recorded_at UTC without zone) for `day` in `zone`,
    computed with pandas alone: exact duplicates once, averages rounded half away from zero."""
    import functools
    import operator

    frame = records.to_pandas()
    local_day = frame.recorded_at.dt.tz_localize("UTC").dt.tz_convert(zone).dt.date
    frame = frame[local_day == day].drop_duplicates(subset=["user_id", "recorded_at"])
    grouped = frame.groupby("user_id", sort=True)
    out = pd.DataFrame({"record_count": grouped.size()})
    for score in ("fatigue", "mood", "motivation"):
        out[f"{score}_avg"] = grouped[score].mean().map(round_half_up)
        out[f"{score}_min"] = grouped[score].min()
        out[f"{score}_max"] = grouped[score].max()
    out["flags_any"] = grouped["flags"].agg(lambda s: functools.reduce(operator.or_, s, 0))
    out = out.reset_index()
    out.insert(0, "date", day.isoformat())
    return out.reset_index(drop=True)
