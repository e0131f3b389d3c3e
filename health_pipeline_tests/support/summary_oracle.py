"""The daily summary's oracle: records at the day's edges, the summary computed in pandas without the
project's SQL, and its CSV read back as a frame."""

import functools
import operator
from datetime import date

import pandas as pd

from health_pipeline.summary.csv_format import CSV_COLUMNS

EDGE_RECORDS = [
    # 00:00:00.000000 Tokyo on DAY, three spellings of instants around it
    {
        "user_id": "edge-start",
        "recorded_at": "2026-11-11T00:00:00.000000+09:00",
        "fatigue": 1,
        "mood": 2,
        "motivation": 3,
        "flags": 1,
    },
    {
        "user_id": "edge-start",
        "recorded_at": "2026-11-10T14:59:59.999999Z",
        "fatigue": 9,
        "mood": 9,
        "motivation": 9,
        "flags": 64,
    },
    {
        "user_id": "edge-start",
        "recorded_at": "2026-11-10T15:00:00.000001+00:00",
        "fatigue": 3,
        "mood": 4,
        "motivation": 5,
        "flags": 2,
    },
    # 23:59:59.999999 Tokyo on DAY is in; the next microsecond is the next day
    {
        "user_id": "edge-end",
        "recorded_at": "2026-11-11T23:59:59.999999+09:00",
        "fatigue": 10,
        "mood": 0,
        "motivation": 10,
        "flags": 4,
    },
    {
        "user_id": "edge-end",
        "recorded_at": "2026-11-11T15:00:00Z",
        "fatigue": 0,
        "mood": 0,
        "motivation": 0,
        "flags": 128,
    },
    {
        "user_id": "edge-end",
        "recorded_at": "2026-11-11T14:59:59.999998+00:00",
        "fatigue": 4,
        "mood": 5,
        "motivation": 6,
        "flags": 8,
    },
    # non-ASCII and quoting in user ids; an exact duplicate sent twice
    {
        "user_id": "利用者-さくら",
        "recorded_at": "2026-11-11T12:00:00+09:00",
        "fatigue": 5,
        "mood": 5,
        "motivation": 5,
        "flags": 0,
    },
    {
        "user_id": 'o\'brien, "the" user',
        "recorded_at": "2026-11-11T03:00:00Z",
        "fatigue": 7,
        "mood": 6,
        "motivation": 2,
        "flags": 3,
    },
    {
        "user_id": 'o\'brien, "the" user',
        "recorded_at": "2026-11-11T03:00:00Z",
        "fatigue": 7,
        "mood": 6,
        "motivation": 2,
        "flags": 3,
    },
    {
        "user_id": 'o\'brien, "the" user',
        "recorded_at": "2026-11-11T12:30:00+09:00",
        "fatigue": 2,
        "mood": 3,
        "motivation": 9,
        "flags": 16,
    },
]


def expected_summary(records: list[dict], day: date, zone: str = "Asia/Tokyo") -> pd.DataFrame:
    """Computed without the project's SQL: pandas over the records as sent."""
    frame = pd.DataFrame(records)
    frame["utc"] = pd.to_datetime(frame["recorded_at"], utc=True, format="ISO8601")
    frame = frame[frame["utc"].dt.tz_convert(zone).dt.date == day]
    frame = frame.drop_duplicates(subset=["user_id", "utc"])
    grouped = frame.groupby("user_id", sort=True)
    out = pd.DataFrame({"record_count": grouped.size()})
    for score in ("fatigue", "mood", "motivation"):
        out[f"{score}_avg"] = grouped[score].mean().round(3)
        out[f"{score}_min"] = grouped[score].min()
        out[f"{score}_max"] = grouped[score].max()
    out["flags_any"] = grouped["flags"].agg(lambda s: functools.reduce(operator.or_, s, 0))
    out = out.reset_index()
    out.insert(0, "date", day.isoformat())
    return (
        out[list(CSV_COLUMNS)].sort_values("user_id", key=lambda s: s.map(lambda v: v.encode())).reset_index(drop=True)
    )


def read_summary_csv(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"user_id": str, "date": str}, keep_default_na=False, encoding="utf-8")


def read_summary_csv_bytes(data: bytes) -> pd.DataFrame:
    import io

    return read_summary_csv(io.BytesIO(data))
