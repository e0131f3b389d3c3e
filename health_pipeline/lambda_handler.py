"""The producer Lambda: the app's records in, Firehose records out.

It validates each record as `health-pipeline send` does (`records.check_line`: `validate_record`
against the columns the Glue table holds, read once per instance), encodes it with the one encoder
(one JSON object, UTF-8, timestamps as epoch microseconds, one final "\\n") and puts the records to
Firehose in PutRecordBatch calls of at most 500 records / 4 MiB, resending only failed entries with
backoff (`health_pipeline.delivery.firehose`).

Event, either:
- `{"records": [{...}, ...]}` (a direct invoke), or
- a function URL (or API Gateway proxy) event whose `body` is JSON Lines or a JSON array of records.

Response: `{"statusCode": 200 | 207 | 400 | 403, "body": "<json>"}` where the body holds `accepted`,
`rejected` (index, code, reason: fix and send again) and `failed` (index, error codes: Firehose did not
take them after every retry; send them again later). 207 means some records were not accepted.

Whose records: a request signed with a Cognito identity pool's credentials carries the identity in
its request context (`requestContext.authorizer.iam.cognitoIdentity` for a function URL with
`AWS_IAM` auth: AWS Lambda Developer Guide, "Lambda function URLs: request payload";
`requestContext.identity.cognitoIdentityId` for an API Gateway REST API with IAM auth), and one
through an HTTP API's JWT authorizer the token's claims (`requestContext.authorizer.jwt.claims.sub`).
Such a caller may send only its own records: each record's `user_id` must be its identity id (or
the token's `sub`), any other is rejected (`Producer.NotCallersRecord`), and an unauthenticated
(guest) Cognito identity gets 403. A request with neither (the app's backend role, a direct invoke)
names its users itself: the backend authenticates them.

It imports the standard library, the project's pure-Python modules and, on the first invocation,
boto3 (the Lambda runtime's): `make lambda` packages exactly those modules. Handler
`health_pipeline.lambda_handler.handler`; environment `HEALTH_PIPELINE_MODE=aws`,
`HEALTH_PIPELINE_FIREHOSE_STREAM`, `HEALTH_PIPELINE_CATALOG`, `HEALTH_PIPELINE_DATABASE`,
`HEALTH_PIPELINE_TABLE` (read by `settings.load_settings`); credentials from boto3's own chain. Terraform: `terraform/modules/lambda`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from health_pipeline.delivery.firehose import (
    DeadLetters,
    FirehosePutter,
    PendingRecord,
    PutRetryBackoff,
    batches,
    firehose_client,
)
from health_pipeline.delivery.records import RecordRejected, check_line
from health_pipeline.schema.model import TableSchema
from health_pipeline.settings import Settings, load_settings


class BadEvent(ValueError):
    """The event holds no records this handler can read."""


class GuestCaller(PermissionError):
    """The request was signed by an unauthenticated Cognito identity."""


def signed_in_user(event: dict[str, Any]) -> str | None:
    """The user the request was authenticated as: the Cognito identity id it was signed as, or the
    subject of the token an HTTP API's JWT authorizer checked; None when neither (a backend role, a
    direct invoke). A guest (unauthenticated) Cognito identity raises GuestCaller."""
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    url_identity = (authorizer.get("iam") or {}).get("cognitoIdentity") or {}
    rest_identity = context.get("identity") or {}
    token_subject = ((authorizer.get("jwt") or {}).get("claims") or {}).get("sub")
    if token_subject:  # an HTTP API's JWT authorizer checked the token: its subject is the user
        return str(token_subject)
    if url_identity.get("identityId"):
        identity, amr = url_identity["identityId"], url_identity.get("amr") or []
    elif rest_identity.get("cognitoIdentityId"):
        identity = rest_identity["cognitoIdentityId"]
        amr = [rest_identity.get("cognitoAuthenticationType") or ""]
    else:
        return None
    if "authenticated" not in amr:
        raise GuestCaller(
            f"the request was signed by Cognito identity {identity}, which is not signed in"
            f" (authentication: {', '.join(amr) or 'none'}); sign in and send again"
        )
    return identity


def glue_schema(settings: Settings, glue: Any = None, sts: Any = None) -> TableSchema:
    """The table's columns as the Glue Data Catalog holds them: from the table bucket's catalog
    (`<account>:s3tablescatalog/<bucket>`, HEALTH_PIPELINE_CATALOG), where S3 Tables federates the live
    table, or from the default catalog when HEALTH_PIPELINE_CATALOG is AwsDataCatalog."""
    import boto3

    glue = glue or boto3.client("glue", region_name=settings.aws_region)
    where: dict[str, str] = {}
    if settings.athena_catalog not in ("", "AwsDataCatalog"):
        sts = sts or boto3.client("sts", region_name=settings.aws_region)
        where["CatalogId"] = f"{sts.get_caller_identity()['Account']}:{settings.athena_catalog}"
    table = glue.get_table(DatabaseName=settings.database, Name=settings.table, **where)["Table"]
    return TableSchema.from_glue(table)


def event_lines(event: dict[str, Any]) -> list[tuple[int, bytes]]:
    """The event's records as (index, JSON line) pairs, in order: the index in `records`, in the
    body's JSON array, or the body's line number (from 0; blank lines are skipped, not renumbered)."""
    if isinstance(event.get("records"), list):
        return [
            (n, item.encode("utf-8", "backslashreplace") if isinstance(item, str) else _json_line(item))
            for n, item in enumerate(event["records"])
        ]
    body = event.get("body")
    if body is None:
        raise BadEvent("the event has neither `records` (a list) nor a `body`; send records as either")
    data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8", "backslashreplace")
    stripped = data.lstrip()
    if stripped.startswith(b"["):
        try:
            items = json.loads(stripped)
        except ValueError as err:
            raise BadEvent(f"the body starts like a JSON array but is not one: {err}") from err
        return [(n, _json_line(item)) for n, item in enumerate(items)]
    return [(n, line) for n, line in enumerate(data.splitlines()) if line.strip()]


def _json_line(item: Any) -> bytes:
    return (json.dumps(item, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")


def make_handler(
    settings_factory: Callable[[], Settings] = load_settings,
    schema_factory: Callable[[Settings], TableSchema] = glue_schema,
    client_factory: Callable[[Settings], Any] = lambda settings: firehose_client(settings.aws_region),
    retry: PutRetryBackoff = PutRetryBackoff(),
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A handler whose settings, schema and Firehose client are made on the first call and reused
    while the Lambda instance lives (tests pass their own factories). `retry` bounds the resends of
    failed entries: by default at most 8 calls a batch, about 23 s of backoff at worst."""
    cache: dict[str, Any] = {}

    def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        if not cache:
            settings = settings_factory()
            cache.update(settings=settings, schema=schema_factory(settings), client=client_factory(settings))
        settings, schema = cache["settings"], cache["schema"]
        try:
            caller = signed_in_user(event)
            lines = event_lines(event)
        except GuestCaller as err:
            return {"statusCode": 403, "body": json.dumps({"error": str(err)})}
        except BadEvent as err:
            return {"statusCode": 400, "body": json.dumps({"error": str(err)})}
        rejected, pending = [], []
        for index, line in lines:
            try:
                record, encoded = check_line(line, schema, producer=True)
                if caller is not None and record["user_id"] != caller:
                    raise RecordRejected(
                        "NotCallersRecord",
                        f"user_id {record['user_id']!r} is not the caller: a request authenticated as {caller}"
                        f" may send only records whose user_id is {caller!r}",
                    )
                pending.append(PendingRecord(str(index), encoded))
            except RecordRejected as err:
                rejected.append({"index": index, "code": f"Producer.{err.code}", "reason": str(err)})
        dead_letters = DeadLetters(settings.firehose_stream)
        putter = FirehosePutter(cache["client"], settings.firehose_stream, dead_letters, retry=retry)
        accepted = sum(putter.put_batch(batch) for batch in batches(pending))
        failed = [{"index": int(d["where"]), "errorCodes": d["errorCodes"]} for d in dead_letters.records]
        body = {"accepted": accepted, "rejected": rejected, "failed": failed}
        status = 200 if not rejected and not failed else 207
        return {"statusCode": status, "body": json.dumps(body, ensure_ascii=False)}

    return handler


handler = make_handler()
