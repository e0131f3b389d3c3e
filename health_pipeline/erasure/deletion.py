"""What the erasure part of either stack reports (`engines.local.erasure`, `engines.aws.erasure`), and
what both share: the snapshot tag of its commits, the table's recorded_at bounds, local error output."""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from pyiceberg.table import Table

from health_pipeline.delivery.stream import ErrorOutput
from health_pipeline.erasure.matching import error_document_mentions
from health_pipeline.schema.types import timestamp_from_bound

# An erasure's commits carry table maintenance's tag with this value: the new-data sensor skips them
# (a delete is not late data), as it skips compaction.
ERASURE_TAG = "erasure"
RETENTION_TAG = "retention"


@dataclass
class DeletedRows:
    rows: int
    files_rewritten: int = 0
    files_removed: int = 0
    statement: str | None = None
    query_id: str | None = None
    snapshot_ids: list[int] = field(default_factory=list)
    found: int | None = None  # the rows the day-finding query counted just before the delete

    def describe(self) -> str:
        if self.query_id:
            return f"Athena query {self.query_id}"
        return f"{self.files_rewritten} file(s) rewritten, {self.files_removed} dropped, snapshots {self.snapshot_ids}"

    def details(self) -> dict:
        out: dict = {"rows": self.rows, "files_rewritten": self.files_rewritten, "files_removed": self.files_removed}
        if self.query_id:
            out["query_id"] = self.query_id
        if self.snapshot_ids:
            out["snapshot_ids"] = self.snapshot_ids
        if self.found is not None and self.found != self.rows:
            out["rows_found_before"] = self.found
        return out


@dataclass
class History:
    """When the deleted rows' bytes are gone from storage, and how."""

    gone_by: datetime
    details: dict = field(default_factory=dict)

    def describe(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.details.items()) + f"; bytes gone by {self.gone_by.isoformat()}"


def recorded_at_bounds(table: Table | None) -> tuple[datetime, datetime] | None:
    """The oldest and newest recorded_at of the table's live data files, from their manifest bounds
    (no data read); None for an empty table."""
    if table is None or table.current_snapshot() is None:
        return None
    field_id = table.schema().find_field("recorded_at").field_id
    lows, highs = [], []
    for task in table.scan().plan_files():
        lower = (task.file.lower_bounds or {}).get(field_id)
        upper = (task.file.upper_bounds or {}).get(field_id)
        if lower is not None and upper is not None:
            lows.append(timestamp_from_bound(lower))
            highs.append(timestamp_from_bound(upper))
    return (min(lows), max(highs)) if lows else None


def purge_error_documents(errors: ErrorOutput, user_ids: Collection[str]) -> int:
    """Delete the local error documents that hold a record of `user_ids`; returns how many."""
    removed = 0
    for path in errors.documents():
        try:
            if error_document_mentions(path.read_bytes(), user_ids):
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def days_of(keys: list[str], key_of) -> list[date]:
    """The days whose key (`key_of(day)`: .../date=YYYY-MM-DD/...) is among `keys`."""
    days = []
    for key in keys:
        folder = next((part for part in key.split("/") if part.startswith("date=")), "")
        try:
            day = date.fromisoformat(folder[len("date=") :])
        except ValueError:
            continue
        if key_of(day) == key:
            days.append(day)
    return sorted(days)


def purge_json_lines(directory: Path, user_ids: Collection[str]) -> int:
    """Remove the lines that hold a record of `user_ids` from every `*.jsonl` file under `directory`
    (a file left empty is deleted); returns the lines removed."""
    removed = 0
    for path in sorted(directory.rglob("*.jsonl")) if directory.is_dir() else []:
        lines = path.read_bytes().splitlines(keepends=True)
        kept = [line for line in lines if not error_document_mentions(line, user_ids)]
        if len(kept) == len(lines):
            continue
        removed += len(lines) - len(kept)
        if kept:
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(b"".join(kept))
            os.replace(tmp, path)
        else:
            path.unlink()
    return removed
