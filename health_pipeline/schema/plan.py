"""The migration plan: what to change in the live Iceberg schema so it matches Terraform, and the DDL.

Athena DDL cannot take parameters, so every identifier and type that reaches the DDL text is checked
against an allow-list first: a column named `x); DROP TABLE t` is refused before any SQL is built.
The table's layout (partition spec, sort order) is compared too; a difference needs a person.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from health_pipeline.identifiers import UnsafeSchemaError, check_identifier
from health_pipeline.schema.drift import ADDITIVE, NEEDS_PERSON, PROMOTION, DriftItem, diff_schemas
from health_pipeline.schema.layout import TableLayout, layout_reason
from health_pipeline.schema.model import Column, TableSchema
from health_pipeline.schema.types import UnsupportedTypeError, normalize_glue_type

IN_SYNC = "in_sync"
ADDITIVE_DRIFT = "additive_drift"
NEEDS_A_PERSON = "needs_person"
TABLE_ABSENT = "table_absent"
LAYOUT = "(layout)"  # the drift item of a partition spec or sort order that differs


def check_type(glue_type: str) -> str:
    try:
        return normalize_glue_type(glue_type)
    except UnsupportedTypeError as err:
        raise UnsafeSchemaError(str(err)) from err


@dataclass(frozen=True)
class MigrationPlan:
    """Desired vs live (and, in aws mode, the Glue catalog's own columns), the drift, and what to run;
    with the desired and live layouts when the target reads them."""

    table: str
    desired: TableSchema
    live: TableSchema | None
    catalog: TableSchema | None = None
    items: tuple[DriftItem, ...] = field(default=())
    desired_layout: TableLayout | None = None
    live_layout: TableLayout | None = None

    @classmethod
    def build(
        cls,
        table: str,
        desired: TableSchema,
        live: TableSchema | None,
        catalog: TableSchema | None = None,
        *,
        desired_layout: TableLayout | None = None,
        live_layout: TableLayout | None = None,
    ):
        items = diff_schemas(desired, live) if live is not None else []
        checked = []
        for item in items:
            if item.kind == ADDITIVE:
                try:
                    check_identifier(item.column)
                    check_type(item.wanted_type)
                except UnsafeSchemaError as err:
                    item = DriftItem(
                        item.column,
                        NEEDS_PERSON,
                        item.desired_type,
                        item.live_type,
                        f"{err}. Options: rename the column in local.columns of terraform/modules/s3tables/main.tf.",
                    )
            checked.append(item)
        if live is not None and desired_layout is not None and live_layout is not None:
            reason = layout_reason(desired_layout, live_layout, table)
            if reason:
                desired_text = f"{desired_layout.partition_text} / {desired_layout.sort_text}"
                live_text = f"{live_layout.partition_text} / {live_layout.sort_text}"
                checked.append(DriftItem(LAYOUT, NEEDS_PERSON, desired_text, live_text, reason))
        return cls(
            table=table,
            desired=desired,
            live=live,
            catalog=catalog,
            items=tuple(checked),
            desired_layout=desired_layout,
            live_layout=live_layout,
        )

    @property
    def additive(self) -> list[DriftItem]:
        return [i for i in self.items if i.kind == ADDITIVE]

    @property
    def promotions(self) -> list[DriftItem]:
        return [i for i in self.items if i.kind == PROMOTION]

    @property
    def needs_person(self) -> list[DriftItem]:
        return [i for i in self.items if i.kind in (NEEDS_PERSON, PROMOTION)]

    @property
    def state(self) -> str:
        if self.live is None:
            return TABLE_ABSENT
        if self.needs_person:
            return NEEDS_A_PERSON
        if self.additive:
            return ADDITIVE_DRIFT
        return IN_SYNC

    @property
    def fingerprint(self) -> str:
        payload = json.dumps(
            {
                "table": self.table,
                "desired": self.desired.fingerprint,
                "live": self.live.fingerprint if self.live else None,
                "items": [item.as_dict() for item in self.items],
            },
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def add_columns_ddl(self) -> str | None:
        """`ALTER TABLE t ADD COLUMNS (...)` for the additive part, or None when there is none."""
        if not self.additive:
            return None
        table = check_identifier(self.table, "table")
        columns = ", ".join(f"{check_identifier(i.column)} {check_type(i.wanted_type)}" for i in self.additive)
        return f"ALTER TABLE {table} ADD COLUMNS ({columns})"

    def promotion_ddl(self) -> list[str]:
        table = check_identifier(self.table, "table")
        return [
            f"ALTER TABLE {table} CHANGE COLUMN {check_identifier(i.column)} {check_identifier(i.column)}"
            f" {check_type(i.wanted_type)}"
            for i in self.promotions
        ]

    def verification_sql(self, columns: list[str]) -> str:
        """The pipeline pattern's test query for new columns, obeying the query rules (a recorded_at range)."""
        table = check_identifier(self.table, "table")
        names = ", ".join(check_identifier(c) for c in columns)
        return f"SELECT {names} FROM {table} WHERE recorded_at >= ? AND recorded_at < ? LIMIT 1"

    def added_columns(self) -> list[Column]:
        return [Column(i.column, i.wanted_type) for i in self.additive]

    def as_dict(self) -> dict:
        return {
            "table": self.table,
            "state": self.state,
            "fingerprint": self.fingerprint,
            "desired": {"fingerprint": self.desired.fingerprint, "columns": self.desired.as_rows()},
            "catalog": None if self.catalog is None else {"columns": self.catalog.as_rows()},
            "live": None
            if self.live is None
            else {"fingerprint": self.live.fingerprint, "columns": self.live.as_rows()},
            "layout": {
                "desired": None if self.desired_layout is None else self.desired_layout.as_dict(),
                "live": None if self.live_layout is None else self.live_layout.as_dict(),
            },
            "drift": [item.as_dict() for item in self.items],
            "ddl": {"add_columns": self.add_columns_ddl(), "promotions": self.promotion_ddl()},
        }
