"""`health-pipeline estimate`'s report for a person: the queries, files, bytes and dollars a summary
of a range of days should cost, one line each."""

from __future__ import annotations

from datetime import date

from health_pipeline.summary.estimate import BackfillEstimate


def _size(count: int) -> str:
    for unit, scale in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def _usd(amount: float) -> str:
    return f"${amount:.2f}" if amount >= 0.01 else f"${amount:.6f}"


def estimate_lines(
    estimate: BackfillEstimate, first: date, last: date, timezone: str, table: str, table_exists: bool
) -> list[str]:
    """The report's lines: the whole range first, then each query, then what the figures rest on."""
    days = (last - first).days + 1
    lines = [
        f"daily_health_summary {first}..{last} ({days} day(s) in {timezone}):"
        f" {len(estimate.queries)} Athena query(ies), {sum(q.files for q in estimate.queries)} data file(s),"
        f" {_size(estimate.scan_bytes)} to scan ({estimate.scan_bytes:,} bytes),"
        f" {_usd(estimate.cost_usd)} at $5 per TB, 10 MB minimum per query"
    ]
    lines += [
        f"  query {n}: recorded_at [{query.start.isoformat()}, {query.end.isoformat()}) UTC: {query.files}"
        f" file(s), {_size(query.scan_bytes)}, {_usd(query.cost_usd)}"
        for n, query in enumerate(estimate.queries, 1)
    ]
    if not table_exists:
        lines.append(f"  the table {table} does not exist yet: nothing to scan but each query's minimum")
    if any(q.files_without_column_sizes for q in estimate.queries):
        lines.append("  some files' manifest entries have no column sizes: those count whole (an overestimate)")
    lines.append(
        "  from the table's manifests (partition and min/max pruning, the columns the SQL reads); no query ran"
    )
    return lines
