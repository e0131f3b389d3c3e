"""The local SQL engine: DuckDB over the files of a PyIceberg scan narrowed to the query's window.

PyIceberg plans the scan (partition pruning on day(recorded_at), then column bounds), DuckDB reads
just those Parquet files and runs the Athena SQL file transpiled by sqlglot. Values reach DuckDB as
parameters, never formatted into the text.

DuckDB gets a memory budget (64 MB per thread unless HEALTH_PIPELINE_LOCAL_QUERY_MEMORY_MB says
otherwise) and a spill directory under the home, instead of its default of 80% of the machine's RAM in
every process, so a day's memory stays bounded (docs/benchmarks.md, summary_peak_rss_mb) and a Dagster run, a sensor and the CLI can query side by side.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import duckdb
import pyarrow.parquet as pq
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import BooleanExpression
from pyiceberg.table import Table

from health_pipeline.engines.local.table import LocalIcebergTable, local_path
from health_pipeline.row_filters import recorded_at_missing, recorded_at_window
from health_pipeline.schema.model import TableSchema
from health_pipeline.schema.types import UnsupportedTypeError, duckdb_type
from health_pipeline.sql import Query, check_query_rules, to_duckdb, with_table
from health_pipeline.stack import QueryFailed, QueryResult

# Measured on the heavy days of make bench: 64 MB per thread runs a day of 10 million records (4.3
# million users) on 2 threads; 40 MB per thread runs out of memory on 4 million.
MEMORY_PER_THREAD_MB = 64
ABANDONED_SPILL_S = 86_400  # a spill folder untouched this long belongs to a query that was killed


class DuckDBQueryEngine:
    engine: ClassVar[str] = "duckdb"

    def __init__(self, table: LocalIcebergTable, spill_dir: Path, memory_mb: int | None = None) -> None:
        self.table = table
        self.spill_dir = spill_dir
        self.memory_mb = memory_mb

    def run(self, query: Query) -> QueryResult:
        sql = with_table(query.text, query.table)
        check_query_rules(sql, query.table)
        if query.window is None and not query.null_time:
            raise QueryFailed(f"query {query.name}: a local query needs its recorded_at window to plan the scan")
        started = time.perf_counter()
        table = self._load()
        files, bytes_scanned = self.plan(table, *(query.window or (None, None)))
        # preserve_insertion_order: the SQL orders its result, and DuckDB needs less memory without it.
        # Each query spills to a folder of its own, which DuckDB creates when it first spills and removes
        # when it closes: runs, sensors and the CLI query side by side and never share spill files.
        self._remove_abandoned_spills()
        spill = self.spill_dir / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        connection = duckdb.connect(config={"preserve_insertion_order": False, "temp_directory": str(spill)})
        try:
            budget = self._set_memory_budget(connection)
            connection.execute(f"CREATE VIEW {query.table} AS {self._table_view(connection, table.schema(), files)}")
            rows = connection.sql(to_duckdb(sql), params=list(query.parameters)).to_arrow_table()
        except duckdb.OutOfMemoryException as err:
            raise QueryFailed(
                f"query {query.name} needed more memory than the local engine's budget of {budget} MB, even"
                f" spilling to {spill}; set HEALTH_PIPELINE_LOCAL_QUERY_MEMORY_MB higher (the default is"
                f" {MEMORY_PER_THREAD_MB} MB per DuckDB thread) and run it again. DuckDB said: {err}"
            ) from err
        except duckdb.Error as err:
            raise QueryFailed(f"query {query.name} failed in DuckDB: {err}") from err
        finally:
            connection.close()
        return QueryResult(
            query_id=f"local-{uuid.uuid4()}",
            rows=rows,
            sql=sql,
            bytes_scanned=bytes_scanned,
            files_scanned=len(files),
            elapsed_s=time.perf_counter() - started,
            engine=self.engine,
        )

    def _remove_abandoned_spills(self) -> None:
        """Removes the spill folders of queries killed while spilling (DuckDB removes a folder only when
        it closes), once nothing in them has been written for a day; creates the spill root."""
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        day_ago = time.time() - ABANDONED_SPILL_S
        for folder in self.spill_dir.iterdir():
            try:
                written = max(path.stat().st_mtime for path in (folder, *folder.iterdir()))
            except (FileNotFoundError, NotADirectoryError):
                continue  # removed meanwhile by its own query as it closed, or not a spill folder
            if written < day_ago:
                shutil.rmtree(folder, ignore_errors=True)

    def _set_memory_budget(self, connection: duckdb.DuckDBPyConnection) -> int:
        """Caps DuckDB's buffer manager at the budget in MB (spilling beyond it); returns the budget."""
        row = connection.execute("SELECT current_setting('threads')").fetchone()
        budget = self.memory_mb or MEMORY_PER_THREAD_MB * int(row[0] if row else 1)
        connection.execute(f"SET memory_limit = '{int(budget)}MB'")
        return budget

    def _load(self) -> Table:
        try:
            return self.table.read()
        except NoSuchTableError as err:
            raise QueryFailed(
                f"table {self.table.identifier} does not exist yet in the local catalog; send records first"
                " (health-pipeline send FILE, then health-pipeline flush)"
            ) from err

    @staticmethod
    def plan(table: Table, start, end) -> tuple[list[str], int]:
        """The data files a [start, end) recorded_at window must read (no window: the rows whose
        recorded_at is null), and the bytes DuckDB reads from them: in a file of several row groups
        (compacted and sorted by table_maintenance) only the row groups whose recorded_at range meets
        the window, as DuckDB skips the others by their statistics."""
        row_filter: BooleanExpression = recorded_at_missing() if start is None else recorded_at_window(start, end)
        scan = table.scan(row_filter=row_filter)
        files, size = [], 0
        for task in scan.plan_files():
            if task.delete_files:
                raise QueryFailed(
                    f"{table.name()} has delete files, which the local engine does not apply;"
                    " the pipeline only appends, so something else wrote them"
                )
            path = local_path(task.file.file_path)
            files.append(path)
            several_row_groups = len(task.file.split_offsets or ()) > 1
            size += (
                _bytes_read(path, start, end)
                if start is not None and several_row_groups
                else task.file.file_size_in_bytes
            )
        return files, size

    @staticmethod
    def _table_view(connection: duckdb.DuckDBPyConnection, live, files: list[str]) -> str:
        """SELECT the live Iceberg schema's columns from the files: a column added after a file was
        written reads as null there (as Iceberg readers do), every column cast to its live type."""
        columns = TableSchema.from_iceberg(live).columns
        if files:
            source = f"read_parquet({_list_literal(files)}, union_by_name = true)"
            present = {row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        else:
            source, present = "(SELECT 1) AS no_files WHERE false", set()
        try:
            select = ", ".join(
                f"CAST({_quote(c.name) if c.name in present else 'NULL'} AS {duckdb_type(c.glue_type)}) AS {_quote(c.name)}"
                for c in columns
            )
        except UnsupportedTypeError as err:
            raise QueryFailed(f"the live table has a column DuckDB cannot read here: {err}") from err
        return f"SELECT {select} FROM {source}"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _bytes_read(path: str, start: datetime, end: datetime) -> int:
    """The compressed bytes of the row groups of `path` whose recorded_at statistics meet [start, end)."""
    metadata = pq.ParquetFile(path).metadata
    column = metadata.schema.to_arrow_schema().get_field_index("recorded_at")
    total = 0
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        stats = group.column(column).statistics if column >= 0 else None
        if stats is None or not stats.has_min_max or (stats.max >= start and stats.min < end):
            total += sum(group.column(c).total_compressed_size for c in range(group.num_columns))
    return total


def _list_literal(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
