"""An AWS Lambda producer built on the producer library: the app's records in, Firehose records out.

It validates each record as `health-pipeline send` does (`records.validate_record`, against the
columns the Glue table holds, read once per cold start), encodes it with the one encoder (one JSON
object, UTF-8, `recorded_at` in UTC with microseconds, one final "\\n") and puts the records to Firehose
in PutRecordBatch calls of at most 500 records / 4 MiB, resending only failed entries with backoff.

Event, either:
- `{"records": [{...}, ...]}` (a direct invoke), or
- an API Gateway proxy event whose `body` is JSON Lines or a JSON array of records.

Response: `{"statusCode": 200 | 207 | 400, "body": "<json>"}` where the body holds `accepted`,
`rejected` (index, code, reason: fix and send again) and `failed` (index, error codes: Firehose did not
take them after every retry; send them again later). 207 means some records were not accepted.

Deploy with the `health_pipeline` package and its dependencies (pyarrow and numpy are the large
ones: use a layer), the handler `health_pipeline.lambda_handler.handler`, and the environment
`HEALTH_PIPELINE_MODE=aws`, `HEALTH_PIPELINE_FIREHOSE_STREAM`, `HEALTH_PIPELINE_DATABASE`,
`HEALTH_PIPELINE_TABLE`. The role needs firehose:PutRecordBatch on the stream and glue:GetTable on
the table. Settings are read by `settings.load_settings`, credentials by boto3's own chain.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from health_pipeline.engines.aws.delivery_stream import DeadLetters, FirehoseDeliveryStream, firehose_client
from health_pipeline.engines.json_lines import blocks_from_pairs
from health_pipeline.schema.model import TableSchema
from health_pipeline.settings import Settings, load_settings


class BadEvent(ValueError):
    """The event holds no records this handler can read."""


def glue_schema(settings: Settings, glue: Any = None) -> TableSchema:
    """The table's columns as the Glue Data Catalog holds them (what Terraform applied)."""
    import boto3

    glue = glue or boto3.client("glue", region_name=settings.aws_region)
    table = glue.get_table(DatabaseName=settings.database, Name=settings.table)["Table"]
    return TableSchema.from_glue(table)


def event_lines(event: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The event's records as (where, JSON line) pairs; `where` is `record N` (0-based)."""
    if isinstance(event.get("records"), list):
        items = event["records"]
        return [
            (f"record {n}", item.encode("utf-8") if isinstance(item, str) else _json_line(item))
            for n, item in enumerate(items)
        ]
    body = event.get("body")
    if body is None:
        raise BadEvent("the event has neither `records` (a list) nor a `body`; send records as either")
    data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    stripped = data.lstrip()
    if stripped.startswith(b"["):
        try:
            items = json.loads(stripped)
        except ValueError as err:
            raise BadEvent(f"the body starts like a JSON array but is not one: {err}") from err
        return [(f"record {n}", _json_line(item)) for n, item in enumerate(items)]
    return [(f"record {n}", line) for n, line in enumerate(data.splitlines(keepends=True)) if line.strip()]


def _json_line(item: Any) -> bytes:
    return (json.dumps(item, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")


def make_handler(
    settings_factory: Callable[[], Settings] = load_settings,
    schema_factory: Callable[[Settings], TableSchema] = glue_schema,
    client_factory: Callable[[Settings], Any] = lambda settings: firehose_client(settings.aws_region),
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A handler whose settings, schema and Firehose client are made on the first call and reused
    while the Lambda instance lives (tests pass their own factories)."""
    cache: dict[str, Any] = {}

    def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        if not cache:
            settings = settings_factory()
            cache.update(settings=settings, schema=schema_factory(settings), client=client_factory(settings))
        settings = cache["settings"]
        try:
            lines = event_lines(event)
        except BadEvent as err:
            return {"statusCode": 400, "body": json.dumps({"error": str(err)})}
        dead_letters = DeadLetters(settings.firehose_stream)
        stream = FirehoseDeliveryStream(cache["client"], settings.firehose_stream, None, dead_letters)
        report = stream.send(blocks_from_pairs(lines), cache["schema"])
        body = {
            "accepted": report.accepted,
            "rejected": [{"index": _index(r.where), "code": r.code, "reason": r.reason} for r in report.rejected],
            "failed": [{"index": _index(d["where"]), "errorCodes": d["errorCodes"]} for d in dead_letters.records],
        }
        return {"statusCode": 200 if report.complete else 207, "body": json.dumps(body, ensure_ascii=False)}

    return handler


def _index(where: str) -> int:
    return int(where.rsplit(" ", 1)[-1])


handler = make_handler()
