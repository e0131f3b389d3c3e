"""What the two delivery streams share: rejections and the error output, what a send reports, and
the figures the firehose_delivery asset shows.

A delivery stream takes JSON Lines blocks and either acknowledges each line (it will reach the table,
at least once) or rejects it with a reason written to the error output. The local stream
(`engines.local.delivery_stream.LocalDeliveryStream`) and Kinesis Firehose
(`engines.aws.delivery_stream.FirehoseDeliveryStream`) both implement `stack.DeliveryStream`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from health_pipeline.delivery.json_lines import MAX_RECORD_BYTES


@dataclass
class Rejection:
    """A record refused at `where` (file:line, or a producer's reference) with a code and a reason."""

    where: str
    code: str
    reason: str
    raw: bytes


@dataclass
class SendReport:
    """What a send did: every line is accepted, rejected (error output) or dead-lettered."""

    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    error_paths: list[Path] = field(default_factory=list)
    dead_lettered: int = 0
    dead_letter_path: Path | None = None
    dead_letter_codes: dict[str, int] = field(default_factory=dict)
    damaged: list[str] = field(default_factory=list)  # spool damage found and moved to the error output

    @property
    def complete(self) -> bool:
        return not self.rejected and not self.dead_lettered


@dataclass
class SendListener:
    """Callbacks while a send runs: a rejection, and the running count of acknowledged records with
    the last line they reach (acknowledged = durable in the stream: fsynced spool, or Firehose's reply)."""

    on_reject: Callable[[Rejection], None] | None = None
    on_ack: Callable[[int, str], None] | None = None

    def rejected(self, rejection: Rejection) -> None:
        if self.on_reject:
            self.on_reject(rejection)

    def acknowledged(self, total: int, through: str) -> None:
        if self.on_ack:
            self.on_ack(total, through)


class ErrorOutput:
    """Rejected records as JSON documents (errorCode, errorMessage, rawData in base64, arrivalTime),
    one file each under `<directory>/YYYY/MM/DD/`, named so that name order is arrival order."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, rejection: Rejection, source: str) -> Path:
        now = datetime.now(UTC)
        day_dir = self.directory / now.strftime("%Y/%m/%d")
        day_dir.mkdir(parents=True, exist_ok=True)
        raw = rejection.raw
        document: dict[str, Any] = {
            "errorCode": rejection.code,
            "errorMessage": _text(rejection.reason),
            "rawData": base64.b64encode(raw[:MAX_RECORD_BYTES]).decode("ascii"),
            "arrivalTime": now.isoformat(timespec="microseconds"),
            "source": source,
            "where": _text(rejection.where),
        }
        if len(raw) > MAX_RECORD_BYTES:
            document["rawDataTruncated"] = True
            document["rawDataBytes"] = len(raw)
        path = day_dir / f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:12]}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(document, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path

    def documents(self, after: str | None = None) -> list[Path]:
        """The error documents in arrival order; with `after` (a relative path), only those after it."""
        if not self.directory.exists():
            return []
        paths = sorted(self.directory.rglob("*.json"), key=lambda p: p.relative_to(self.directory).as_posix())
        if after:
            paths = [p for p in paths if p.relative_to(self.directory).as_posix() > after]
        return paths


class ErrorTally:
    """Error documents (Firehose's error output format, or the local stream's, which adds `where`)
    counted by error code, the first `sample_size` kept as samples: the one summary both monitors use."""

    def __init__(self, sample_size: int) -> None:
        self.sample_size = sample_size
        self.records = 0
        self.counts: dict[str, int] = {}
        self.samples: list[ErrorSample] = []

    def add(self, document: dict[str, Any], location: str, link: str | None) -> None:
        code = str(document.get("errorCode") or document.get("ErrorCode") or document.get("lastErrorCode") or "Unknown")
        message = str(
            document.get("errorMessage") or document.get("ErrorMessage") or document.get("lastErrorMessage") or ""
        )
        if document.get("where"):
            message = f"{document['where']}: {message}"
        self.counts[code] = self.counts.get(code, 0) + 1
        self.records += 1
        if len(self.samples) < self.sample_size:
            raw = raw_preview(str(document.get("rawData", "")))
            self.samples.append(ErrorSample(location=location, code=code, message=message, raw_preview=raw, link=link))

    @property
    def codes(self) -> dict[str, int]:
        """Error codes, the most frequent first."""
        return dict(sorted(self.counts.items(), key=lambda item: -item[1]))


def raw_preview(raw_base64: str, limit: int = 160) -> str:
    """The start of an error record's rawData as text, for a sample in the metadata."""
    try:
        text = base64.b64decode(raw_base64).decode("utf-8", "replace").rstrip("\n")
    except (binascii.Error, ValueError):
        return "(rawData is not base64)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _text(value: str) -> str:
    # A reason quoting a lone surrogate must not make the document unwritable.
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class ErrorSample:
    """One failed record from the error output, for the asset's metadata."""

    location: str  # a path (local) or s3:// URI
    code: str
    message: str
    raw_preview: str
    link: str | None = None  # a URL an operator can open (the S3 console), when there is one


@dataclass
class DeliveryStatus:
    """What the firehose_delivery asset reports: the stream's state, its figures over the window since
    the last observation, its freshness and the error records that arrived since then."""

    mode: str
    stream: str
    state: str  # ACTIVE when the stream takes records
    destination: str  # what it delivers to, e.g. "Iceberg health_logger_prod_health_logs.health_records"
    expected_destination: str
    problems: list[str]  # why the stream is not delivering where it should, empty when it is
    buffer_seconds: float
    buffer_mb: float
    window_start: datetime | None  # None: since the stream began (the first observation)
    window_end: datetime
    figures: dict[str, int | float | None]  # ordered, for the metadata table
    freshness_s: float | None  # age of the oldest undelivered record / DataFreshness; None: nothing waits
    freshness_source: str
    new_error_records: int
    error_codes: dict[str, int]
    error_samples: list[ErrorSample]
    error_location: str  # where the error output is (directory or s3:// prefix)
    cursor: dict[str, Any]  # to pass to the next observation
    notes: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.state == "ACTIVE" and not self.problems

    @property
    def freshness_limit_s(self) -> float:
        return 2 * self.buffer_seconds
