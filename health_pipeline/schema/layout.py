"""The table's layout as plain data: its partition spec and sort order, desired (Terraform's
awscc_s3tables_table) or live (the Iceberg metadata), and what to do when they differ.

A live table laid out otherwise than Terraform declares is drift that needs a person: neither S3
Tables nor Athena changes a table's partitioning by itself, and `terraform apply` does not either
(the awscc table's `iceberg_metadata` is create-only and ignored after creation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.table import Table


@dataclass(frozen=True)
class PartitionField:
    column: str
    transform: str  # Iceberg's spelling: identity, day, hour, bucket[16], ...

    def __str__(self) -> str:
        return self.column if self.transform == "identity" else f"{self.transform}({self.column})"


@dataclass(frozen=True)
class SortField:
    column: str
    transform: str = "identity"
    direction: str = "asc"
    null_order: str = "nulls-first"

    def __str__(self) -> str:
        term = self.column if self.transform == "identity" else f"{self.transform}({self.column})"
        return f"{term} {self.direction.upper()} {self.null_order.upper().replace('-', ' ')}"


@dataclass(frozen=True)
class TableLayout:
    """How the table's files are laid out: by partition, and in which order within a file."""

    partition: tuple[PartitionField, ...] = ()
    sort: tuple[SortField, ...] = ()

    @property
    def partition_text(self) -> str:
        return ", ".join(map(str, self.partition)) or "unpartitioned"

    @property
    def sort_text(self) -> str:
        return ", ".join(map(str, self.sort)) or "unsorted"

    def as_dict(self) -> dict[str, str]:
        return {"partition_spec": self.partition_text, "sort_order": self.sort_text}

    @classmethod
    def from_iceberg(cls, table: Table) -> TableLayout:
        """The live layout of a PyIceberg table (its default partition spec and sort order)."""
        schema = table.schema()

        def column(source_id: int) -> str:
            return schema.find_column_name(source_id) or f"<field {source_id}>"

        return cls(
            partition=tuple(PartitionField(column(f.source_id), str(f.transform)) for f in table.spec().fields),
            sort=tuple(
                SortField(column(f.source_id), str(f.transform), _word(f.direction), _word(f.null_order))
                for f in table.sort_order().fields
            ),
        )


def _word(value: object) -> str:
    """`asc`, `nulls-first`: how Iceberg's metadata (and awscc) spell a direction or null order."""
    text = str(getattr(value, "value", value)).lower()
    return text.replace(" ", "-")


def layout_reason(desired: TableLayout, live: TableLayout, table: str) -> str | None:
    """Why the live layout needs a person, with the ways to fix it; None when it is the desired one."""
    if desired == live:
        return None
    spec = ", ".join(
        f"{f.transform}s({f.column})" if f.transform in ("year", "month", "day", "hour") else str(f)
        for f in desired.partition
    )
    order = ", ".join(map(str, desired.sort))
    steps = []
    if desired.partition != live.partition:
        steps.append(f"ALTER TABLE {table} ADD PARTITION FIELD {spec}")  # Spark's Iceberg SQL extensions
    if desired.sort != live.sort:
        steps.append(f"ALTER TABLE {table} WRITE ORDERED BY {order}")
    return (
        f"the live table is laid out {live.partition_text} / {live.sort_text}; Terraform declares"
        f" {desired.partition_text} / {desired.sort_text}. Neither terraform apply (the awscc table's"
        " iceberg_metadata is create-only) nor the schema_migration job changes a layout, and Athena's Iceberg"
        " DDL changes columns only. Options: (1) evolve it in place through an Iceberg catalog that commits to the table"
        " (S3 Tables' Iceberg REST endpoint, or Glue's; Spark with the Iceberg SQL extensions: "
        + "; ".join(steps)
        + "; or PyIceberg's update_spec() / update_sort_order()): files written from then on follow it,"
        " older ones keep theirs until rewritten; (2) recreate the table from Terraform and copy the rows"
        " (INSERT INTO ... SELECT with a recorded_at range per day) while producers are paused. See"
        " docs/schema-change-runbook.md, 'A table laid out otherwise'."
    )
