"""Sending to Kinesis Firehose, for `HEALTH_PIPELINE_MODE=aws`: `send`'s blocks of lines validated,
encoded and put with PutRecordBatch, batched, retried and dead-lettered by `health_pipeline.delivery.firehose`
(which the Lambda uses too). What the firehose_delivery asset reads is in `delivery_monitor`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from health_pipeline.delivery.firehose import (
    PUT_BYTES_MAX,
    PUT_RECORDS_MAX,
    RETRYABLE_CODES,
    DeadLetterFile,
    DeadLetters,
    FirehosePutter,
    FirehoseSetupError,
    PendingRecord,
    PutRetryBackoff,
    firehose_client,
)
from health_pipeline.delivery.line_blocks import LineBlock
from health_pipeline.delivery.records import MAX_RECORD_BYTES, RecordRejected, check_line
from health_pipeline.delivery.stream import (
    ErrorOutput,
    Rejection,
    SendListener,
    SendReport,
)
from health_pipeline.schema.model import TableSchema

__all__ = [
    "PUT_BYTES_MAX",
    "PUT_RECORDS_MAX",
    "RETRYABLE_CODES",
    "DeadLetterFile",
    "DeadLetters",
    "FirehoseDeliveryStream",
    "FirehoseSetupError",
    "PutRetryBackoff",
    "firehose_client",
]


class FirehoseDeliveryStream(FirehosePutter):
    """`send` through Kinesis Firehose's PutRecordBatch (see the module docstring). Not a
    `stack.SpooledDeliveryStream`: Firehose flushes its own buffers (5 MB / 300 s)."""

    def __init__(
        self,
        client: Any,
        stream_name: str,
        errors: ErrorOutput | None,
        dead_letters: DeadLetters,
        *,
        sleep: Callable[[float], None] = time.sleep,
        retry: PutRetryBackoff = PutRetryBackoff(),
        draw: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(client, stream_name, dead_letters, sleep=sleep, retry=retry, draw=draw)
        self.errors = errors

    def send(
        self,
        blocks: Iterable[LineBlock],
        producer_schema: TableSchema | None = None,
        listener: SendListener | None = None,
    ) -> SendReport:
        """Encode (or, raw, take as they are) the lines and put them in batches; each batch is settled
        (every record delivered or dead-lettered) before the next."""
        listener = listener or SendListener()
        report = SendReport()
        batch: list[PendingRecord] = []
        batch_bytes = 0
        for block in blocks:
            for i in range(len(block)):
                try:
                    data = self._record(block, i, producer_schema)
                except RecordRejected as err:
                    rejection = Rejection(block.where(i), f"Producer.{err.code}", str(err), block.raw_line(i))
                    report.rejected.append(rejection)
                    if self.errors is not None:
                        report.error_paths.append(self.errors.write(rejection, source="producer"))
                    listener.rejected(rejection)
                    continue
                if len(batch) == PUT_RECORDS_MAX or batch_bytes + len(data) > PUT_BYTES_MAX:
                    self._settle(batch, report, listener)
                    batch, batch_bytes = [], 0
                batch.append(PendingRecord(block.where(i), data))
                batch_bytes += len(data)
        if batch:
            self._settle(batch, report, listener)
        report.dead_lettered = self.dead_letters.count
        report.dead_letter_path = self.dead_letters.path
        report.dead_letter_codes = dict(self.dead_letters.codes)
        return report

    @staticmethod
    def _record(block: LineBlock, i: int, producer_schema: TableSchema | None) -> bytes:
        if producer_schema is not None:
            return check_line(block.raw_line(i), producer_schema, producer=True)[1]
        data = block.line(i)  # raw: as the other producer wrote it, one line ending in "\n"
        if len(data) > MAX_RECORD_BYTES:
            raise RecordRejected(
                "RecordTooLarge",
                f"the record is {len(data):,} bytes; Firehose takes at most {MAX_RECORD_BYTES:,} bytes"
                " (1,000 KiB) a record, so it was not sent",
            )
        return data

    def _settle(self, batch: list[PendingRecord], report: SendReport, listener: SendListener) -> None:
        delivered = self.put_batch(batch)
        report.accepted += delivered
        listener.acknowledged(report.accepted, batch[-1].where)
