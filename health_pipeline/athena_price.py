"""Athena's price, which the engine reports for every query and the estimate predicts before one runs:
$5 per TB scanned, rounded up to the megabyte, 10 MB minimum per query, DDL free (Amazon Athena
pricing, https://aws.amazon.com/athena/pricing/)."""

from __future__ import annotations

import math

USD_PER_TB = 5.0
BYTES_PER_MB = 1024 * 1024
BYTES_PER_TB = 1024**4
MINIMUM_BILLED_BYTES = 10 * BYTES_PER_MB
FREE_STATEMENT_TYPES = frozenset({"DDL"})


def estimate_cost_usd(data_scanned_bytes: int, statement_type: str | None = "DML") -> float:
    """Athena's price: $5 per TB scanned, rounded up to the megabyte, 10 MB minimum; DDL is free."""
    if statement_type in FREE_STATEMENT_TYPES:
        return 0.0
    billed = max(MINIMUM_BILLED_BYTES, math.ceil(max(data_scanned_bytes, 0) / BYTES_PER_MB) * BYTES_PER_MB)
    return billed / BYTES_PER_TB * USD_PER_TB
