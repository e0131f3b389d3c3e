"""Whose a stored line is: a record's user_id, read from JSON Lines and from error documents (their
rawData in base64), without ever writing the id anywhere."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection


def record_user_id(line: bytes) -> str | None:
    """The user_id of one JSON record, or None when it is not a JSON object with a string user_id."""
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    value = record.get("user_id") if isinstance(record, dict) else None
    return value if isinstance(value, str) else None


def mentions(raw: bytes, user_ids: Collection[str]) -> bool:
    """Whether a record (as it came) belongs to one of `user_ids`: its user_id is one of them, or, for a
    line that is not valid JSON, it holds one of them as a JSON string (`"<id>"`, escaped either way).
    A rejected line can be anything; the second test errs on the side of the person erased."""
    owner = record_user_id(raw)
    if owner is not None:
        return owner in user_ids
    text = raw.decode("utf-8", errors="replace")
    for user_id in user_ids:
        for encoded in {json.dumps(user_id, ensure_ascii=False), json.dumps(user_id)}:
            if encoded in text:
                return True
    return False


def error_document_mentions(document: bytes, user_ids: Collection[str]) -> bool:
    """Whether an error document (errorCode, errorMessage, rawData in base64, ...; one per line in
    Firehose's S3 error output and in a dead-letter file) holds a record of one of `user_ids`."""
    for line in document.splitlines():
        if not line.strip():
            continue
        try:
            parsed = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            if mentions(line, user_ids):
                return True
            continue
        # rawData: Firehose's error output and the local stream's; data: aws mode's dead-letter file.
        raw_data = (parsed.get("rawData") or parsed.get("data")) if isinstance(parsed, dict) else None
        if isinstance(raw_data, str):
            try:
                raw = base64.b64decode(raw_data, validate=True)
            except (binascii.Error, ValueError):
                raw = raw_data.encode("utf-8")
            if any(mentions(part, user_ids) for part in raw.splitlines() or [raw]):
                return True
        elif mentions(line, user_ids):
            return True
    return False
