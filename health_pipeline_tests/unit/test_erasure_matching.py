"""Whose a stored line is: exact user ids only (a look-alike stays), broken lines that name the id as a
JSON string, error documents with the record in base64 (Firehose's rawData, the dead-letter data)."""

import base64
import json

from health_pipeline.erasure import user_ids_from
from health_pipeline.erasure.matching import error_document_mentions, mentions
from health_pipeline.sql.render import with_user_match

HOSTILE = "o'brien\"; --患者🙂" + "x" * 10_000


def _record(user_id: str) -> bytes:
    return json.dumps({"user_id": user_id, "fatigue": 3}, ensure_ascii=False).encode()


def test_a_record_is_theirs_only_when_its_user_id_is_exactly_theirs():
    assert mentions(_record(HOSTILE), {HOSTILE})
    for other in ("o'brien", HOSTILE + " ", HOSTILE.upper(), ""):
        assert not mentions(_record(other), {HOSTILE})


def test_a_broken_line_is_theirs_when_it_names_them_as_a_json_string():
    assert mentions(b'{"user_id": "u-7", "recorded_at": ', {"u-7"})
    assert mentions(b'{"user_id": "\\u60a3\\u8005", "x"', {"患者"})  # escaped as ensure_ascii writes it
    assert not mentions(b'{"user_id": "u-70", "recorded_at": ', {"u-7"})


def test_error_documents_carry_the_record_in_base64():
    document = {"errorCode": "X", "rawData": base64.b64encode(_record("u-1")).decode()}
    dead_letter = {"data": base64.b64encode(_record("u-1")).decode(), "errorCodes": ["Throttling"]}
    for doc in (document, dead_letter):
        assert error_document_mentions(json.dumps(doc).encode(), {"u-1"})
        assert not error_document_mentions(json.dumps(doc).encode(), {"u-2"})


def test_ids_never_become_sql_text():
    sql = with_user_match(
        "DELETE FROM health_records WHERE user_id IN ('{user_ids}') AND recorded_at >= 1", [HOSTILE, "a"]
    )
    assert "brien" not in sql and "患者" not in sql
    assert sql.startswith("DELETE FROM health_records WHERE lower(to_hex(sha256(to_utf8(user_id)))) IN ('")
    assert user_ids_from([HOSTILE, "a", HOSTILE]) == [HOSTILE, "a"]
