"""The threads of a send: reading ahead (`prefetched`), spooling (`Spooler`: append and fsync while
the next block is checked) and delivering (`Deliveries`: sealed segments committed in the
background, those that wait together in one catalog commit)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from queue import Full, Queue

from health_pipeline.delivery.json_lines import CheckedLines
from health_pipeline.delivery.line_blocks import LineBlock
from health_pipeline.engines.local.delivery_stream.spool import SpoolWriteFailed
from health_pipeline.engines.local.table import LocalIcebergTable
from health_pipeline.schema.model import TableSchema

# What the stream hands its workers: its spool write (append and fsync checked lines; returns the
# segments it sealed) and its delivery of sealed segments (returns the snapshot ids committed).
SpoolWrite = Callable[[CheckedLines], list[Path]]
Deliver = Callable[[list[Path], TableSchema, LocalIcebergTable], list[int]]

MAX_PENDING_DELIVERIES = 6  # sealed segments waiting for the worker before the sender waits too
SEGMENTS_PER_COMMIT = 8  # segments that wait together are committed together (still a snapshot each)


class Spooler:
    """Writes checked lines to the spool (append, fsync) on its own thread while the sender checks the
    next block; reports each write, in order, once it is durable. The first write that fails stops the
    rest (`failure`): what is reported durable is always a run of lines without a gap."""

    def __init__(self, spool: SpoolWrite, depth: int = 2) -> None:
        self.spool = spool
        self.depth = depth
        self.failure: BaseException | None = None
        self._stopped = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-spool")
        self._writes: deque[tuple[Future, int, str, Callable[[int], tuple[int, str | None]]]] = deque()

    def __enter__(self) -> Spooler:
        return self

    def put(
        self, checked: CheckedLines, through: str, prefix: Callable[[int], tuple[int, str | None]]
    ) -> list[tuple[list[Path], int, str]]:
        """Queue a write; returns the writes that are durable by now (sealed segments, count, last line).
        `prefix(k)`: when only the first k rows of a write landed, the lines of it acknowledged (those
        before its first row that did not land) and the last of them."""
        if len(checked):
            future = self._executor.submit(self._write, checked)
        else:
            future = Future()
            future.set_result([])
        self._writes.append((future, len(checked), through, prefix))
        return self._settled(wait_all=False)

    def finish(self) -> list[tuple[list[Path], int, str]]:
        return self._settled(wait_all=True)

    def abandon(self) -> list[tuple[list[Path], int, str]]:
        """After a failure elsewhere: no further write begins; the writes already under way complete
        and those durable (in order, up to the first that failed) are returned."""
        self._stopped = True
        return self._settled(wait_all=True)

    def _write(self, checked: CheckedLines) -> list[Path]:
        if self._stopped:
            raise SpoolStopped()
        try:
            return self.spool(checked)
        except BaseException:
            self._stopped = True
            raise

    def _settled(self, wait_all: bool) -> list[tuple[list[Path], int, str]]:
        done = []
        while self._writes and self.failure is None:
            if not (wait_all or self._writes[0][0].done() or len(self._writes) > self.depth):
                break
            future, count, where, prefix = self._writes.popleft()
            try:
                done.append((future.result(), count, where))
            except SpoolWriteFailed as failed:
                self.failure = failed
                landed, through = prefix(failed.durable_rows) if failed.durable_rows else (0, None)
                if landed and through is not None:  # the lines of this write that landed before it failed
                    done.append(([], landed, through))
            except BaseException as err:
                self.failure = err
        return done

    def __exit__(self, exc_type, exc, tb) -> None:
        self._executor.shutdown(wait=True)  # a write under way completes: what it wrote is durable


class SpoolStopped(Exception):
    """A write not begun because an earlier one failed."""


def prefetched(blocks: Iterable[LineBlock], depth: int = 2) -> Iterator[LineBlock]:
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


class Deliveries:
    """Delivers sealed segments on a background thread while the sender checks the next lines. The
    segments waiting when the thread comes round are committed together: one snapshot each, one
    catalog commit."""

    def __init__(self, deliver: Deliver, table: LocalIcebergTable, desired: TableSchema) -> None:
        self.deliver = deliver
        self.base_table = table
        self.desired = desired
        self.snapshots: list[int] = []
        self._waiting: list[Path] = []
        self._submitted: set[str] = set()
        self._condition = threading.Condition()
        self._active = False
        self._futures: list[Future] = []
        self._executor: ThreadPoolExecutor | None = None
        self._table: LocalIcebergTable | None = None  # its own catalog connection, for its thread

    def __enter__(self) -> Deliveries:
        return self

    def submit(self, paths: list[Path]) -> None:
        fresh = [path for path in paths if path.name not in self._submitted]
        if not fresh:
            return
        self._submitted.update(path.name for path in fresh)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-delivery")
            base = self.base_table
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
                self.snapshots += self.deliver(group, self.desired, self._table or self.base_table)
        except BaseException:
            with self._condition:
                self._active = False
                self._condition.notify_all()
            raise

    def _raise_failures(self) -> None:
        for future in self._futures:
            error = future.exception() if future.done() else None
            if error is not None:
                raise error

    def finish(self) -> None:
        """Wait for every submitted segment's commit; raises the first delivery that failed."""
        if self._executor is None:
            return
        self._executor.shutdown(wait=True)
        self._raise_failures()
        if self._waiting:  # the worker stopped on a failure raised above; never silently
            raise RuntimeError(
                f"{len(self._waiting)} sealed segments were not delivered; `health-pipeline flush` delivers them"
            )

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._executor is None:
            return
        if exc_type is not None:  # what is not delivered stays sealed in the spool for the next send
            with self._condition:
                self._waiting.clear()
            self._executor.shutdown(wait=True)
        else:
            self.finish()
