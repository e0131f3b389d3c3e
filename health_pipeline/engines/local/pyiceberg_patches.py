"""Where health-pipeline patches PyIceberg 0.12's private API, and why: all of it is here.

PyIceberg re-derives the whole table metadata, with a deep copy of every snapshot, on each read of a
transaction's metadata and on each catalog commit; for a stream that commits one snapshot per 5 MB
buffer into a table with thousands of snapshots, that copying is most of the cost (docs/benchmarks.md). This module uses PyIceberg's private `_apply_table_update`,
`_TableMetadataUpdateContext`, `_update_table_metadata_log` and `SqlCatalog._update_and_stage_table`,
so it refuses to load with any other PyIceberg minor version than the one it was written against.

What would retire it: PyIceberg applying staged updates incrementally (no `model_copy(deep=True)` in
`update_table_metadata`, and a `Transaction.table_metadata` that is not recomputed on every read),
and an append API that takes pre-sorted partition runs. Re-measure with `make bench` on upgrade.

- `append_each`: one snapshot per (rows, properties) batch, sorted once by partition values and
  written with PyIceberg's own `write_file` (the same Parquet files, field ids and statistics), each
  file on this module's own threads so that when one fails (a full disk) the others are waited for
  and every file of the write, half-written ones included, is deleted: nothing refers to them.
- `FastCommitSqlCatalog`: SqlCatalog whose commits to an existing table apply updates with `applied`.
- `expire_snapshot_ids`: snapshot expiry without PyIceberg's per-id metadata copies.
- `rewrite_files`: compaction's commit: new sorted files for old ones in one snapshot. Iceberg calls
  that a `replace`, which PyIceberg 0.12 cannot commit (its snapshot summaries refuse the operation),
  so it is an `overwrite` tagged with the caller's properties (the new-data sensor skips those).
"""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyiceberg
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import PartitionFieldValue, PartitionKey
from pyiceberg.table import StagedTable, Table, TableRequirement, Transaction, WriteTask
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.update import (
    TableUpdate,
    _apply_table_update,
    _TableMetadataUpdateContext,
    _update_table_metadata_log,
)
from pyiceberg.table.update.snapshot import ExpireSnapshots
from pyiceberg.typedef import Identifier
from pyiceberg.utils.concurrent import ExecutorFactory
from pyiceberg.utils.datetime import datetime_to_millis

PATCHED_VERSION = "0.12."
if not pyiceberg.__version__.startswith(PATCHED_VERSION):
    raise ImportError(
        f"health_pipeline.engines.local.pyiceberg_patches was written against PyIceberg {PATCHED_VERSION}x and uses its"
        f" private API; PyIceberg {pyiceberg.__version__} is installed. Re-check the patched functions (see this"
        " module's docstring) and update PATCHED_VERSION, or pin pyiceberg in pyproject.toml."
    )


def conform_rows(rows: pa.Table, table: Table) -> pa.Table:
    """`rows` with the table's columns in its order and types; a column the rows lack is null."""
    arrow_schema = table.schema().as_arrow()
    for field in arrow_schema:
        if field.name not in rows.column_names:
            rows = rows.append_column(field, pa.nulls(rows.num_rows, field.type))
    return rows.select(arrow_schema.names).cast(arrow_schema)


def applied(
    base: TableMetadata,
    updates: tuple[TableUpdate, ...],
    *,
    onto: tuple[TableMetadata, _TableMetadataUpdateContext] | None = None,
    metadata_location: str | None = None,
) -> tuple[TableMetadata, _TableMetadataUpdateContext]:
    """`updates` applied to `base` (or `onto` it with earlier updates already applied), as PyIceberg
    0.12's `update_table_metadata` applies them, less its deep copy of the whole result: the metadata is
    a frozen model and every update makes new lists and maps rather than changing old ones, so the copy
    (of every snapshot so far) protects nothing."""
    metadata, context = onto if onto is not None else (base, _TableMetadataUpdateContext())
    for update in updates:
        metadata = _apply_table_update(update, metadata, context)
    if context.has_changes():
        if metadata_location:
            metadata = _update_table_metadata_log(metadata, metadata_location, base.last_updated_ms)
        if metadata.last_updated_ms == base.last_updated_ms:
            metadata = metadata.model_copy(update={"last_updated_ms": datetime_to_millis(datetime.now().astimezone())})
    metadata.spec().check_compatible(metadata.schema())
    metadata.sort_order().check_compatible(metadata.schema())
    return metadata, context


class _Transaction(Transaction):
    """PyIceberg 0.12 recomputes `Transaction.table_metadata` from the table's metadata and every staged
    update on each read, a dozen reads per append; here each staged update is applied once, on top of
    the previous result (`applied`). The catalog's commit applies them again itself."""

    _applied: tuple[TableMetadata, int, TableMetadata, _TableMetadataUpdateContext] | None = None

    @property
    def table_metadata(self) -> TableMetadata:
        base, updates = self._table.metadata, self._updates
        onto, done = None, 0
        if self._applied is not None and self._applied[0] is base and self._applied[1] <= len(updates):
            _, done, metadata, context = self._applied
            if done == len(updates):
                return metadata
            onto = (metadata, context)
        metadata, context = applied(base, updates[done:], onto=onto)
        self._applied = (base, len(updates), metadata, context)
        return metadata


def _write_file(io, metadata: TableMetadata, tasks) -> list[DataFile]:
    """The data file of each task, written in parallel. When one fails (a full disk), the others are
    waited for and every file of `tasks` is deleted, whole or half-written: nothing refers to them."""
    # Imported here, by writers only: pyiceberg.io.pyarrow imports pyarrow.dataset, which imports pandas
    # (~50 MB of a process that only queries; see summary_peak_rss_mb in make bench).
    from pyiceberg.io.pyarrow import write_file

    tasks = list(tasks)
    futures = [
        _writers(os.getpid()).submit(lambda task: next(write_file(io, metadata, iter([task]))), task) for task in tasks
    ]
    wait(futures)
    failure = next((future.exception() for future in futures if future.exception() is not None), None)
    if failure is None:
        return [future.result() for future in futures]
    delete_uncommitted(io, metadata, tasks)
    raise failure


def delete_uncommitted(io, metadata: TableMetadata, tasks: list[WriteTask]) -> None:
    """Delete the data files `tasks` write (PyIceberg's own names for them), those that exist."""
    locations = load_location_provider(metadata.location, metadata.properties)
    for task in tasks:
        path = locations.new_data_location(task.generate_data_file_filename("parquet"), task.partition_key)
        try:
            io.delete(path)
        except (FileNotFoundError, OSError):
            pass


@cache
def _writers(pid: int) -> ThreadPoolExecutor:
    """The threads that write data files, one pool per process (a forked child makes its own)."""
    return ThreadPoolExecutor(max_workers=ExecutorFactory.max_workers(), thread_name_prefix=f"data-files-{pid}")


def append_each(table: Table, batches: list[tuple[pa.Table, dict[str, str]]]) -> list[int]:
    """One snapshot per (rows, snapshot properties), in order, all in one catalog commit; returns the
    snapshot ids. The data files of every batch are written first, in parallel."""
    metadata = table.metadata
    write_ids = [uuid.uuid4() for _ in batches]
    schema, spec = metadata.schema(), metadata.spec()
    tasks = [_write_tasks(schema, spec, rows, write_id) for (rows, _), write_id in zip(batches, write_ids)]
    every_task = [task for batch in tasks for task in batch]
    files = _write_file(table.io, metadata, every_task)
    try:
        with _Transaction(table) as transaction:
            position = 0
            for (_, properties), batch_tasks in zip(batches, tasks):
                with transaction.update_snapshot(snapshot_properties=properties).fast_append() as append:
                    for data_file in files[position : position + len(batch_tasks)]:
                        append.append_data_file(data_file)
                position += len(batch_tasks)
    except BaseException:
        delete_uncommitted(table.io, metadata, every_task)  # written, never committed
        raise
    snapshots = table.metadata.snapshots
    return [snapshot.snapshot_id for snapshot in snapshots[len(snapshots) - len(batches) :]]


def rewrite_files(table: Table, removed: list[DataFile], rows: list[pa.Table], properties: dict[str, str]) -> int:
    """Write `rows` (each already conformed and sorted, one partition each) as new data files and, in
    one snapshot tagged with `properties`, swap them for `removed`; returns the snapshot id. The
    table's `write.parquet.row-group-limit` sizes the row groups."""
    metadata = table.metadata
    schema, spec = metadata.schema(), metadata.spec()
    tasks = [task for batch in rows for task in _write_tasks(schema, spec, batch, uuid.uuid4())]
    files = _write_file(table.io, metadata, tasks)
    try:
        with table.transaction() as transaction:
            with transaction.update_snapshot(snapshot_properties=properties).overwrite() as producer:
                for data_file in removed:
                    producer.delete_data_file(data_file)
                for data_file in files:
                    producer.append_data_file(data_file)
    except BaseException:
        for data_file in files:  # written, never committed: nothing refers to them
            table.io.delete(data_file.file_path)
        raise
    snapshot_id = table.metadata.current_snapshot_id
    if snapshot_id is None:
        raise RuntimeError(f"the rewrite of {table.name()} committed no snapshot")
    return snapshot_id


def expire_snapshot_ids(table: Table, snapshot_ids: list[int]) -> None:
    """Drop `snapshot_ids` from the table's metadata in one commit. PyIceberg's own
    `table.maintenance.expire_snapshots().by_ids(...)` re-derives the whole metadata for every id
    (2,000 ids: about 25 minutes); on `_Transaction` each id is checked against one copy."""
    ExpireSnapshots(_Transaction(table, autocommit=True)).by_ids(snapshot_ids).commit()


def _write_tasks(schema, spec, rows: pa.Table, write_uuid: uuid.UUID) -> list[WriteTask]:
    if spec.is_unpartitioned():
        return [WriteTask(write_uuid=write_uuid, task_id=0, schema=schema, record_batches=rows.to_batches())]
    keys = []
    for field in spec.fields:
        source = schema.find_field(field.source_id)
        column = rows[schema.find_column_name(field.source_id)]
        keys.append(field.transform.pyarrow_transform(source.field_type)(column))
    names = [f"key{n}" for n in range(len(keys))]
    order = pc.sort_indices(pa.table(dict(zip(names, keys))), sort_keys=[(name, "ascending") for name in names])
    rows = rows.take(order)
    keys = [key.take(order) for key in keys]
    change = np.zeros(rows.num_rows, bool)
    if rows.num_rows:
        change[0] = True
    for key in keys:
        values = pc.fill_null(pc.cast(key, pa.int64()), np.iinfo(np.int64).min).to_numpy(zero_copy_only=False)
        change[1:] |= values[1:] != values[:-1]
    starts = np.flatnonzero(change).tolist()
    tasks = []
    for task_id, (start, end) in enumerate(zip(starts, starts[1:] + [rows.num_rows])):
        values = [PartitionFieldValue(field, key[start].as_py()) for field, key in zip(spec.fields, keys)]
        tasks.append(
            WriteTask(
                write_uuid=write_uuid,
                task_id=task_id,
                schema=schema,
                record_batches=rows.slice(start, end - start).combine_chunks().to_batches(),
                partition_key=PartitionKey(field_values=values, partition_spec=spec, schema=schema),
            )
        )
    return tasks


class FastCommitSqlCatalog(SqlCatalog):
    """PyIceberg's SqlCatalog, but a commit to an existing table applies its updates with
    `applied` (no deep copy of the whole metadata)."""

    def _update_and_stage_table(
        self,
        current_table: Table | None,
        table_identifier: Identifier,
        requirements: tuple[TableRequirement, ...],
        updates: tuple[TableUpdate, ...],
    ) -> StagedTable:
        if current_table is None:  # a table being created: PyIceberg's own path and validation
            return super()._update_and_stage_table(current_table, table_identifier, requirements, updates)
        for requirement in requirements:
            requirement.validate(current_table.metadata)
        metadata, _ = applied(current_table.metadata, updates, metadata_location=current_table.metadata_location)
        version = self._parse_metadata_version(current_table.metadata_location) + 1
        location = load_location_provider(metadata.location, metadata.properties).new_table_metadata_file_location(
            version
        )
        return StagedTable(
            identifier=table_identifier,
            metadata=metadata,
            metadata_location=location,
            io=self._load_file_io(properties=metadata.properties, location=location),
            catalog=self,
        )
