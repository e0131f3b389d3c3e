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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pyarrow as pa

from health_pipeline.delivery.json_lines import CheckedLines, check_lines
from health_pipeline.delivery.line_blocks import LineBlock
from health_pipeline.delivery.stream import ErrorOutput, Rejection, SendListener, SendReport
from health_pipeline.engines.local.delivery_stream.commit import commit_segments
from health_pipeline.engines.local.delivery_stream.damage import TORN_TAIL, DamagedSegment, quarantine, read_segment
from health_pipeline.engines.local.delivery_stream.faults import durable_prefix, spool_fault
from health_pipeline.engines.local.delivery_stream.spool import (
    DEFAULT_BUFFER_BYTES,
    DEFAULT_BUFFER_SECONDS,
    OPEN,
    SEALED,
    CachedSegment,
    SpoolWriteFailed,
    append,
    created_at,
    file_size,
    fsync_dir,
    line_count,
    truncate_partial_tail,
)
from health_pipeline.engines.local.delivery_stream.workers import SEGMENTS_PER_COMMIT, Deliveries, Spooler, prefetched
from health_pipeline.engines.local.table import LocalIcebergTable, flocked
from health_pipeline.schema.model import TableSchema
from health_pipeline.storage_fault import acknowledged_text

LIVE_SCHEMA_SECONDS = 5.0  # how long a send trusts the live schema it read before reading it again


class LocalDeliveryStream:
    """A `stack.SpooledDeliveryStream`: `flush()` delivers the spool now."""

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
        self._cache: dict[str, CachedSegment] = {}
        self._cache_lock = threading.Lock()
        self.damaged: list[DamagedSegment] = []  # what this process moved aside from damaged segments

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
        acknowledged, last, damaged_before = 0, None, len(self.damaged)
        with Deliveries(self._deliver, self.table, desired) as deliveries, Spooler(self._spool) as spooler:

            def settle(done: list[tuple[list[Path], int, str]]) -> None:
                nonlocal acknowledged, last
                for _, count, through in done:
                    acknowledged, last = acknowledged + count, through
                    listener.acknowledged(acknowledged, through)
                if spooler.failure is not None:
                    raise spooler.failure
                for sealed, _, _ in done:
                    deliveries.submit(sealed)

            try:
                live, live_read = self._live_schema(desired), time.monotonic()
                for block in prefetched(blocks):
                    if not len(block):
                        continue
                    if time.monotonic() - live_read > LIVE_SCHEMA_SECONDS:  # a migration during a long send
                        live, live_read = self._live_schema(desired), time.monotonic()
                    checked, rejections = self._check(block, producer_schema, live)
                    for rejection, source in rejections:
                        report.rejected.append(rejection)
                        report.error_paths.append(self.errors.write(rejection, source=source))
                        listener.rejected(rejection)
                    prefix = partial(durable_prefix, block, checked.index)
                    settle(spooler.put(checked, block.where(len(block) - 1), prefix))
                settle(spooler.finish())
                deliveries.submit(self._seal_due())
                deliveries.finish()
            except Exception as err:
                for _, count, through in spooler.abandon():
                    acknowledged, last = acknowledged + count, through
                    listener.acknowledged(acknowledged, through)
                fault = spool_fault(self, err, "send")
                if fault is None:
                    raise
                raise fault.but(
                    acknowledged=acknowledged_text(acknowledged, last),
                    then="run `health-pipeline flush` (it delivers what the spool holds) and re-send from the line"
                    " named above",
                ) from err
        report.accepted = acknowledged
        report.damaged = [str(damage) for damage in self.damaged[damaged_before:]]
        return report

    def flush(self) -> list[int]:
        """Deliver everything the spool holds now; returns the snapshot ids committed."""
        desired = self.desired_schema()
        try:
            with self._append_lock():
                self._seal_open(force=True)
            sealed = self._sealed()
            snapshots = []
            for start in range(0, len(sealed), SEGMENTS_PER_COMMIT):
                snapshots += self._deliver(sealed[start : start + SEGMENTS_PER_COMMIT], desired, self.table)
        except Exception as err:
            fault = spool_fault(self, err, "flush")
            if fault is None:
                raise
            raise fault.but(then="run `health-pipeline flush` again: it delivers each spooled record once") from err
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
            path = self.spool_dir
            try:
                while position < len(data):
                    path = self._open_segment()
                    if torn := truncate_partial_tail(path):
                        line = line_count(path) + 1
                        self.damaged.append(quarantine(self.errors, path, [(line, torn)], TORN_TAIL))
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
                            rows.num_rows - row
                            if take == rest
                            else checked.data.count(b"\n", position, position + take)
                        )
                        append(path, data[position : position + take])
                        self._remember(path.name, size, size + take, rows.slice(row, count))
                        position += take
                        row += count
                    if position < len(data) or size + take >= self.buffer_bytes:
                        sealed.append(self._seal(path))
                fsync_dir(self.spool_dir)
            except OSError as err:
                raise SpoolWriteFailed(err, path, row) from err
        return sealed

    def _remember(self, name: str, before: int, after: int, rows: pa.Table) -> None:
        with self._cache_lock:
            cached = self._cache.get(name)
            if before == 0:
                self._cache[name] = CachedSegment(after, [rows])
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
        fsync_dir(self.spool_dir)

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
        snapshots = commit_segments(table, desired, [(path.name, rows) for path, rows in ready], self.commit_lock)
        for path, _ in ready:
            path.unlink(missing_ok=True)
        fsync_dir(self.spool_dir)
        return snapshots

    def _read_segment(self, path: Path, table: LocalIcebergTable, desired: TableSchema) -> pa.Table:
        """A segment's rows read back from disk (after a crash, or one another process wrote)."""
        rows, damaged = read_segment(
            path, self.errors, lambda: TableSchema.from_iceberg(table.load_or_create(desired).schema()), desired
        )
        self.damaged += damaged
        return rows
