"""The contract between the core and the two stacks: read this first.

One Protocol per part of a stack (`Table`, `QueryEngine`, `ExportStore`, `DeliveryStream`,
`DeliveryMonitor`, `SchemaTarget`, `TableMaintenance`, `AlertDestination`, `Erasure`), the `Stack`
that holds them, and what the parts return or raise (`QueryResult`, `QueryFailed`, `ExportedFile`).
`engines.local.LocalStack` (PyIceberg on SQLite, DuckDB, a local delivery stream, files) and
`engines.aws.AwsStack` (Glue and S3 Tables, Athena, Kinesis Firehose, S3, SNS) implement `Stack`, as
PyIceberg's `SqlCatalog` and `GlueCatalog` implement its `Catalog`; `engines.stack_for(settings)`
returns one. mypy checks both stacks against this module (`make lint`, `make check`): the core and
defs/ use a stack only through these types and import nothing from engines/.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import pyarrow as pa

from health_pipeline.alerts.liveness import Liveness
from health_pipeline.alerts.messages import Alert
from health_pipeline.delivery.line_blocks import LineBlock
from health_pipeline.delivery.stream import DeliveryStatus, ErrorOutput, SendListener, SendReport
from health_pipeline.maintenance import MaintenancePolicy, MaintenanceReport
from health_pipeline.schema.model import Column, TableSchema
from health_pipeline.schema.plan import MigrationPlan
from health_pipeline.settings import Settings
from health_pipeline.sql import Query

if TYPE_CHECKING:
    from pyiceberg.table import Table as IcebergTable

    # Under TYPE_CHECKING only: importing health_pipeline.erasure runs its package, which uses this module.
    from health_pipeline.erasure.deletion import DeletedRows, History


class QueryFailed(RuntimeError):
    """A query did not succeed; the message says which query, why, and what to do."""


@dataclass
class QueryResult:
    """A query's rows (Arrow) and what running it cost: what `QueryEngine.run` returns."""

    query_id: str
    rows: pa.Table
    sql: str
    bytes_scanned: int
    files_scanned: int
    elapsed_s: float
    engine: str
    result_location: str | None = None
    cost_usd: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
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


# -- the parts ----------------------------------------------------------------------------------------
class Table(Protocol):
    """`stack.table`: the Iceberg table health_records (local: `LocalIcebergTable`, PyIceberg's
    SqlCatalog on SQLite; aws: `GlueIcebergTable`, PyIceberg's GlueCatalog over S3 Tables)."""

    table_name: str

    @property
    def identifier(self) -> str:
        """`<database>.<table>`, as messages name it."""
        ...

    def iceberg_table(self) -> IcebergTable | None:
        """The PyIceberg table, loaded afresh; None while it does not exist."""
        ...

    def live_schema(self) -> TableSchema | None:
        """The table's current Iceberg schema as plain data; None while it does not exist."""
        ...


class QueryEngine(Protocol):
    """`stack.query_engine`: runs the project's SQL (`sql/`) over the table (local: DuckDB over a
    PyIceberg scan narrowed by the recorded_at window; aws: Athena)."""

    engine: ClassVar[str]  # "duckdb" or "athena": the asset's kind and the result's `engine`

    def run(self, query: Query) -> QueryResult:
        """The query's rows and what it cost; raises `QueryFailed` saying which query, why and what to do."""
        ...


class ExportStore(Protocol):
    """`stack.export_store` (the CSVs), `stack.summary_store` (each day's kept summary rows): keys under
    one root (local: files; aws: S3 objects)."""

    kinds: ClassVar[frozenset[str]]

    def uri(self, key: str) -> str: ...

    def write(self, key: str, data: bytes, content_type: str | None = None) -> str:
        """Replace `key` atomically with `data`; returns its URI."""
        ...

    def read(self, key: str) -> bytes:
        """The bytes at `key`; raises FileNotFoundError when there are none."""
        ...

    def keys(self, prefix: str) -> list[str]: ...

    def remove(self, key: str) -> bool:
        """Delete `key`; False when it was not there."""
        ...

    def export_summary(self, key: str, rows: pa.Table) -> ExportedFile:
        """A day's summary rows written as the CSV contract's bytes at `key`."""
        ...


class DeliveryStream(Protocol):
    """`stack.delivery_stream`: where `send` puts records (local: `LocalDeliveryStream`, a spool with
    Firehose's semantics; aws: `FirehoseDeliveryStream`). `producer_schema` set: the producer's
    validation against it runs first (rejections `Producer.*`); None (`send --raw`): only the stream's
    own checks."""

    @property
    def errors(self) -> ErrorOutput | None:
        """Where rejections are written (None: only reported, as in the Lambda)."""
        ...

    def send(
        self,
        blocks: Iterable[LineBlock],
        producer_schema: TableSchema | None = None,
        listener: SendListener | None = None,
    ) -> SendReport: ...


@runtime_checkable
class SpooledDeliveryStream(DeliveryStream, Protocol):
    """A delivery stream this process delivers itself (the local one): `flush` delivers its spool now.
    Kinesis Firehose flushes its own buffers (5 MB / 300 s) and is not one."""

    buffer_bytes: int
    buffer_seconds: float

    @property
    def damaged(self) -> Sequence[object]:
        """Spool damage this process moved to the error output, each told by its str()."""
        ...

    def flush(self) -> list[int]:
        """Deliver whatever the spool holds; returns the snapshot ids committed."""
        ...

    def backlog(self) -> tuple[int, int, float | None]:
        """(segments, bytes, age in seconds of the oldest) waiting in the spool."""
        ...


class DeliveryMonitor(Protocol):
    """`stack.delivery_monitor`: the delivery check's figures (local: the spool and its error output;
    aws: DescribeDeliveryStream, CloudWatch's Firehose metrics and the S3 error output)."""

    def status(self, cursor: dict[str, Any] | None = None, sample_size: int = 5) -> DeliveryStatus:
        """The stream's state and figures since the observation that returned `cursor` (all, without one)."""
        ...


class SchemaTarget(Protocol):
    """`stack.schema_target`: where a schema migration is applied (local: PyIceberg's update_schema;
    aws: Athena DDL over Glue); what the schema asset, the drift sensor, the migration and
    `schema status` use."""

    def read_plan(self) -> MigrationPlan:
        """Desired (Terraform) vs catalog vs live schema, classified, with the plan to converge."""
        ...

    def apply(self, plan: MigrationPlan, added: list[Column], promoted: list[Column]) -> list[str]:
        """Apply the columns to add and the allowed promotions; returns what was done, one line each."""
        ...

    def verify_query(self, plan: MigrationPlan, columns: list[str]) -> dict[str, Any]:
        """Run the plan's ranged verification query on `columns`; returns its figures."""
        ...


class TableMaintenance(Protocol):
    """`stack.maintenance`: the table_maintenance asset's work (local: expire snapshots, merge manifests,
    compact closed days; aws: read S3 Tables' maintenance configuration and job status)."""

    def run(self, now: datetime, policy: MaintenancePolicy = ..., keep_from: int | None = None) -> MaintenanceReport:
        """One maintenance pass as of `now`; `keep_from`: the new-data sensor's cursor (snapshots it has
        not read yet are kept)."""
        ...


class AlertDestination(Protocol):
    """`stack.alert_destination`: where alerts reach the on-call (local: JSON Lines files under
    `$HEALTH_PIPELINE_HOME/alerts/`; aws: the SNS topic)."""

    where: str  # the destination in words, for messages

    def send(self, alert: Alert) -> None:
        """Deliver one alert; raises `AlertDestinationError` saying what to set when it cannot."""
        ...


class Erasure(Protocol):
    """`stack.erasure`: the steps of `health_pipeline.erasure.erase` and of retention that differ by mode
    (local: PyIceberg deletes and snapshot expiry; aws: Athena DELETE and S3 Tables' expiry)."""

    def drain_spool(self) -> int:
        """Deliver what the stream still holds (so every accepted record is in the table); returns how many."""
        ...

    def recorded_at_bounds(self) -> tuple[datetime, datetime] | None:
        """The table's oldest and newest recorded_at from its manifests (None: empty)."""
        ...

    def find_minutes(self, user_ids: list[str], window: tuple[datetime, datetime]) -> dict[datetime, int]:
        """The people's records per UTC minute in `window` (one ranged query)."""
        ...

    def kept_summary_days(self) -> list[date]:
        """The days with a kept summary."""
        ...

    def delete_records(self, user_ids: list[str], window: tuple[datetime, datetime], found: int) -> DeletedRows:
        """Delete the people's rows in `window`. `found`: the rows `find_minutes` counted just before,
        the count the aws stack reports (Athena gives none for a DELETE); the local stack counts the
        rows its delete removed and reports both."""
        ...

    def delete_before(self, window: tuple[datetime, datetime]) -> DeletedRows:
        """Retention: delete every row in `window`."""
        ...

    def purge_error_output(self, user_ids: Collection[str]) -> int:
        """Remove the error documents that hold the people's records; returns how many."""
        ...

    def forget_history(self, now: datetime, days: list[date] | None = None) -> History:
        """Remove (or date the removal of) the history that still holds deleted rows."""
        ...

    def keep_receipt(self, key: str, document: bytes) -> str:
        """Keep an erasure receipt; returns where."""
        ...


class Stack(Protocol):
    """One mode's parts (`engines.local.LocalStack`, `engines.aws.AwsStack`, from
    `engines.stack_for(settings)`): the Dagster definitions take one stack as their `stack` resource,
    the CLI one per command, and use nothing else for I/O."""

    query_kind: ClassVar[str]
    export_kinds: ClassVar[frozenset[str]]
    settings: Settings  # its home names where a fault of the machine happened

    @property
    def table(self) -> Table: ...

    @property
    def query_engine(self) -> QueryEngine: ...

    @property
    def export_store(self) -> ExportStore: ...

    @property
    def summary_store(self) -> ExportStore: ...

    @property
    def delivery_stream(self) -> DeliveryStream: ...

    @property
    def delivery_monitor(self) -> DeliveryMonitor: ...

    @property
    def schema_target(self) -> SchemaTarget: ...

    @property
    def maintenance(self) -> TableMaintenance: ...

    @property
    def alert_destination(self) -> AlertDestination: ...

    @property
    def liveness(self) -> Liveness:
        """The heartbeat and export signs the watch alarms read (`alerts.liveness`)."""
        ...

    @property
    def erasure(self) -> Erasure: ...

    def desired_schema(self) -> TableSchema:
        """The schema Terraform declares (the Glue module's columns), read afresh on every call."""
        ...
