"""The difference between the desired (Terraform) schema and the live Iceberg schema, classified.

- additive: a column only in desired; safe to add automatically (old rows read it as null).
- promotion: int->bigint, float->double, a wider decimal; Iceberg does it in place, but only when a
  person confirms the plan's fingerprint.
- needs_person: anything else (another type change, a dropped column, what looks like a rename).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from health_pipeline.schema.model import TableSchema

ADDITIVE = "additive"
PROMOTION = "promotion"
NEEDS_PERSON = "needs_person"


@dataclass(frozen=True)
class DriftItem:
    column: str
    kind: str
    desired_type: str | None
    live_type: str | None
    reason: str

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)

    @property
    def wanted_type(self) -> str:
        """The desired type of an item that has one (every additive item and promotion)."""
        if self.desired_type is None:
            raise ValueError(f"the drift of column {self.column} ({self.kind}) has no desired type")
        return self.desired_type


def is_allowed_promotion(live_type: str, desired_type: str) -> bool:
    if (live_type, desired_type) in {("int", "bigint"), ("float", "double")}:
        return True
    if live_type.startswith("decimal(") and desired_type.startswith("decimal("):
        live_p, live_s = (int(x) for x in live_type[8:-1].split(","))
        want_p, want_s = (int(x) for x in desired_type[8:-1].split(","))
        return want_s == live_s and want_p > live_p
    return False


def diff_schemas(desired: TableSchema, live: TableSchema) -> list[DriftItem]:
    """Every difference, in desired's column order, then the live-only columns."""
    only_desired = [c for c in desired.columns if live.get(c.name) is None]
    only_live = [c for c in live.columns if desired.get(c.name) is None]
    live_only_types = {c.glue_type for c in only_live}
    desired_only_types = {c.glue_type for c in only_desired}
    items: list[DriftItem] = []
    for column in desired.columns:
        live_column = live.get(column.name)
        if live_column is None:
            if column.glue_type in live_only_types:
                items.append(
                    DriftItem(
                        column.name,
                        NEEDS_PERSON,
                        column.glue_type,
                        None,
                        f"new column {column.name} ({column.glue_type}) may be a rename of a live column of the same"
                        " type that Terraform no longer declares. Options: if it is a rename, rename it in Iceberg"
                        " by hand (Athena on S3 Tables cannot) or restore the old name in Terraform; if not, add"
                        " the new column and drop the old one in two separate changes.",
                    )
                )
            else:
                items.append(
                    DriftItem(
                        column.name,
                        ADDITIVE,
                        column.glue_type,
                        None,
                        f"column {column.name} ({column.glue_type}) is declared in Terraform but not in the"
                        " Iceberg table; the schema_migration job adds it (old rows read it as null).",
                    )
                )
        elif live_column.glue_type != column.glue_type:
            if is_allowed_promotion(live_column.glue_type, column.glue_type):
                items.append(
                    DriftItem(
                        column.name,
                        PROMOTION,
                        column.glue_type,
                        live_column.glue_type,
                        f"{column.name}: {live_column.glue_type} -> {column.glue_type} is an allowed Iceberg"
                        " promotion; launch schema_migration with config confirm=<plan fingerprint> to apply it.",
                    )
                )
            else:
                items.append(
                    DriftItem(
                        column.name,
                        NEEDS_PERSON,
                        column.glue_type,
                        live_column.glue_type,
                        f"{column.name}: {live_column.glue_type} -> {column.glue_type} is not a type change Iceberg"
                        " can make in place. Options: revert the type in Terraform; or add a new column of the new"
                        " type, backfill it, move readers, then drop the old one.",
                    )
                )
    for column in only_live:
        rename_hint = " (it may have been renamed)" if column.glue_type in desired_only_types else ""
        items.append(
            DriftItem(
                column.name,
                NEEDS_PERSON,
                None,
                column.glue_type,
                f"column {column.name} is in the Iceberg table but no longer in Terraform{rename_hint}. Options:"
                " restore it in Terraform; or, after confirming nothing reads it, drop it from Iceberg by hand"
                " with ALTER TABLE ... DROP COLUMN (its data stays in old files).",
            )
        )
    return items
