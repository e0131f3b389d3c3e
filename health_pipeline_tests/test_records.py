import json
from datetime import datetime

import pytest

from health_pipeline.records import RecordRejected, conform_to_schema, encode_record, parse_line, validate_record
from health_pipeline.schema import read_desired_schema
from health_pipeline.settings import PROJECT_ROOT
from health_pipeline_tests.conftest import GOOD

SCHEMA = read_desired_schema(PROJECT_ROOT / "terraform" / "modules" / "glue")


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
    assert decoded["recorded_at"] == "2026-11-19T23:30:00.000000+00:00"
    assert decoded["user_id"] == '利用者 "q"'
