"""The table's schema as plain data: columns, a fingerprint, and conversions to Iceberg and Arrow.

Plain Python: pyarrow and PyIceberg are imported only by the conversions, so the producer Lambda can
read the Glue columns and validate records without them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from health_pipeline.schema.types import arrow_type, glue_type_of, iceberg_type, normalize_glue_type

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.schema import Schema


@dataclass(frozen=True)
class Column:
    name: str
    glue_type: str

    def __post_init__(self) -> None:
        # Spelled canonically where the type is supported; a live type outside the allow-list is kept
        # as it is, so drift against it can be shown rather than crash.
        try:
            object.__setattr__(self, "glue_type", normalize_glue_type(self.glue_type))
        except ValueError:
            object.__setattr__(self, "glue_type", self.glue_type.strip().lower())


@dataclass(frozen=True)
class TableSchema:
    """An ordered list of columns: what Terraform declares, or what the live table has."""

    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def get(self, name: str) -> Column | None:
        return next((column for column in self.columns if column.name == name), None)

    @property
    def fingerprint(self) -> str:
        payload = json.dumps([[c.name, c.glue_type] for c in self.columns], separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def to_iceberg(self) -> Schema:
        from pyiceberg.schema import Schema
        from pyiceberg.types import NestedField

        # Glue columns declare no NOT NULL; Firehose writes nulls for missing fields, so all are optional.
        return Schema(
            *(
                NestedField(field_id=i, name=c.name, field_type=iceberg_type(c.glue_type), required=False)
                for i, c in enumerate(self.columns, start=1)
            )
        )

    def to_arrow(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema([pa.field(c.name, arrow_type(c.glue_type), nullable=True) for c in self.columns])

    @classmethod
    def from_iceberg(cls, schema: Schema) -> TableSchema:
        return cls(tuple(Column(f.name, glue_type_of(f.field_type)) for f in schema.fields))

    @classmethod
    def from_glue(cls, table: dict) -> TableSchema:
        """The columns of a Glue `GetTable` response's `Table`, as the catalog holds them. Columns that
        Iceberg no longer has carry `iceberg.field.current = false` and are left out."""
        columns = table.get("StorageDescriptor", {}).get("Columns", [])
        return cls(
            tuple(
                Column(c["Name"], c["Type"])
                for c in columns
                if c.get("Parameters", {}).get("iceberg.field.current", "true") != "false"
            )
        )

    def as_rows(self) -> list[dict[str, str]]:
        return [{"name": c.name, "type": c.glue_type} for c in self.columns]
