"""The producer side of `send`: validate each line, encode it, hand it to the delivery stream in batches.

A malformed line never stops a send: it is rejected to the error output with its reason and the valid
lines around it go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from health_pipeline.engines.local_delivery import LocalDeliveryStream, Rejection
from health_pipeline.records import RecordRejected, encode_record, parse_line, validate_record
from health_pipeline.schema.model import TableSchema

BATCH_RECORDS = 500  # PutRecordBatch's limit, kept locally so the two modes batch alike


@dataclass
class SendReport:
    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    error_paths: list[Path] = field(default_factory=list)


def send_lines(
    delivery: LocalDeliveryStream,
    desired: TableSchema,
    lines: Iterable[tuple[str, bytes]],
    *,
    raw: bool = False,
    on_reject: Callable[[Rejection], None] | None = None,
) -> SendReport:
    """Send (where, line) pairs; `raw` skips the producer validation, leaving the stream's own checks."""
    report = SendReport()
    iterator = iter(lines)
    while batch := list(islice(iterator, BATCH_RECORDS)):
        ready: list[tuple[str, bytes]] = []
        for where, line in batch:
            if raw:
                ready.append((where, line))
                continue
            try:
                ready.append((where, encode_record(validate_record(parse_line(line), desired))))
            except RecordRejected as err:
                rejection = Rejection(where, f"Producer.{err.code}", str(err), line)
                report.rejected.append(rejection)
                report.error_paths.append(delivery.record_rejection(rejection, source="producer"))
                if on_reject:
                    on_reject(rejection)
        result = delivery.put_records(ready)
        report.accepted += result.accepted
        report.rejected += result.rejected
        report.error_paths += result.error_paths
        if on_reject:
            for rejection in result.rejected:
                on_reject(rejection)
    return report
