"""The local Iceberg table: PyIceberg's SqlCatalog on SQLite with a file warehouse.

The table is created on first use from the Terraform schema, partitioned by day(recorded_at), so a
one-day query plans only the files of the (at most two) UTC days it spans.
"""

from __future__ import annotations

import fcntl
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.table import StaticTable, Table
from pyiceberg.table.sorting import SortField, SortOrder
from pyiceberg.transforms import DayTransform, IdentityTransform

from health_pipeline.schema.model import Column, TableSchema
from health_pipeline.schema.types import iceberg_type

if TYPE_CHECKING:
    from pyiceberg.catalog.sql import SqlCatalog

PARTITION_FIELD_ID = 1000
CATALOG_NAME = "health_pipeline_local"
# How a process that only reads opens the table's metadata and manifests: fsspec's local files, not
# PyIceberg's default Arrow IO, which imports pyarrow.dataset and with it pandas (see read()).
READ_IO = {"py-io-impl": "pyiceberg.io.fsspec.FsspecFileIO"}


class LocalIcebergTable:
    """Opens (and on first use creates) `<database>.<table>` in the local catalog. No I/O until used."""

    def __init__(self, catalog_dir: Path, warehouse_dir: Path, database: str, table: str) -> None:
        self.catalog_dir = catalog_dir
        self.warehouse_dir = warehouse_dir
        self.database = database
        self.table_name = table
        self._catalog: SqlCatalog | None = None

    @property
    def catalog_db(self) -> Path:
        return self.catalog_dir / "catalog.db"

    @property
    def identifier(self) -> str:
        return f"{self.database}.{self.table_name}"

    def catalog(self) -> SqlCatalog:
        # Imported on first use: SQLAlchemy (under SqlCatalog) is ~20 MB a query-only process skips.
        from health_pipeline.engines.local.pyiceberg_patches import FastCommitSqlCatalog

        if self._catalog is None:
            self.warehouse_dir.mkdir(parents=True, exist_ok=True)
            # SqlCatalog creates its own SQLite tables on first use, and two processes doing that at
            # once fail ("table already exists"); the first use is serialized across processes.
            with self._creating():
                self._catalog = FastCommitSqlCatalog(
                    CATALOG_NAME,
                    uri=f"sqlite:///{self.catalog_db}",
                    warehouse=self.warehouse_dir.as_uri(),
                )
        return self._catalog

    def _creating(self) -> AbstractContextManager[None]:
        return flocked(self.catalog_dir / ".create.lock")

    def exists(self) -> bool:
        return self.catalog().table_exists(self.identifier)

    def iceberg_table(self) -> Table | None:
        """The PyIceberg table (for its snapshots), or None while it does not exist: one catalog read."""
        try:
            return self.load()
        except NoSuchTableError:
            return None

    def load(self) -> Table:
        return self.catalog().load_table(self.identifier)

    def read(self) -> Table:
        """The table as of its current commit, to read (the query engine plans with it), never to write.

        The catalog's pointer to the current metadata file is read from its SQLite file, in the layout
        of Iceberg's JDBC catalog that PyIceberg's SqlCatalog keeps, and the metadata opened with
        PyIceberg's StaticTable through fsspec: a process that only queries then loads neither SQLAlchemy
        nor pandas (~50 MB of a summary's peak memory, summary_peak_rss_mb in make bench).
        """
        pointer = None
        if self.catalog_db.exists():
            with closing(sqlite3.connect(f"{self.catalog_db.as_uri()}?mode=ro", uri=True)) as connection:
                try:
                    pointer = connection.execute(
                        "SELECT metadata_location FROM iceberg_tables"
                        " WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?",
                        (CATALOG_NAME, self.database, self.table_name),
                    ).fetchone()
                except sqlite3.OperationalError:  # the catalog's tables are made on first write
                    pointer = None
        if not pointer or not pointer[0]:
            raise NoSuchTableError(f"Table does not exist: {self.identifier}")
        return StaticTable.from_metadata(pointer[0], properties=READ_IO)

    def load_or_create(self, desired: TableSchema) -> Table:
        try:
            return self.load()
        except NoSuchTableError:
            pass
        catalog = self.catalog()  # opened before the lock: opening takes it too
        with self._creating():  # sends, flushes and runs may all meet an empty home at once
            try:
                return self.load()
            except NoSuchTableError:
                self._refuse_to_hide_a_table()
                return self._create(catalog, desired)

    def _refuse_to_hide_a_table(self) -> None:
        """A catalog without the table while the warehouse holds its committed files (catalog.db deleted
        or replaced): creating a new, empty table there would hide every record, so say so instead. A
        first metadata file alone is a creation a crash interrupted, and is written over."""
        location = self.warehouse_dir / self.database / self.table_name
        committed = sorted(location.glob("metadata/*.metadata.json"))
        if not any(path.name[:5] != "00000" for path in committed) and not any(location.glob("data/**/*.parquet")):
            return
        from health_pipeline.storage_fault import StorageFault

        raise StorageFault(
            f"the local catalog has no table {self.identifier}, but the warehouse holds its files",
            self.catalog_db,
            f"no table {self.identifier} in the catalog (catalog.db deleted, replaced or from another home);"
            f" its newest metadata file is {committed[-1] if committed else 'missing'}",
            f"restore {self.catalog_db} from a backup, or move {location} aside to start an empty table (its"
            " records stay in the files moved)",
        )

    def _create(self, catalog: SqlCatalog, desired: TableSchema) -> Table:
        try:
            catalog.create_namespace(self.database)
        except NamespaceAlreadyExistsError:
            pass
        schema = desired.to_iceberg()
        time_field = schema.find_field("recorded_at")
        spec = PartitionSpec(
            PartitionField(
                source_id=time_field.field_id,
                field_id=PARTITION_FIELD_ID,
                transform=DayTransform(),
                name="recorded_at_day",
            )
        )
        # The layout terraform/modules/s3tables declares for health_records: recorded_at ascending.
        order = SortOrder(SortField(source_id=time_field.field_id, transform=IdentityTransform()))
        return catalog.create_table(
            self.identifier,
            schema=schema,
            partition_spec=spec,
            sort_order=order,
            properties={"format-version": "2", "write.parquet.compression-codec": "zstd"},
        )

    def live_schema(self) -> TableSchema | None:
        """The live Iceberg schema, or None while the table does not exist yet."""
        try:
            return TableSchema.from_iceberg(self.load().schema())
        except NoSuchTableError:
            return None

    def apply_schema_changes(self, added: list[Column], promoted: list[Column]) -> list[str]:
        """Add and promote columns in one Iceberg commit (one new metadata.json); returns what was done."""
        done: list[str] = []
        if not added and not promoted:
            return done
        table = self.load()
        with table.update_schema() as update:
            for column in added:
                update.add_column(column.name, iceberg_type(column.glue_type))
                done.append(f"add column {column.name} {column.glue_type}")
            for column in promoted:
                update.update_column(column.name, field_type=iceberg_type(column.glue_type))
                done.append(f"promote column {column.name} to {column.glue_type}")
        return done

    def append(self, rows: pa.Table, desired: TableSchema, properties: dict[str, str] | None = None) -> int:
        """Append rows in one commit (one snapshot); returns the new snapshot id."""
        table = self.load_or_create(desired)
        arrow_schema = table.schema().as_arrow()
        missing = [f for f in arrow_schema if f.name not in rows.column_names]
        for missing_field in missing:
            rows = rows.append_column(missing_field, pa.nulls(rows.num_rows, missing_field.type))
        rows = rows.select(arrow_schema.names).cast(arrow_schema)
        table.append(rows, snapshot_properties=properties or {})
        snapshot = table.current_snapshot()
        if snapshot is None:
            raise RuntimeError(
                f"the append to {self.identifier} committed no snapshot; look at the catalog {self.catalog_db}"
            )
        return snapshot.snapshot_id


@contextmanager
def flocked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` across processes (released by the kernel if the holder dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def local_path(uri: str) -> str:
    """The file system path of a file:// URI the catalog holds (a plain path stays as it is)."""
    return uri.removeprefix("file://")
