"""A segment's commit to the table: one Iceberg append, one snapshot, tagged with the segment's name in
the snapshot summary, so a segment whose commit landed before a crash is recognised and never
committed twice."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
from pyiceberg.table import Table

from health_pipeline.engines.local.pyiceberg_patches import append_each, conform_rows
from health_pipeline.engines.local.table import flocked
from health_pipeline.schema.model import TableSchema

if TYPE_CHECKING:
    from health_pipeline.engines.local.table import LocalIcebergTable

SEGMENT_PROPERTY = "health-pipeline.spool-segment"


def committed(table: Table, segment: str) -> bool:
    for snapshot in table.metadata.snapshots:
        summary = snapshot.summary
        if summary is not None and summary.additional_properties.get(SEGMENT_PROPERTY) == segment:
            return True
    return False


def commit_segments(
    table: LocalIcebergTable, desired: TableSchema, segments: list[tuple[str, pa.Table]], lock: Path
) -> list[int]:
    """Append each segment's rows as its own snapshot, all in one catalog commit, under the commit lock
    (held by every writer of the table); a segment already committed is skipped. Returns the new
    snapshot ids."""
    with flocked(lock):
        iceberg = table.load_or_create(desired)
        due = [(name, rows) for name, rows in segments if rows.num_rows and not committed(iceberg, name)]
        if not due:
            return []
        return append_each(iceberg, [(conform_rows(rows, iceberg), {SEGMENT_PROPERTY: name}) for name, rows in due])
