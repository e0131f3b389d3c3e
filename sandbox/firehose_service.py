"""moto's Firehose, extended inside the sandbox process: a stream with an Iceberg destination buffers
what PutRecordBatch / PutRecord receive and delivers it into the Iceberg table the way the Firehose
Developer Guide documents ("Deliver data to Apache Iceberg Tables", "Understand supported data
types", "Handle errors"):

- one JSON object per record; only its first-level keys are read, each must name a column of the
  table (its current schema, so a column added by DDL takes values at once) and its value must have
  the column's type; a key left out, or null, is stored as null;
- a `timestamp` is epoch microseconds (an integer) or ISO 8601 date-time text ("For Timestamp data
  types, you must always send in microseconds");
- records are buffered per stream and delivered when the buffer reaches BufferingHints.SizeInMBs
  or has waited BufferingHints.IntervalInSeconds, whichever comes first (the sandbox's
  POST /_sandbox/firehose/flush delivers at once); one Iceberg commit per delivery;
- a record that cannot be delivered goes to the S3 error output, ErrorOutputPrefix + YYYY/MM/DD/HH/,
  one JSON document a line (attemptsMade, arrivalTimestamp, errorCode, errorMessage,
  attemptEndingTimestamp, rawData in base64, dataCatalogTable), and counts in
  DeliveryToIceberg.FailedRowCount;
- PutRecordBatch takes at most 500 records and 4 MiB, each record at most 1,000 KiB (Firehose API
  Reference, PutRecordBatch).

Written apart from the project's local delivery stream (health_pipeline.engines.local): the two
are read against the same documentation, not against each other.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa
from moto.firehose.exceptions import InvalidArgumentException
from moto.firehose.models import FirehoseBackend, firehose_backends
from pyiceberg.table import Table
from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
)

BATCH_RECORDS_MAX = 500
BATCH_BYTES_MAX = 4 * 1024 * 1024
RECORD_BYTES_MAX = 1000 * 1024
ISO_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?", re.ASCII
)
EPOCH = datetime(1970, 1, 1)


class Undeliverable(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Buffered:
    data: bytes
    arrival_ms: int


@dataclass
class StreamBuffer:
    records: list[Buffered] = field(default_factory=list)
    size: int = 0
    opened: float = 0.0


@dataclass
class Delivery:
    delivered: int = 0
    failed: int = 0
    error_keys: list[str] = field(default_factory=list)


LoadTable = Callable[[str, str], Table]
ClientFor = Callable[[str], Any]


class FirehoseSandbox:
    """The buffers of the sandbox's Iceberg-destination streams and their delivery."""

    def __init__(
        self, load_table: LoadTable, client: ClientFor, lock: threading.Lock, account: str, region: str
    ) -> None:
        self.load_table = load_table
        self.client = client
        self.lock = lock  # shared with Athena: one Iceberg commit at a time
        self.account = account
        self.region = region
        self.buffers: dict[str, StreamBuffer] = {}
        self.buffers_lock = threading.Lock()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    # -- receiving -----------------------------------------------------------------------------
    def accept(self, stream: str, records: list[dict[str, Any]]) -> list[dict[str, str]]:
        if not 1 <= len(records) <= BATCH_RECORDS_MAX:
            raise InvalidArgumentException(
                f"PutRecordBatch takes 1 to {BATCH_RECORDS_MAX} records; {len(records)} were given"
            )
        datas = [_bytes(record.get("Data")) for record in records]
        for index, data in enumerate(datas):
            if len(data) > RECORD_BYTES_MAX:
                raise InvalidArgumentException(
                    f"Records[{index}].Data is {len(data):,} bytes; a record takes at most {RECORD_BYTES_MAX:,} bytes"
                )
        if sum(map(len, datas)) > BATCH_BYTES_MAX:
            raise InvalidArgumentException(
                f"the batch is {sum(map(len, datas)):,} bytes; PutRecordBatch takes at most {BATCH_BYTES_MAX:,} bytes"
            )
        now_ms = int(time.time() * 1000)
        full = False
        with self.buffers_lock:
            buffer = self.buffers.setdefault(stream, StreamBuffer())
            if not buffer.records:
                buffer.opened = time.monotonic()
            buffer.records.extend(Buffered(data, now_ms) for data in datas)
            buffer.size += sum(map(len, datas))
            full = buffer.size >= self._hints(stream)[0]
        dimensions = [{"Name": "DeliveryStreamName", "Value": stream}]
        self.client("cloudwatch").put_metric_data(
            Namespace="AWS/Firehose",
            MetricData=[
                {"MetricName": "IncomingRecords", "Dimensions": dimensions, "Value": len(datas), "Unit": "Count"},
                {
                    "MetricName": "IncomingBytes",
                    "Dimensions": dimensions,
                    "Value": sum(map(len, datas)),
                    "Unit": "Bytes",
                },
            ],
        )
        if full:
            self.deliver(stream)
        return [{"RecordId": uuid.uuid4().hex} for _ in datas]

    def _stream(self, stream: str) -> Any:
        return firehose_backends[self.account][self.region].delivery_streams[stream]

    def _destination(self, stream: str) -> dict[str, Any]:
        return self._stream(stream).destinations[0]["Iceberg"]

    def _hints(self, stream: str) -> tuple[int, float]:
        hints = self._destination(stream).get("BufferingHints") or {}
        return int(hints.get("SizeInMBs", 5)) * 1024 * 1024, float(hints.get("IntervalInSeconds", 300))

    # -- delivering ----------------------------------------------------------------------------
    def start(self) -> None:
        self._timer = threading.Thread(target=self._tick, name="sandbox-firehose-buffers", daemon=True)
        self._timer.start()

    def stop(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join(timeout=5)

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            for stream in list(self.buffers):
                try:
                    due = self.buffers[stream].records and (
                        time.monotonic() - self.buffers[stream].opened >= self._hints(stream)[1]
                    )
                except KeyError:  # the stream was deleted
                    self.buffers.pop(stream, None)
                    continue
                if due:
                    self.deliver(stream)

    def flush(self) -> dict[str, Delivery]:
        return {stream: self.deliver(stream) for stream in list(self.buffers)}

    def deliver(self, stream: str) -> Delivery:
        with self.buffers_lock:
            buffer = self.buffers.pop(stream, None)
        if buffer is None or not buffer.records:
            return Delivery()
        destination = self._destination(stream)
        tables = destination.get("DestinationTableConfigurationList") or []
        database, table_name = tables[0]["DestinationDatabaseName"], tables[0]["DestinationTableName"]
        outcome = Delivery()
        with self.lock:
            table = self.load_table(database, table_name)
            rows: list[dict[str, Any]] = []
            failures: list[tuple[Buffered, Undeliverable]] = []
            for record in buffer.records:
                try:
                    rows.append(conform(record.data, table))
                except Undeliverable as err:
                    failures.append((record, err))
            if rows:
                arrow_schema = table.schema().as_arrow()
                table.append(pa.Table.from_pylist(rows, schema=arrow_schema))
            outcome.delivered = len(rows)
        if failures:
            outcome.failed = len(failures)
            outcome.error_keys.append(self._write_errors(stream, destination, database, table_name, failures))
        self._metrics(stream, outcome, min(r.arrival_ms for r in buffer.records))
        return outcome

    def _write_errors(
        self,
        stream: str,
        destination: dict[str, Any],
        database: str,
        table_name: str,
        failures: list[tuple[Buffered, Undeliverable]],
    ) -> str:
        s3 = destination.get("S3DestinationDescription") or destination.get("S3Configuration") or {}
        bucket = s3["BucketARN"].split(":::")[-1]
        now = datetime.now(UTC)
        catalog_arn = (destination.get("CatalogConfiguration") or {}).get("CatalogARN", "")
        lines = [
            json.dumps(
                {
                    "attemptsMade": 1,
                    "arrivalTimestamp": record.arrival_ms,
                    "errorCode": err.code,
                    "errorMessage": str(err),
                    "attemptEndingTimestamp": int(now.timestamp() * 1000),
                    "rawData": base64.b64encode(record.data).decode("ascii"),
                    "dataCatalogTable": {"catalogArn": catalog_arn, "databaseName": database, "tableName": table_name},
                }
            )
            for record, err in failures
        ]
        version = self._stream(stream).version_id
        key = (
            f"{s3.get('ErrorOutputPrefix', '')}{now:%Y/%m/%d/%H}/"
            f"{stream}-{version}-{now:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}"
        )
        self.client("s3").put_object(Bucket=bucket, Key=key, Body=("\n".join(lines) + "\n").encode())
        return key

    def _metrics(self, stream: str, outcome: Delivery, oldest_ms: int) -> None:
        freshness = max(0.0, time.time() - oldest_ms / 1000)
        dimensions = [{"Name": "DeliveryStreamName", "Value": stream}]
        self.client("cloudwatch").put_metric_data(
            Namespace="AWS/Firehose",
            MetricData=[
                {"MetricName": "DeliveryToIceberg.SuccessfulRowCount", "Dimensions": dimensions,
                 "Value": outcome.delivered, "Unit": "Count"},
                {"MetricName": "DeliveryToIceberg.FailedRowCount", "Dimensions": dimensions,
                 "Value": outcome.failed, "Unit": "Count"},
                {"MetricName": "DeliveryToIceberg.Success", "Dimensions": dimensions,
                 "Value": 1.0 if outcome.delivered else 0.0, "Unit": "Count"},
                {"MetricName": "DeliveryToIceberg.DataFreshness", "Dimensions": dimensions,
                 "Value": freshness, "Unit": "Seconds"},
            ],
        )  # fmt: skip


def _bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    return base64.b64decode(data or b"")


# -- one record against the table's schema --------------------------------------------------------
def conform(data: bytes, table: Table) -> dict[str, Any]:
    """The record as a row of the table, or Undeliverable with the reason."""
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise Undeliverable("Iceberg.InvalidJson", f"the record is not JSON: {err}") from err
    if not isinstance(record, dict):
        raise Undeliverable("Iceberg.InvalidJson", f"the record is a JSON {type(record).__name__}, not one JSON object")
    fields = {f.name: f for f in table.schema().fields}
    unknown = [key for key in record if key not in fields]
    if unknown:
        raise Undeliverable(
            "Iceberg.SchemaMismatch",
            f"field(s) {', '.join(map(repr, unknown))} have no column in table {table.name()[-1]}",
        )
    row: dict[str, Any] = {}
    for name, column in fields.items():
        value = record.get(name)
        row[name] = None if value is None else _value(name, column.field_type, value)
    return row


def _value(name: str, kind: Any, value: Any) -> Any:
    def mismatch(expected: str) -> Undeliverable:
        return Undeliverable(
            "Iceberg.TypeMismatch", f"{name} is a {kind} column; {json.dumps(value)} is not {expected}"
        )

    is_int = isinstance(value, int) and not isinstance(value, bool)
    if isinstance(kind, StringType):
        if not isinstance(value, str):
            raise mismatch("a string")
        return value
    if isinstance(kind, IntegerType):
        if not is_int or not -(2**31) <= value < 2**31:
            raise mismatch("a 32-bit integer")
        return value
    if isinstance(kind, LongType):
        if not is_int or not -(2**63) <= value < 2**63:
            raise mismatch("a 64-bit integer")
        return value
    if isinstance(kind, (DoubleType, FloatType)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise mismatch("a number")
        return float(value)
    if isinstance(kind, BooleanType):
        if not isinstance(value, bool):
            raise mismatch("true or false")
        return value
    if isinstance(kind, TimestampType):
        return _timestamp(name, value, is_int)
    if isinstance(kind, DateType):
        try:
            return date.fromisoformat(value) if isinstance(value, str) else date(1970, 1, 1) + timedelta(days=value)
        except (TypeError, ValueError, OverflowError) as err:
            raise mismatch("a date (YYYY-MM-DD)") from err
    if isinstance(kind, DecimalType):
        try:
            return Decimal(str(value)) if not isinstance(value, bool) else None
        except InvalidOperation as err:
            raise mismatch("a decimal") from err
    raise mismatch("a value the sandbox can store")


def _timestamp(name: str, value: Any, is_int: bool) -> datetime:
    if is_int:
        try:
            return EPOCH + timedelta(microseconds=value)
        except OverflowError as err:
            raise Undeliverable("Iceberg.TypeMismatch", f"{name}={value} microseconds is out of range") from err
    match = ISO_TIMESTAMP.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise Undeliverable(
            "Iceberg.TypeMismatch",
            f"{name} is a timestamp column; {json.dumps(value)} is neither epoch microseconds nor ISO 8601 date-time",
        )
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
        )  # fmt: skip
    except ValueError as err:
        raise Undeliverable("Iceberg.TypeMismatch", f"{name}={value!r}: {err}") from err
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])) * sign
        moment = moment.replace(tzinfo=timezone(offset)).astimezone(UTC).replace(tzinfo=None)
    return moment


# -- moto's PutRecordBatch, redirected for Iceberg destinations ------------------------------------
_sandbox: FirehoseSandbox | None = None
_original_put_record_batch = FirehoseBackend.put_record_batch


def install(sandbox: FirehoseSandbox) -> None:
    global _sandbox
    _sandbox = sandbox
    FirehoseBackend.put_record_batch = _put_record_batch  # type: ignore[method-assign]


def _put_record_batch(self: FirehoseBackend, delivery_stream_name: str, records: list[dict[str, Any]]) -> dict:
    stream = self.delivery_streams.get(delivery_stream_name)
    if _sandbox is None or stream is None or "Iceberg" not in stream.destinations[0]:
        return _original_put_record_batch(self, delivery_stream_name, records)
    responses = _sandbox.accept(delivery_stream_name, records)
    return {"FailedPutCount": 0, "Encrypted": False, "RequestResponses": responses}
