"""The local SQL engine: DuckDB over the files of a PyIceberg scan narrowed to the query's window.

PyIceberg plans the scan (partition pruning on day(recorded_at), then column bounds), DuckDB reads
just those Parquet files and runs the Athena SQL file transpiled by sqlglot. Values reach DuckDB as
parameters, never formatted into the text.
"""

from __future__ import annotations

import time
import uuid

import duckdb
import pyarrow as pa
from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan

from health_pipeline.engines.base import QueryFailed, QueryResult
from health_pipeline.engines.local_table import LocalIcebergTable
from health_pipeline.sql import Query, check_query_rules, to_duckdb, with_table


class DuckDBQueryEngine:
    engine = "duckdb"

    def __init__(self, table: LocalIcebergTable, threads: int | None = None) -> None:
        self.table = table
        self.threads = threads

    def run(self, query: Query) -> QueryResult:
        sql = with_table(query.text, query.table)
        check_query_rules(sql, query.table)
        if query.window is None:
            raise QueryFailed(f"query {query.name}: a local query needs its recorded_at window to plan the scan")
        started = time.perf_counter()
        start, end = query.window
        files, bytes_scanned = self._plan(start, end)
        config = {"preserve_insertion_order": False}  # the SQL orders its result; this saves memory
        if self.threads:
            config["threads"] = self.threads
        connection = duckdb.connect(config=config)
        try:
            if files:
                # A view cannot take parameters; the paths come from the catalog, quoted as literals.
                connection.execute(
                    f"CREATE VIEW {query.table} AS SELECT * FROM read_parquet({_list_literal(files)}, union_by_name = true)"
                )
            else:
                connection.register(f"{query.table}_empty", self._empty())
                connection.execute(f"CREATE VIEW {query.table} AS SELECT * FROM {query.table}_empty")
            rows = connection.sql(to_duckdb(sql), params=list(query.parameters)).to_arrow_table()
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

    def _plan(self, start, end) -> tuple[list[str], int]:
        if not self.table.exists():
            raise QueryFailed(
                f"table {self.table.identifier} does not exist yet in the local catalog; send records first"
                " (health-pipeline send FILE, then health-pipeline flush)"
            )
        scan = self.table.load().scan(
            row_filter=And(
                GreaterThanOrEqual("recorded_at", start.isoformat()),
                LessThan("recorded_at", end.isoformat()),
            )
        )
        files, size = [], 0
        for task in scan.plan_files():
            if task.delete_files:
                raise QueryFailed(
                    f"{self.table.identifier} has delete files, which the local engine does not apply;"
                    " the pipeline only appends, so something else wrote them"
                )
            files.append(_local_path(task.file.file_path))
            size += task.file.file_size_in_bytes
        return files, size

    def _empty(self) -> pa.Table:
        schema = self.table.load().schema().as_arrow()
        return schema.empty_table()


def _local_path(uri: str) -> str:
    return uri[len("file://"):] if uri.startswith("file://") else uri


def _list_literal(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
