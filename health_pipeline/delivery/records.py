"""The health record as producers write it: validation with reasons, and the one encoder.

Two levels of checking, as in production:
- `validate_record` is the producer's validation (the Lambda and `health-pipeline send`): the domain
  rules a producer's author must meet, with reasons they understand.
- `conform_to_schema` is the delivery stream's own check, like Firehose's for an Iceberg table: a JSON
  object whose fields are columns of the table and whose values fit the column types, a `timestamp`
  in one of the forms Firehose documents (`firehose_timestamp`). `send --raw` skips the producer
  validation and leaves only this.
Both return the record normalized for the table: `recorded_at` as UTC without zone. `check_line` is
the whole decision for one line, `encode_record` the one encoder (`wire_timestamp` its timestamps).

Plain Python (the producer Lambda imports it): no pyarrow, no PyIceberg.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from health_pipeline.schema.model import TableSchema

MAX_RECORD_BYTES = 1_000 * 1024  # Firehose's limit for one record
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
SCORE_FIELDS = ("fatigue", "mood", "motivation")
REQUIRED_FIELDS = ("user_id", "recorded_at", *SCORE_FIELDS, "flags")


class RecordRejected(ValueError):
    """A record that cannot be delivered; `code` is machine-readable, the message says what to fix."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_line(line: bytes | str) -> dict[str, Any]:
    """One JSON Lines record as a dict, or RecordRejected saying why it is not one."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise RecordRejected("InvalidUtf8", f"the line is not valid UTF-8 (byte {err.start})") from err
    text = line.strip()
    if not text:
        raise RecordRejected("EmptyRecord", "the line is empty; a record is one JSON object")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecordRejected:
        raise
    except RecursionError as err:
        raise RecordRejected("InvalidJson", "the JSON is nested too deeply") from err
    except ValueError as err:
        raise RecordRejected("InvalidJson", f"not valid JSON: {err}") from err
    if not isinstance(value, dict):
        raise RecordRejected("NotJsonObject", f"a record must be a JSON object, got {type(value).__name__}")
    return value


def _reject_constant(name: str) -> None:
    raise RecordRejected("InvalidJson", f"{name} is not valid JSON; send null or a number")


def parse_timestamp(value: Any, *, require_offset: bool) -> datetime:
    """ISO 8601 text to a UTC datetime without zone (what an Iceberg `timestamp` holds)."""
    if not isinstance(value, str):
        raise RecordRejected("InvalidTimestamp", f"recorded_at must be an ISO 8601 string, got {_show(value)}")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError as err:
        raise RecordRejected(
            "InvalidTimestamp", f"recorded_at {value!r} is not ISO 8601 (e.g. 2026-11-20T08:30:00+09:00)"
        ) from err
    if parsed.tzinfo is None:
        if require_offset:
            raise RecordRejected(
                "TimestampWithoutOffset",
                f"recorded_at {value!r} has no UTC offset; add one (Z, +00:00 or +09:00) so the day is unambiguous",
            )
        return parsed
    try:
        return parsed.astimezone(UTC).replace(tzinfo=None)
    except OverflowError as err:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise RecordRejected("InvalidTimestamp", f"recorded_at {value!r} is out of range in UTC") from err


# What Firehose's Iceberg destination documents for a `timestamp` (without zone) column, besides an
# integer of epoch microseconds: ISO 8601 text as java.time's LocalDateTime, OffsetDateTime and
# ZonedDateTime read it ("2024-09-04T18:56:15.114", "...114Z", "...114-07:00"). Hours and minutes are
# required, seconds and up to 9 fraction digits optional, the offset Z or +HH:MM within +-18:00.
FIREHOSE_TIMESTAMP = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?"
    r"(?P<zone>Z|(?P<sign>[+-])(?P<zone_hour>\d{2}):(?P<zone_minute>\d{2}))?",
    re.ASCII,
)
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def firehose_timestamp(value: Any, name: str = "recorded_at") -> datetime:
    """A `timestamp` value as Firehose's Iceberg destination takes it, as UTC without zone: a JSON
    integer of microseconds since the epoch, or ISO 8601 date-time text with `T`, at least hours and
    minutes, at most 9 fraction digits (beyond microseconds truncated) and optionally `Z` or an
    `+HH:MM` offset (converted to UTC). Anything else is rejected: the forms AWS documents, nothing
    more ("Understand supported data types", Amazon Data Firehose Developer Guide; docs/reference/stack.md).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return _EPOCH + value * _MICROSECOND
        except OverflowError as err:
            raise RecordRejected(
                "OutOfRange", f"{name}={value} microseconds since the epoch is outside the years 1-9999"
            ) from err
    if not isinstance(value, str):
        raise RecordRejected(
            "InvalidTimestamp",
            f"{name} must be epoch microseconds (an integer) or ISO 8601 text, got {_show(value)}",
        )
    match = FIREHOSE_TIMESTAMP.fullmatch(value)
    if match is None:
        raise RecordRejected(
            "InvalidTimestamp",
            f"{name} {value!r} is not a form Firehose takes for a timestamp: send epoch microseconds, or"
            " ISO 8601 like 2026-11-20T08:30:00.000000Z (T, hours:minutes, Z or +HH:MM)",
        )
    try:
        year, month, day = (int(part) for part in match["date"].split("-"))  # \d{4}-\d{2}-\d{2}
        parsed = datetime(
            year,
            month,
            day,
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"] or 0),
            int((match["fraction"] or "0")[:6].ljust(6, "0")),
        )
        if match["sign"]:
            hours, minutes = int(match["zone_hour"]), int(match["zone_minute"])
            if minutes > 59 or hours * 60 + minutes > 18 * 60:
                raise ValueError(f"offset {match['zone']} is outside -18:00..+18:00")
            offset = timedelta(hours=hours, minutes=minutes) * (-1 if match["sign"] == "-" else 1)
            parsed = parsed.replace(tzinfo=timezone(offset)).astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError) as err:
        raise RecordRejected("InvalidTimestamp", f"{name} {value!r} is not a valid date-time ({err})") from err
    return parsed


def wire_timestamp(moment: datetime) -> int:
    """The wire format of a `timestamp`: microseconds since 1970-01-01T00:00:00 UTC, a JSON integer.

    Firehose's Iceberg destination: "For Timestamp data types, you must always send in microseconds",
    and its examples for TimestampType.withoutZone list "Epoch in Microseconds" first
    (https://docs.aws.amazon.com/firehose/latest/dev/apache-iceberg-destination-supp.html). ISO text
    is documented too, but with no word on fractions beyond milliseconds or on how an offset meets a
    column without zone; an integer of microseconds leaves nothing to interpret. A naive `moment`
    is UTC (what the table holds).
    """
    naive = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
    return (naive - _EPOCH) // _MICROSECOND


def conform_to_schema(record: dict[str, Any], schema: TableSchema, *, require_offset: bool = False) -> dict[str, Any]:
    """The record with each value converted to its column's type; unknown fields and bad types rejected.

    A missing field or a null is stored as null, as Firehose does. `require_offset` is the producer's
    reading of a timestamp (ISO 8601 text with a UTC offset, `parse_timestamp`); without it, the
    stream's (what Firehose takes, `firehose_timestamp`).
    """
    unknown = [name for name in record if schema.get(name) is None]
    if unknown:
        raise RecordRejected(
            "UnknownField",
            f"field(s) {', '.join(map(repr, unknown))} are not columns of the table; add the column with the"
            " schema runbook before producers send it",
        )
    out: dict[str, Any] = {}
    for column in schema.columns:
        value = record.get(column.name)
        out[column.name] = None if value is None else _convert(column.name, column.glue_type, value, require_offset)
    return out


def _convert(name: str, glue_type: str, value: Any, require_offset: bool) -> Any:
    if glue_type == "string":
        if not isinstance(value, str):
            raise RecordRejected("TypeMismatch", f"{name} must be a string, got {_show(value)}")
        if _has_lone_surrogate(value):
            raise RecordRejected(
                "InvalidString", f"{name} holds a lone UTF-16 surrogate escape (e.g. \\ud800), which is not text"
            )
        return value
    if glue_type == "timestamp":
        return parse_timestamp(value, require_offset=True) if require_offset else firehose_timestamp(value, name)
    if glue_type in ("int", "bigint"):
        low, high = (INT32_MIN, INT32_MAX) if glue_type == "int" else (INT64_MIN, INT64_MAX)
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecordRejected("TypeMismatch", f"{name} must be an integer, got {_show(value)}")
        if not low <= value <= high:
            raise RecordRejected("OutOfRange", f"{name}={value} does not fit the column type {glue_type}")
        return value
    if glue_type in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise RecordRejected("TypeMismatch", f"{name} must be a finite number, got {_show(value)}")
        return float(value)
    if glue_type == "boolean":
        if not isinstance(value, bool):
            raise RecordRejected("TypeMismatch", f"{name} must be true or false, got {_show(value)}")
        return value
    if glue_type == "date":
        try:
            return datetime.strptime(value, "%Y-%m-%d").date()
        except (TypeError, ValueError) as err:
            raise RecordRejected("TypeMismatch", f"{name} must be a date YYYY-MM-DD, got {_show(value)}") from err
    if glue_type.startswith("decimal("):
        try:
            return Decimal(str(value)) if not isinstance(value, bool) else Decimal("x")
        except InvalidOperation as err:
            raise RecordRejected("TypeMismatch", f"{name} must be a decimal number, got {_show(value)}") from err
    raise RecordRejected("TypeMismatch", f"{name} has the unsupported column type {glue_type}")


def validate_record(record: dict[str, Any], schema: TableSchema) -> dict[str, Any]:
    """The producer's validation: the schema check with an offset required, then the domain rules."""
    missing = [name for name in REQUIRED_FIELDS if schema.get(name) is not None and record.get(name) is None]
    if missing:
        raise RecordRejected("MissingField", f"required field(s) missing or null: {', '.join(missing)}")
    out = conform_to_schema(record, schema, require_offset=True)
    if "user_id" in out and not out["user_id"].strip():
        raise RecordRejected("EmptyUserId", "user_id must be a non-empty string")
    for name in SCORE_FIELDS:
        if name in out and not 0 <= out[name] <= 10:
            raise RecordRejected("ScoreOutOfRange", f"{name}={out[name]} is outside 0-10")
    if "flags" in out and out["flags"] < 0:
        raise RecordRejected("NegativeFlags", f"flags={out['flags']} must be a non-negative 32-bit integer")
    return out


def encode_record(record: dict[str, Any]) -> bytes:
    """The one encoder: one JSON object, UTF-8 (ensure_ascii=False), timestamps as epoch
    microseconds (`wire_timestamp`), ending in exactly one newline (a Firehose requirement)."""
    payload = {}
    for key, value in record.items():
        if isinstance(value, datetime):
            value = wire_timestamp(value)
        elif isinstance(value, Decimal):
            value = str(value)
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        payload[key] = value
    return (json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def check_line(line: bytes, schema: TableSchema, *, producer: bool) -> tuple[dict[str, Any], bytes]:
    """The whole decision for one line: (the record as the table stores it, its encoding), or
    RecordRejected with the reason. A producer's line is validated (`validate_record`) and its
    encoding must fit Firehose's record limit; the stream's must fit the limit as it came and the
    table's columns (`conform_to_schema`)."""
    if producer:
        record = validate_record(parse_line(line), schema)
        encoded = encode_record(record)
        _check_size(len(encoded), "encoded, ")
        return record, encoded
    _check_size(len(line), "")
    record = conform_to_schema(parse_line(line), schema)
    return record, encode_record(record)


def _check_size(size: int, what: str) -> None:
    if size > MAX_RECORD_BYTES:
        raise RecordRejected(
            "RecordTooLarge",
            f"the record is {size:,} bytes ({what}with its newline); Firehose takes at most"
            f" {MAX_RECORD_BYTES:,} bytes (1,000 KiB) a record: split it or drop the oversized field",
        )


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _show(value: Any) -> str:
    # backslashreplace: a lone surrogate in the value must not make the message itself unwritable
    text = json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 60 else text[:57] + "..."
