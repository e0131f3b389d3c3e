import calendar
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from health_pipeline.delivery.records import (
    RecordRejected,
    check_line,
    conform_to_schema,
    encode_record,
    firehose_timestamp,
    parse_line,
    validate_record,
    wire_timestamp,
)
from health_pipeline.schema import read_desired_schema
from health_pipeline.settings import PROJECT_ROOT
from health_pipeline_tests.support import GOOD

SCHEMA = read_desired_schema(PROJECT_ROOT / "terraform" / "modules" / "s3tables")


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-11-20T08:30:00+09:00", datetime(2026, 11, 19, 23, 30)),
        ("2026-11-19T23:30:00Z", datetime(2026, 11, 19, 23, 30)),
        ("2026-11-19T23:30:00+00:00", datetime(2026, 11, 19, 23, 30)),
        ("2026-11-19T18:30:00.123456-05:00", datetime(2026, 11, 19, 23, 30, 0, 123456)),
    ],
)
def test_any_offset_is_converted_to_utc(text, utc):
    assert validate_record({**GOOD, "recorded_at": text}, SCHEMA)["recorded_at"] == utc


@pytest.mark.parametrize(
    ("change", "code", "says"),
    [
        ({"recorded_at": "2026-11-20T08:30:00"}, "TimestampWithoutOffset", "no UTC offset"),
        ({"recorded_at": "yesterday"}, "InvalidTimestamp", "not ISO 8601"),
        ({"user_id": ""}, "EmptyUserId", "non-empty"),
        ({"user_id": 42}, "TypeMismatch", "user_id must be a string"),
        ({"fatigue": 11}, "ScoreOutOfRange", "fatigue=11 is outside 0-10"),
        ({"mood": -1}, "ScoreOutOfRange", "mood=-1"),
        ({"motivation": 5.5}, "TypeMismatch", "motivation must be an integer"),
        ({"motivation": True}, "TypeMismatch", "motivation must be an integer"),
        ({"flags": -1}, "NegativeFlags", "non-negative"),
        ({"flags": 2**31}, "OutOfRange", "does not fit"),
        ({"mood": None}, "MissingField", "mood"),
        ({"sleep": 7}, "UnknownField", "'sleep'"),
    ],
)
def test_producer_validation_rejects_with_a_reason(change, code, says):
    with pytest.raises(RecordRejected, match=says) as caught:
        validate_record({**GOOD, **change}, SCHEMA)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"\xff\xfe{}", "InvalidUtf8"),
        (b"", "EmptyRecord"),
        (b"[1,2]", "NotJsonObject"),
        (b'{"fatigue": NaN}', "InvalidJson"),
        (b"{not json", "InvalidJson"),
        (b"[" * 100_000 + b"]" * 100_000, "InvalidJson"),
    ],
)
def test_lines_that_are_not_a_json_object_are_rejected(line, code):
    with pytest.raises(RecordRejected) as caught:
        parse_line(line)
    assert caught.value.code == code


def test_the_streams_own_check_keeps_what_fits_the_columns():
    # What `send --raw` relies on: out-of-range scores fit an int column, a missing field is null.
    record = conform_to_schema({"user_id": "u", "recorded_at": "2026-11-20T00:00:00", "fatigue": 99}, SCHEMA)
    assert record["fatigue"] == 99 and record["mood"] is None
    assert record["recorded_at"] == datetime(2026, 11, 20)


def test_the_encoder_writes_one_utf8_object_ending_in_one_newline():
    data = encode_record(validate_record({**GOOD, "user_id": '利用者 "q"'}, SCHEMA))
    assert data.endswith(b"}\n") and not data.endswith(b"\n\n") and data.count(b"\n") == 1
    assert "利用者".encode() in data  # ensure_ascii=False
    decoded = json.loads(data)
    # GOOD's 2026-11-20T08:30:00+09:00 as Firehose's wire format: microseconds since the epoch.
    assert decoded["recorded_at"] == calendar.timegm((2026, 11, 19, 23, 30, 0)) * 10**6
    assert decoded["user_id"] == '利用者 "q"'


# The examples of "Understand supported data types" (Amazon Data Firehose Developer Guide) for a
# TimestampType.withoutZone column: epoch microseconds, LocalDateTime, OffsetDateTime, ZonedDateTime.
DOCUMENTED = datetime(2024, 9, 4, 18, 56, 15, 114000)


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (1725476175114000, DOCUMENTED),
        ("2024-09-04T18:56:15.114", DOCUMENTED),
        ("2024-09-04T18:56:15.114Z", DOCUMENTED),
        ("2024-09-04T18:56:15.114-07:00", DOCUMENTED + timedelta(hours=7)),
        ("2024-09-04T18:56", datetime(2024, 9, 4, 18, 56)),
        ("2024-09-04T18:56:15.123456789Z", datetime(2024, 9, 4, 18, 56, 15, 123456)),  # nanoseconds truncated
        (-1, datetime(1969, 12, 31, 23, 59, 59, 999999)),
    ],
)
def test_the_stream_takes_the_timestamp_forms_firehose_documents(value, stored):
    assert firehose_timestamp(value) == stored
    record = conform_to_schema({"recorded_at": value}, SCHEMA)
    assert record["recorded_at"] == stored


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("2024-09-04 18:56:15", "InvalidTimestamp"),  # no T
        ("2024-09-04", "InvalidTimestamp"),  # a date alone is a `date`, not a `timestamp`
        ("2024-09-04T18", "InvalidTimestamp"),  # no minutes
        ("2024-09-04T18:56:15+0900", "InvalidTimestamp"),  # offset without its colon
        ("2024-09-04T18:56:15+09", "InvalidTimestamp"),
        ("2024-09-04T18:56:15+19:00", "InvalidTimestamp"),  # beyond java.time's +-18:00
        ("2024-09-04t18:56:15z", "InvalidTimestamp"),
        (" 2024-09-04T18:56:15Z", "InvalidTimestamp"),
        ("2024-09-04T18:56:15.1234567890Z", "InvalidTimestamp"),  # ten fraction digits
        ("2024-02-30T00:00:00Z", "InvalidTimestamp"),
        ("2024-09-04T18:56:15 UTC", "InvalidTimestamp"),
        ("1725476175114000", "InvalidTimestamp"),  # epoch microseconds as text
        (1725476175.114, "InvalidTimestamp"),  # a fractional number
        (True, "InvalidTimestamp"),
        (10**20, "OutOfRange"),
    ],
)
def test_the_stream_refuses_every_other_timestamp_form(value, code):
    with pytest.raises(RecordRejected) as caught:
        conform_to_schema({"recorded_at": value}, SCHEMA)
    assert caught.value.code == code


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC) | st.none()))
def test_the_wire_format_is_epoch_microseconds_the_stream_reads_back(moment):
    naive = moment.replace(tzinfo=None)
    assert wire_timestamp(moment) == (naive - datetime(1970, 1, 1)) // timedelta(microseconds=1)
    assert firehose_timestamp(wire_timestamp(moment)) == naive


@given(
    st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(8999, 12, 30)),
    st.integers(-18 * 60, 18 * 60).map(lambda m: timezone(timedelta(minutes=m))),
)
def test_what_the_producer_takes_the_stream_takes_once_encoded(moment, zone):
    # Every record the Lambda or `send` encodes is one the table's own check (Firehose's) accepts,
    # with the same instant: the producer's offset is applied once, by the encoder.
    line = json.dumps({**GOOD, "recorded_at": moment.replace(tzinfo=zone).isoformat()}).encode()
    record, encoded = check_line(line, SCHEMA, producer=True)
    assert check_line(encoded, SCHEMA, producer=False)[0] == record
    assert record["recorded_at"] == moment.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
