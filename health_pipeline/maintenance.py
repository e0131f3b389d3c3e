"""What table maintenance reports in either mode (`engines.local.maintenance` does the work locally,
`engines.aws.maintenance` reads what S3 Tables did), and the snapshot tag its own commits carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from pyiceberg.table import Table

MAINTENANCE_PROPERTY = "health-pipeline.maintenance"


@dataclass(frozen=True)
class MaintenancePolicy:
    snapshot_retention: timedelta = timedelta(hours=24)
    closed_after: timedelta = timedelta(hours=24)
    keep_last: int = 1
    # A file no kept snapshot references is deleted once it is this old: a write in progress has put
    # its files down but not yet committed them (S3 Tables' unreferenced file removal waits days).
    unreferenced_after: timedelta = timedelta(hours=1)


@dataclass
class MaintenanceReport:
    """What a maintenance run found and did, as figures an operator can compare run to run."""

    state: str = "OK"
    figures: dict[str, int | float | str | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    compacted_days: list[str] = field(default_factory=list)


def table_figures(table: Table, prefix: str) -> dict[str, int]:
    """Snapshots, current manifests, data files, records and bytes of the table's current state."""
    current = table.current_snapshot()
    files = list(table.scan().plan_files()) if current is not None else []
    return {
        f"snapshots_{prefix}": len(table.metadata.snapshots),
        f"manifests_{prefix}": len(current.manifests(table.io)) if current is not None else 0,
        f"data_files_{prefix}": len(files),
        f"records_{prefix}": sum(task.file.record_count for task in files),
        f"data_bytes_{prefix}": sum(task.file.file_size_in_bytes for task in files),
    }
