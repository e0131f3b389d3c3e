"""The local delivery stream: Kinesis Firehose's semantics on one machine, for the embedded default.

- Its own schema check, like Firehose's for an Iceberg destination: a line that is not a JSON object
  or does not fit the live table's columns goes to the error output with its reason.
- Durable: a record is acknowledged only once it is in an append-only spool segment on disk (fsync),
  so a crash loses no acknowledged record.
- Buffered: the open segment (`*.open`) takes lines until it holds `buffer_bytes` or is
  `buffer_seconds` old (Firehose's 5 MB / 300 s), or until `flush()`; then it is sealed (renamed to
  `*.jsonl`) and delivered as one Iceberg append, one snapshot, tagged with the segment's name. The tag
  is checked under a commit lock just before each commit, so a segment whose commit landed before a
  crash is never delivered twice, whoever retries it.
- Fast: lines are checked in bulk (`json_lines.check_lines`), the spool keeps the accepted lines as
  they came, and the rows parsed while checking are kept in memory so that this process delivers a
  segment without reading it back. Reading, checking, spooling and delivering overlap on their own
  threads; segments that are sealed while the delivery thread is busy are committed together (one
  catalog commit, still one snapshot each). `send` returns once every sealed segment is committed.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from queue import Full, Queue

import pyarrow as pa
from pyiceberg.table import Table

from health_pipeline.delivery.json_lines import (
    MAX_RECORD_BYTES,
    CheckedLines,
    LineBlock,
    check_lines,
)
from health_pipeline.engines.delivery import (
    ErrorOutput,
    Rejection,
    SendListener,
    SendReport,
)
from health_pipeline.engines.local.table import LocalIcebergTable, flocked
from health_pipeline.engines.pyiceberg_patches import append_each, conform_rows
from health_pipeline.schema.model import TableSchema

__all__ = ["MAX_RECORD_BYTES", "SEGMENT_PROPERTY", "ErrorOutput", "LocalDeliveryStream", "Rejection"]

DEFAULT_BUFFER_BYTES = 5 * 1024 * 1024
DEFAULT_BUFFER_SECONDS = 300
SEGMENT_PROPERTY = "health-pipeline.spool-segment"
OPEN, SEALED = ".open", ".jsonl"
MAX_PENDING_DELIVERIES = 6  # sealed segments waiting for the worker before the sender waits too
SEGMENTS_PER_COMMIT = 8  # segments that wait together are committed together (still a snapshot each)
LIVE_SCHEMA_SECONDS = 5.0  # how long a send trusts the live schema it read before reading it again


@dataclass
class _CachedSegment:
    """Rows this process parsed for a segment, valid while the file is exactly `size` bytes."""

    size: int
    tables: list[pa.Table] = field(default_factory=list)


class LocalDeliveryStream:
    flushable = True  # `flush()` delivers the spool now

    def __init__(
        self,
        directory: Path,
        table: LocalIcebergTable,
        desired_schema: Callable[[], TableSchema],
        buffer_bytes: int = DEFAULT_BUFFER_BYTES,
        buffer_seconds: float = DEFAULT_BUFFER_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.spool_dir = directory / "spool"
        self.errors = ErrorOutput(directory / "errors")
        self.table = table
        self.desired_schema = desired_schema
        self.buffer_bytes = buffer_bytes
        self.buffer_seconds = buffer_seconds
        self.clock = clock
        self._cache: dict[str, _CachedSegment] = {}
        self._cache_lock = threading.Lock()

    # -- the write path -------------------------------------------------------------------------
    def send(
        self,
        blocks: Iterable[LineBlock],
        producer_schema: TableSchema | None = None,
        listener: SendListener | None = None,
    ) -> SendReport:
        """Check, spool (fsync) and acknowledge every line of `blocks`; deliver the segments that fill
        or age meanwhile, and return once they are committed."""
        listener = listener or SendListener()
        report = SendReport()
        desired = self.desired_schema()
        acknowledged = 0
        with _Deliveries(self, desired) as deliveries, _Spooler(self) as spooler:

            def settle(done: list[tuple[list[Path], int, str]]) -> None:
                nonlocal acknowledged
                for sealed, count, through in done:
                    deliveries.submit(sealed)
                    acknowledged += count
                    listener.acknowledged(acknowledged, through)

            live, live_read = self._live_schema(desired), time.monotonic()
            for block in _prefetched(blocks):
                if not len(block):
                    continue
                if time.monotonic() - live_read > LIVE_SCHEMA_SECONDS:  # a migration during a long send
                    live, live_read = self._live_schema(desired), time.monotonic()
                checked, rejections = self._check(block, producer_schema, live)
                for rejection, source in rejections:
                    report.rejected.append(rejection)
                    report.error_paths.append(self.errors.write(rejection, source=source))
                    listener.rejected(rejection)
                settle(spooler.put(checked, block.where(len(block) - 1)))
            settle(spooler.finish())
            deliveries.submit(self._seal_due())
        report.accepted = acknowledged
        return report

    def flush(self) -> list[int]:
        """Deliver everything the spool holds now; returns the snapshot ids committed."""
        desired = self.desired_schema()
        with self._append_lock():
            self._seal_open(force=True)
        sealed = self._sealed()
        snapshots = []
        for start in range(0, len(sealed), SEGMENTS_PER_COMMIT):
            snapshots += self._deliver(sealed[start : start + SEGMENTS_PER_COMMIT], desired, self.table)
        return snapshots

    def backlog(self) -> tuple[int, int, float | None]:
        """(segments, bytes, age in seconds of the oldest undelivered segment) still in the spool."""
        segments = self.segments()
        size = sum(file_size(path) for path in segments)
        oldest = min((created_at(path) for path in segments), default=None)
        return len(segments), size, None if oldest is None else max(0.0, self.clock() - oldest)

    def _check(
        self, block: LineBlock, producer_schema: TableSchema | None, live: TableSchema
    ) -> tuple[CheckedLines, list[tuple[Rejection, str]]]:
        rejections: list[tuple[Rejection, str]] = []

        def refused(checked: CheckedLines, source_block: LineBlock, prefix: str, source: str) -> None:
            for i, err in checked.rejected:
                rejection = Rejection(source_block.where(i), f"{prefix}.{err.code}", str(err), source_block.raw_line(i))
                rejections.append((rejection, source))

        if producer_schema is None:
            checked = check_lines(block, live, producer=False)
            refused(checked, block, "Stream", "delivery-stream")
            return checked, rejections
        checked = check_lines(block, producer_schema, producer=True)
        refused(checked, block, "Producer", "producer")
        if producer_schema.fingerprint != live.fingerprint and len(checked):
            # The table's columns are not those the producer validated against (schema drift): as with
            # Firehose, the stream's own check decides what the table takes.
            accepted = LineBlock.of(checked.data, wheres=[block.where(i) for i in checked.index.tolist()])
            checked = check_lines(accepted, live, producer=False)
            refused(checked, accepted, "Stream", "delivery-stream")
        return checked, rejections

    def _live_schema(self, desired: TableSchema) -> TableSchema:
        return TableSchema.from_iceberg(self.table.load_or_create(desired).schema())

    # -- the spool ------------------------------------------------------------------------------
    @property
    def commit_lock(self) -> Path:
        """Held for every commit to the table, by deliveries and by table maintenance."""
        return self.spool_dir / ".commit.lock"

    @contextmanager
    def _append_lock(self) -> Iterator[None]:
        with flocked(self.spool_dir / ".lock"):
            yield

    def segments(self) -> list[Path]:
        """Every undelivered segment, open or sealed, oldest first."""
        if not self.spool_dir.exists():
            return []
        return sorted((p for p in self.spool_dir.glob("segment-*") if p.suffix in (OPEN, SEALED)), key=lambda p: p.stem)

    def _sealed(self) -> list[Path]:
        return [path for path in self.segments() if path.suffix == SEALED]

    def _open_segment(self) -> Path:
        """The segment that takes appends (creating its name when there is none)."""
        segments = self.segments()
        open_ones = [path for path in segments if path.suffix == OPEN]
        for stale in open_ones[:-1]:  # only after a crash between creating one and sealing the other
            self._seal(stale)
        if open_ones:
            return open_ones[-1]
        sequence = int(segments[-1].stem.split("-")[1]) + 1 if segments else 1
        # The random part keeps a name (the snapshot tag) unique even when the sequence restarts.
        return self.spool_dir / f"segment-{sequence:012d}-{int(self.clock() * 1000)}-{uuid.uuid4().hex[:8]}{OPEN}"

    def _spool(self, checked: CheckedLines) -> list[Path]:
        """Append the checked lines to the open segment (fsync), sealing each segment that fills;
        returns the sealed segments."""
        data, rows = memoryview(checked.data), checked.rows
        sealed: list[Path] = []
        position = row = 0
        with self._append_lock():
            while position < len(data):
                path = self._open_segment()
                _truncate_partial_tail(path)
                size = file_size(path)
                room = self.buffer_bytes - size
                rest = len(data) - position
                if rest <= room:
                    take = rest
                elif room > 0 and (cut := checked.data.rfind(b"\n", position, position + room)) >= position:
                    take = cut + 1 - position
                elif size == 0:  # one line longer than the whole buffer: it makes a segment alone
                    take = checked.data.find(b"\n", position) + 1 - position
                else:
                    take = 0
                if take:
                    count = (
                        rows.num_rows - row if take == rest else checked.data.count(b"\n", position, position + take)
                    )
                    _append(path, data[position : position + take])
                    self._remember(path.name, size, size + take, rows.slice(row, count))
                    position += take
                    row += count
                if position < len(data) or size + take >= self.buffer_bytes:
                    sealed.append(self._seal(path))
            _fsync_dir(self.spool_dir)
        return sealed

    def _remember(self, name: str, before: int, after: int, rows: pa.Table) -> None:
        with self._cache_lock:
            cached = self._cache.get(name)
            if before == 0:
                self._cache[name] = _CachedSegment(after, [rows])
            elif cached is not None and cached.size == before:
                cached.size = after
                cached.tables.append(rows)
            else:  # a segment another process began: it is read back at delivery
                self._cache.pop(name, None)

    def _seal(self, path: Path) -> Path:
        if path.suffix != OPEN:
            return path
        sealed = path.with_suffix(SEALED)
        os.replace(path, sealed)
        with self._cache_lock:
            if path.name in self._cache:
                self._cache[sealed.name] = self._cache.pop(path.name)
        return sealed

    def _seal_open(self, force: bool) -> None:
        now = self.clock()
        for path in self.segments():
            if path.suffix == OPEN and (
                force or file_size(path) >= self.buffer_bytes or now - created_at(path) >= self.buffer_seconds
            ):
                self._seal(path)
        _fsync_dir(self.spool_dir)

    def _seal_due(self) -> list[Path]:
        """Seal the open segment if it is full or old enough; every sealed segment is then due."""
        with self._append_lock():
            self._seal_open(force=False)
            return self._sealed()

    # -- delivery -------------------------------------------------------------------------------
    def _deliver(self, paths: list[Path], desired: TableSchema, table: LocalIcebergTable) -> list[int]:
        """Commit sealed segments, one snapshot each, in one catalog commit; a segment already in the
        table (its tag is checked under the commit lock) is only removed. Returns the new snapshot ids."""
        ready: list[tuple[Path, pa.Table]] = []
        for path in paths:
            with self._cache_lock:
                cached = self._cache.pop(path.name, None)
            if not path.exists():
                continue  # another process delivered it
            if cached is not None and cached.size == file_size(path):
                ready.append((path, pa.concat_tables(cached.tables)))
            else:
                ready.append((path, self._read_segment(path, table, desired)))
        snapshots: list[int] = []
        with flocked(self.commit_lock):
            iceberg = table.load_or_create(desired)
            due = [(path, rows) for path, rows in ready if rows.num_rows and not _committed(iceberg, path.name)]
            if due:
                batches = [(conform_rows(rows, iceberg), {SEGMENT_PROPERTY: path.name}) for path, rows in due]
                snapshots = append_each(iceberg, batches)
        for path, _ in ready:
            path.unlink(missing_ok=True)
        _fsync_dir(self.spool_dir)
        return snapshots

    def _read_segment(self, path: Path, table: LocalIcebergTable, desired: TableSchema) -> pa.Table:
        """A segment's rows read back from disk (after a crash, or one another process wrote)."""
        data = path.read_bytes()
        data = data[: data.rfind(b"\n") + 1]  # a torn last line was never acknowledged
        if not data:
            return desired.to_arrow().empty_table()
        live = TableSchema.from_iceberg(table.load_or_create(desired).schema())
        block = LineBlock.of(data, source=f"spool/{path.name}")
        checked = check_lines(block, live, producer=False)
        for i, err in checked.rejected:  # the table changed since the line was checked
            rejection = Rejection(block.where(i), f"Stream.{err.code}", str(err), block.raw_line(i))
            self.errors.write(rejection, source="delivery-stream")
        return checked.rows


class _Spooler:
    """Writes checked lines to the spool (append, fsync) on its own thread while the sender checks the
    next block; reports each write, in order, once it is durable."""

    def __init__(self, stream: LocalDeliveryStream, depth: int = 2) -> None:
        self.stream = stream
        self.depth = depth
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-spool")
        self._writes: deque[tuple[Future, int, str]] = deque()

    def __enter__(self) -> _Spooler:
        return self

    def put(self, checked: CheckedLines, through: str) -> list[tuple[list[Path], int, str]]:
        """Queue a write; returns the writes that are durable by now (sealed segments, count, last line)."""
        if len(checked):
            future = self._executor.submit(self.stream._spool, checked)
        else:
            future = Future()
            future.set_result([])
        self._writes.append((future, len(checked), through))
        done = []
        while self._writes and (self._writes[0][0].done() or len(self._writes) > self.depth):
            future, count, where = self._writes.popleft()
            done.append((future.result(), count, where))
        return done

    def finish(self) -> list[tuple[list[Path], int, str]]:
        done = []
        while self._writes:
            future, count, where = self._writes.popleft()
            done.append((future.result(), count, where))
        return done

    def __exit__(self, exc_type, exc, tb) -> None:
        self._executor.shutdown(wait=True)  # a write under way completes: what it wrote is durable


def _prefetched(blocks: Iterable[LineBlock], depth: int = 2) -> Iterator[LineBlock]:
    """`blocks`, read ahead on a thread (reading and splitting lines overlaps the checking)."""
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def read() -> None:
        try:
            for block in blocks:
                while not stop.is_set():
                    try:
                        queue.put(block, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(end)
        except BaseException as err:  # handed to the consumer, raised there
            queue.put(err)

    reader = threading.Thread(target=read, name="local-read", daemon=True)
    reader.start()
    try:
        while (item := queue.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class _Deliveries:
    """Delivers sealed segments on a background thread while the sender checks the next lines. The
    segments waiting when the thread comes round are committed together: one snapshot each, one
    catalog commit."""

    def __init__(self, stream: LocalDeliveryStream, desired: TableSchema) -> None:
        self.stream = stream
        self.desired = desired
        self.snapshots: list[int] = []
        self._waiting: list[Path] = []
        self._submitted: set[str] = set()
        self._condition = threading.Condition()
        self._active = False
        self._futures: list[Future] = []
        self._executor: ThreadPoolExecutor | None = None
        self._table: LocalIcebergTable | None = None  # its own catalog connection, for its thread

    def __enter__(self) -> _Deliveries:
        return self

    def submit(self, paths: list[Path]) -> None:
        fresh = [path for path in paths if path.name not in self._submitted]
        if not fresh:
            return
        self._submitted.update(path.name for path in fresh)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-delivery")
            base = self.stream.table
            self._table = LocalIcebergTable(base.catalog_dir, base.warehouse_dir, base.database, base.table_name)
        with self._condition:
            self._waiting += fresh
            if not self._active:
                self._active = True
                self._futures.append(self._executor.submit(self._work))
            while len(self._waiting) > MAX_PENDING_DELIVERIES and self._active:
                self._condition.wait()
        self._raise_failures()

    def _work(self) -> None:
        try:
            while True:
                with self._condition:
                    group, self._waiting = self._waiting[:SEGMENTS_PER_COMMIT], self._waiting[SEGMENTS_PER_COMMIT:]
                    if not group:
                        self._active = False
                        return
                    self._condition.notify_all()
                self.snapshots += self.stream._deliver(group, self.desired, self._table)
        except BaseException:
            with self._condition:
                self._active = False
                self._condition.notify_all()
            raise

    def _raise_failures(self) -> None:
        for future in self._futures:
            if future.done() and future.exception() is not None:
                raise future.exception()

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._executor is None:
            return
        if exc_type is not None:  # what is not delivered stays sealed in the spool for the next send
            with self._condition:
                self._waiting.clear()
        self._executor.shutdown(wait=True)
        if exc_type is None:
            self._raise_failures()
            if self._waiting:  # the worker stopped on a failure raised above; never silently
                raise RuntimeError(
                    f"{len(self._waiting)} sealed segments were not delivered; `health-pipeline flush` delivers them"
                )


def _committed(table: Table, segment: str) -> bool:
    for snapshot in table.metadata.snapshots:
        summary = snapshot.summary
        if summary is not None and summary.additional_properties.get(SEGMENT_PROPERTY) == segment:
            return True
    return False


def created_at(path: Path) -> float:
    return int(path.stem.split("-")[2]) / 1000


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def line_count(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _append(path: Path, data: memoryview) -> None:
    with open(path, "ab") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _truncate_partial_tail(path: Path) -> None:
    """Cut a line a crash left half-written (never acknowledged) so the next append starts clean."""
    size = file_size(path)
    if size == 0:
        return
    with open(path, "rb+") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        data = path.read_bytes()
        handle.truncate(data.rfind(b"\n") + 1)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    if not directory.exists():
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
