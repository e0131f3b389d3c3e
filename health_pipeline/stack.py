"""What every engine returns or raises, whichever system runs the query."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import pyarrow as pa

from health_pipeline.schema import TableLayout, TableSchema, read_desired_layout, read_desired_schema
from health_pipeline.settings import Settings


class QueryFailed(RuntimeError):
    """A query did not succeed; the message says which query, why, and what to do."""


@dataclass
class QueryResult:
    query_id: str
    rows: pa.Table
    sql: str
    bytes_scanned: int
    files_scanned: int
    elapsed_s: float
    engine: str
    result_location: str | None = None
    cost_usd: float | None = None
    extra: dict = field(default_factory=dict)

    def metadata(self) -> dict:
        meta = {
            "query_id": self.query_id,
            "engine": self.engine,
            "bytes_scanned": self.bytes_scanned,
            "files_scanned": self.files_scanned,
            "elapsed_s": round(self.elapsed_s, 3),
        }
        if self.result_location:
            meta["result_location"] = self.result_location
        if self.cost_usd is not None:
            meta["cost_usd"] = self.cost_usd
        meta.update(self.extra)
        return meta


@dataclass(frozen=True)
class ExportedFile:
    """Where an export store put a CSV summary, its size, and how (written, or copied server-side)."""

    location: str
    size_bytes: int | None
    how: str


@dataclass
class TerraformDesired:
    """What both stacks read from the Terraform they are given: the desired schema and layout."""

    settings: Settings

    def desired_schema(self) -> TableSchema:
        """The schema Terraform declares (the Glue module's columns), read afresh on every call."""
        return read_desired_schema(self.settings.glue_module_dir)

    def desired_layout(self) -> TableLayout | None:
        """The partition spec and sort order Terraform declares (the S3 Tables module's table); None
        when the Terraform directory has no modules/s3tables (the layout is then not compared)."""
        module = self.settings.s3tables_module_dir
        return read_desired_layout(module) if module.is_dir() else None


class Stack(Protocol):
    """The parts every mode has (`engines.local.LocalStack`, `engines.aws.AwsStack`); the Dagster
    definitions take one stack as their `stack` resource and use nothing else for I/O."""

    query_kind: ClassVar[str]
    export_kinds: ClassVar[frozenset[str]]
    settings: Settings  # its home names where a fault of the machine happened
    table: Any
    query_engine: Any
    export_store: Any
    delivery_stream: Any
    delivery_monitor: Any
    schema_target: Any

    summary_store: Any
    maintenance: Any
    alert_destination: Any
    erasure: Any

    def desired_schema(self) -> Any: ...
