"""What the firehose_delivery asset reads about the local delivery stream: records received,
delivered and rejected since the last observation, the spool backlog and its age, and the new error
documents (the local twin of `engines.aws.delivery_monitor`)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from health_pipeline.delivery.stream import DeliveryStatus, ErrorTally
from health_pipeline.engines.local.delivery_stream import (
    SEGMENT_PROPERTY,
    LocalDeliveryStream,
    created_at,
    file_size,
    line_count,
)


@dataclass
class LocalDeliveryMonitor:
    stream: LocalDeliveryStream

    def status(self, cursor: dict[str, Any] | None = None, sample_size: int = 5) -> DeliveryStatus:
        """The stream's figures since the observation that returned `cursor` (everything, without one)."""
        cursor = cursor or {}
        now = datetime.fromtimestamp(self.stream.clock(), UTC)
        segments = self.stream.segments()
        backlog_bytes = sum(file_size(path) for path in segments)
        backlog_records = sum(line_count(path) for path in segments)
        oldest = min((created_at(path) for path in segments), default=None)
        state, problems = "ACTIVE", []
        try:
            self.stream.spool_dir.mkdir(parents=True, exist_ok=True)
            if not os.access(self.stream.spool_dir, os.W_OK):
                state, problems = "NOT_WRITABLE", [f"the spool {self.stream.spool_dir} is not writable"]
        except OSError as err:
            state, problems = "NOT_WRITABLE", [f"cannot create the spool {self.stream.spool_dir}: {err}"]
        since_ms = int(cursor.get("snapshot_ms", 0))
        delivered = delivered_total = 0
        last_ms = since_ms
        if self.stream.table.exists():
            for snapshot in self.stream.table.load().metadata.snapshots:
                summary = snapshot.summary
                if summary is None or SEGMENT_PROPERTY not in summary.additional_properties:
                    continue
                added = int(summary.additional_properties.get("added-records", 0))
                delivered_total += added
                if snapshot.timestamp_ms > since_ms:
                    delivered += added
                    last_ms = max(last_ms, snapshot.timestamp_ms)
        documents = self.stream.errors.documents(after=cursor.get("last_error"))
        tally = ErrorTally(sample_size)
        for path in documents:
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                document = {"errorCode": "Unreadable", "errorMessage": f"cannot read {path}"}
            tally.add(document, str(path), path.as_uri())
        rejected = len(documents)
        received = delivered + rejected + backlog_records - int(cursor.get("backlog_records", 0))
        last_error = (
            documents[-1].relative_to(self.stream.errors.directory).as_posix()
            if documents
            else cursor.get("last_error")
        )
        window_start = datetime.fromisoformat(cursor["window_end"]) if cursor.get("window_end") else None
        identifier = f"Iceberg {self.stream.table.identifier} (local catalog)"
        return DeliveryStatus(
            mode="local",
            stream=str(self.stream.spool_dir),
            state=state,
            destination=identifier,
            expected_destination=identifier,
            problems=problems,
            buffer_seconds=float(self.stream.buffer_seconds),
            buffer_mb=round(self.stream.buffer_bytes / (1024 * 1024), 3),
            window_start=window_start,
            window_end=now,
            figures={
                "records_received": received,
                "records_delivered": delivered,
                "records_rejected": rejected,
                "records_delivered_total": delivered_total,
                "spool_segments": len(segments),
                "spool_bytes": backlog_bytes,
                "spool_records": backlog_records,
                "oldest_undelivered_s": None if oldest is None else round(max(0.0, self.stream.clock() - oldest), 1),
            },
            freshness_s=None if oldest is None else max(0.0, self.stream.clock() - oldest),
            freshness_source="age of the oldest undelivered record in the spool",
            new_error_records=rejected,
            error_codes=tally.codes,
            error_samples=tally.samples,
            error_location=str(self.stream.errors.directory),
            cursor={
                "last_error": last_error,
                "snapshot_ms": last_ms,
                "backlog_records": backlog_records,
                "window_end": now.isoformat(),
            },
            notes=(
                [f"{backlog_records} records wait in the spool; `health-pipeline flush` delivers them now"]
                if backlog_records
                else []
            ),
        )
