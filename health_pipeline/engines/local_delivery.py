"""The local delivery stream: Kinesis Firehose's semantics on one machine, for the embedded default.

- Its own schema check, like Firehose's for an Iceberg destination: a line that is not a JSON object
  or does not fit the live table's columns goes to the error output with its reason.
- Durable: a record is acknowledged only once it is in an append-only spool segment on disk (fsync),
  so a crash loses no acknowledged record.
- Buffered: a segment is delivered when it reaches `buffer_bytes` or is `buffer_seconds` old
  (Firehose's 5 MB / 300 s), or on `flush()`. One Iceberg append (one snapshot) per segment, tagged
  with the segment's name, so a segment whose commit landed just before a crash is not delivered
  twice.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pa_json

from health_pipeline.engines.local_table import LocalIcebergTable
from health_pipeline.records import RecordRejected, conform_to_schema, encode_record, parse_line
from health_pipeline.schema.model import TableSchema

DEFAULT_BUFFER_BYTES = 5 * 1024 * 1024
DEFAULT_BUFFER_SECONDS = 300
MAX_RECORD_BYTES = 1_000 * 1024
SEGMENT_PROPERTY = "health-pipeline.spool-segment"


@dataclass
class Rejection:
    """A record refused at `where` (file:line, or a producer's reference) with a code and a reason."""

    where: str
    code: str
    reason: str
    raw: bytes


@dataclass
class PutResult:
    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    delivered_snapshots: list[int] = field(default_factory=list)
    error_paths: list[Path] = field(default_factory=list)


class ErrorOutput:
    """Rejected records as JSON documents (errorCode, errorMessage, rawData in base64, arrival time)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, rejection: Rejection, source: str) -> Path:
        now = datetime.now(timezone.utc)
        day_dir = self.directory / now.strftime("%Y/%m/%d")
        day_dir.mkdir(parents=True, exist_ok=True)
        document = {
            "errorCode": rejection.code,
            "errorMessage": rejection.reason,
            "rawData": base64.b64encode(rejection.raw).decode("ascii"),
            "arrivalTime": now.isoformat(timespec="microseconds"),
            "source": source,
            "where": rejection.where,
        }
        path = day_dir / f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:12]}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(document, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path

    def documents(self) -> list[Path]:
        return sorted(self.directory.rglob("*.json")) if self.directory.exists() else []


class LocalDeliveryStream:
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

    # -- the write path -------------------------------------------------------------------------
    def put_records(self, records: Iterable[tuple[str, bytes]]) -> PutResult:
        """Check, spool (fsync) and acknowledge each (where, line); deliver the buffers that are due."""
        result = PutResult()
        with self._locked():
            schema = self._live_schema()
            lines: list[bytes] = []
            for where, raw in records:
                try:
                    if len(raw) > MAX_RECORD_BYTES:
                        raise RecordRejected(
                            "RecordTooLarge", f"the record is {len(raw)} bytes; the limit is {MAX_RECORD_BYTES}"
                        )
                    lines.append(encode_record(conform_to_schema(parse_line(raw), schema)))
                except RecordRejected as err:
                    rejection = Rejection(where, f"Stream.{err.code}", str(err), raw)
                    result.rejected.append(rejection)
                    result.error_paths.append(self.errors.write(rejection, source="delivery-stream"))
            if lines:
                self._spool(lines)
                result.accepted = len(lines)
            result.delivered_snapshots += self._deliver_due(force=False)
        return result

    def record_rejection(self, rejection: Rejection, source: str) -> Path:
        """Write a rejection made before the stream (the producer's validation) to the error output."""
        return self.errors.write(rejection, source=source)

    def flush(self) -> list[int]:
        """Deliver everything the spool holds now; returns the snapshot ids committed."""
        with self._locked():
            return self._deliver_due(force=True)

    def backlog(self) -> tuple[int, int, float | None]:
        """(segments, bytes, age in seconds of the oldest undelivered segment) still in the spool."""
        segments = self._segments()
        size = sum(path.stat().st_size for path in segments)
        oldest = min((self._created(path) for path in segments), default=None)
        return len(segments), size, None if oldest is None else max(0.0, self.clock() - oldest)

    # -- internals ------------------------------------------------------------------------------
    @contextmanager
    def _locked(self):
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        with open(self.spool_dir / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _live_schema(self) -> TableSchema:
        return TableSchema.from_iceberg(self.table.load_or_create(self.desired_schema()).schema())

    def _segments(self) -> list[Path]:
        if not self.spool_dir.exists():
            return []
        return sorted(self.spool_dir.glob("segment-*.jsonl"))

    @staticmethod
    def _created(path: Path) -> float:
        return int(path.stem.split("-")[2]) / 1000

    def _open_segment(self) -> Path:
        segments = self._segments()
        if segments:
            current = segments[-1]
            if current.stat().st_size < self.buffer_bytes:
                return current
        sequence = int(segments[-1].stem.split("-")[1]) + 1 if segments else 1
        return self.spool_dir / f"segment-{sequence:012d}-{int(self.clock() * 1000)}.jsonl"

    def _spool(self, lines: list[bytes]) -> None:
        path = self._open_segment()
        _truncate_partial_tail(path)
        with open(path, "ab") as handle:
            handle.write(b"".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_dir(self.spool_dir)

    def _deliver_due(self, force: bool) -> list[int]:
        snapshots = []
        now = self.clock()
        for path in self._segments():
            due = force or path.stat().st_size >= self.buffer_bytes or now - self._created(path) >= self.buffer_seconds
            if due:
                snapshot = self._deliver(path)
                if snapshot is not None:
                    snapshots.append(snapshot)
        return snapshots

    def _deliver(self, path: Path) -> int | None:
        if self._already_committed(path.name):
            path.unlink()
            return None
        data = path.read_bytes()
        data = data[: data.rfind(b"\n") + 1]  # a torn last line was never acknowledged
        snapshot = None
        if data:
            table = self.table.load_or_create(self.desired_schema())
            arrow_schema = table.schema().as_arrow()
            rows = pa_json.read_json(
                io.BytesIO(data),
                read_options=pa_json.ReadOptions(block_size=max(1 << 20, min(len(data), 64 << 20))),
                parse_options=pa_json.ParseOptions(
                    explicit_schema=pa.schema([f.with_nullable(True) for f in arrow_schema]),
                    unexpected_field_behavior="ignore",
                ),
            )
            snapshot = self.table.append(rows, self.desired_schema(), {SEGMENT_PROPERTY: path.name})
        path.unlink()
        _fsync_dir(self.spool_dir)
        return snapshot

    def _already_committed(self, segment: str) -> bool:
        if not self.table.exists():
            return False
        for snapshot in self.table.load().metadata.snapshots:
            summary = snapshot.summary
            if summary is not None and summary.additional_properties.get(SEGMENT_PROPERTY) == segment:
                return True
        return False


def _truncate_partial_tail(path: Path) -> None:
    if not path.exists():
        return
    size = path.stat().st_size
    if size == 0:
        return
    with open(path, "rb+") as handle:
        handle.seek(max(0, size - 1))
        if handle.read(1) == b"\n":
            return
        data = path.read_bytes()
        handle.truncate(data.rfind(b"\n") + 1)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
