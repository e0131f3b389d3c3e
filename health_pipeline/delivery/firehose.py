"""PutRecordBatch, as both producers use it (`health-pipeline send` in aws mode and the Lambda):
batches, retries with backoff, dead letters. Standard library only; botocore is imported when a call
has to be told apart, boto3 when a client is made.

PutRecordBatch takes at most 500 records and 4 MiB a call, each record at most 1,000 KiB. A call can
succeed with some records failed (`FailedPutCount`, and an `ErrorCode` on those entries of
`RequestResponses`, in request order): only those are sent again. Failed entries and throttled calls
(`ServiceUnavailableException`, `ThrottlingException`) are retried with exponential backoff and full
jitter, a bounded number of times; what still fails is dead-lettered with its error codes. botocore's
own retries are off for the client so that these are the only ones.
"""

from __future__ import annotations

import base64
import json
import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PUT_RECORDS_MAX = 500
PUT_BYTES_MAX = 4 * 1024 * 1024
RETRYABLE_CODES = frozenset(
    {
        "ServiceUnavailableException",
        "ThrottlingException",
        "LimitExceededException",
        "InternalFailure",
        "InternalServerError",
        "RequestTimeout",
        "SlowDown",
    }
)


class FirehoseSetupError(ValueError):
    """Firehose refused the very first call (no such stream, no permission, no credentials): nothing
    was sent, and the message says what to check."""


@dataclass(frozen=True)
class PutRetryBackoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2**(n-1)))."""

    max_attempts: int = 8
    base_delay_s: float = 0.2
    max_delay_s: float = 10.0

    def delay(self, attempt: int, draw: Callable[[], float]) -> float:
        return draw() * min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))


@dataclass
class PendingRecord:
    """One encoded record on its way: where it came from, its bytes, the error codes it met."""

    where: str
    data: bytes
    codes: list[str] = field(default_factory=list)
    message: str = ""


def batches(records: Iterable[PendingRecord]) -> Iterator[list[PendingRecord]]:
    """The records in order, in batches PutRecordBatch takes (at most 500 records, 4 MiB)."""
    batch: list[PendingRecord] = []
    size = 0
    for record in records:
        if len(batch) == PUT_RECORDS_MAX or size + len(record.data) > PUT_BYTES_MAX:
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += len(record.data)
    if batch:
        yield batch


class DeadLetters:
    """Records Firehose did not take after every retry, each with where it came from, its error codes
    and the record itself (base64, `data`). This one keeps them in memory (the Lambda returns them);
    `DeadLetterFile` writes them to disk."""

    path: Path | None = None

    def __init__(self, stream_name: str) -> None:
        self.stream_name = stream_name
        self.count = 0
        self.codes: dict[str, int] = {}
        self.records: list[dict[str, Any]] = []

    def write(self, entries: list[PendingRecord], attempts: int) -> None:
        if not entries:
            return
        now = datetime.now(UTC).isoformat(timespec="seconds")
        documents = []
        for entry in entries:
            last = entry.codes[-1] if entry.codes else "Unknown"
            self.codes[last] = self.codes.get(last, 0) + 1
            documents.append(
                {
                    "stream": self.stream_name,
                    "where": entry.where,
                    "data": base64.b64encode(entry.data).decode("ascii"),
                    "errorCodes": entry.codes,
                    "errorMessage": entry.message,
                    "attempts": attempts,
                    "deadLetteredAt": now,
                }
            )
        self._store(documents)
        self.count += len(entries)

    def _store(self, documents: list[dict[str, Any]]) -> None:
        self.records += documents


class DeadLetterFile(DeadLetters):
    """Dead letters as JSON lines in `<directory>/<time>-<stream>-<id>.jsonl`, fsynced."""

    def __init__(self, directory: Path, stream_name: str) -> None:
        super().__init__(stream_name)
        self.directory = directory

    def _store(self, documents: list[dict[str, Any]]) -> None:
        if self.path is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            self.path = self.directory / f"{stamp}-{self.stream_name}-{uuid.uuid4().hex[:8]}.jsonl"
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write("".join(json.dumps(document, ensure_ascii=False) + "\n" for document in documents))
            handle.flush()
            os.fsync(handle.fileno())


class FirehosePutter:
    """Puts batches to one stream, resending only failed entries, dead-lettering what never lands."""

    def __init__(
        self,
        client: Any,
        stream_name: str,
        dead_letters: DeadLetters,
        *,
        sleep: Callable[[float], None] = time.sleep,
        retry: PutRetryBackoff = PutRetryBackoff(),
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.client = client
        self.stream_name = stream_name
        self.dead_letters = dead_letters
        self.sleep = sleep
        self.retry = retry
        self.draw = draw
        self.calls = 0

    def put_batch(self, batch: list[PendingRecord]) -> int:
        """Put one batch, resending only what failed; returns how many were delivered. What still fails
        after the last attempt goes to the dead letters."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        pending = batch
        delivered = 0
        attempt = 0
        while pending and attempt < self.retry.max_attempts:
            attempt += 1
            if attempt > 1:
                self.sleep(self.retry.delay(attempt - 1, self.draw))
            first_call = self.calls == 0
            self.calls += 1
            try:
                response = self.client.put_record_batch(
                    DeliveryStreamName=self.stream_name, Records=[{"Data": entry.data} for entry in pending]
                )
            except ClientError as err:
                code = err.response.get("Error", {}).get("Code", "ClientError")
                message = err.response.get("Error", {}).get("Message", str(err))
                status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
                if code not in RETRYABLE_CODES and status < 500:
                    if first_call:
                        raise FirehoseSetupError(
                            f"Firehose refused PutRecordBatch on stream {self.stream_name!r}: {code}: {message}."
                            " Nothing was sent; check HEALTH_PIPELINE_FIREHOSE_STREAM, AWS_REGION and the"
                            " credentials' firehose:PutRecordBatch permission"
                        ) from err
                    _fail(pending, code, message)
                    break  # not retryable: the batch is dead-lettered as it is
                _fail(pending, code, message)
                continue
            except NoCredentialsError as err:
                if first_call:
                    raise FirehoseSetupError(
                        "no AWS credentials found for Firehose; configure them as for the AWS CLI (boto3's chain)"
                    ) from err
                _fail(pending, "NoCredentials", str(err))
                break
            except BotoCoreError as err:  # connection reset, timeouts: the call may or may not have landed
                _fail(pending, type(err).__name__, str(err))
                continue
            responses = response.get("RequestResponses") or []
            if len(responses) != len(pending):
                _fail(pending, "MalformedResponse", f"{len(responses)} responses for {len(pending)} records")
                continue
            failed = []
            for entry, result in zip(pending, responses):
                if result.get("ErrorCode"):
                    entry.codes.append(result["ErrorCode"])
                    entry.message = result.get("ErrorMessage") or ""
                    failed.append(entry)
                else:
                    delivered += 1
            pending = failed
        self.dead_letters.write(pending, attempt)
        return delivered


def _fail(pending: list[PendingRecord], code: str, message: str) -> None:
    for entry in pending:
        entry.codes.append(code)
        entry.message = message


def firehose_client(region: str) -> Any:
    """A Firehose client with botocore's retries off (FirehosePutter retries itself)."""
    import boto3
    from botocore.config import Config

    return boto3.client("firehose", region_name=region, config=Config(retries={"total_max_attempts": 1}))
