"""Hypothesis strategies for JSON Lines as producers really send them: valid records in every form the
rules allow, and malformed or hostile ones (bad UTF-8, deep nesting, huge numbers, wrong types,
missing and extra fields, NaN, duplicate keys, lone surrogates, empty and blank lines...)."""

from __future__ import annotations

import json

from hypothesis import strategies as st

FIELDS = ("user_id", "recorded_at", "fatigue", "mood", "motivation", "flags")

timestamps = st.one_of(
    st.sampled_from(
        [
            "2026-11-20T08:30:00+09:00",
            "2026-11-19T23:30:00Z",
            "2026-11-19T23:30:00.5Z",
            "2026-11-19T23:30:00.123456-05:00",
            "2026-11-20 08:30:00+09:00",
            "2026-11-20T08:30Z",
            "2026-11-20T08:30:00+0900",
            "2026-11-20T08:30:00+09",
            "2026-11-20T08:30:00",  # naive: no offset
            "2026-11-20",
            "2026-11-20T08:30:00.1234567Z",
            "2026-02-29T00:00:00Z",
            "2024-02-29T00:00:00Z",
            "2026-04-31T10:00:00Z",
            "2026-11-20T24:00:00Z",
            "2026-11-20T23:59:60Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-05:00",
            "0999-06-01T00:00:00Z",
            " 2026-11-20T08:30:00Z",
            "2026-11-20t08:30:00z",
            "20261120T083000Z",
            "yesterday",
            "",
            "2026-11-20T08:30:00+23:59",
            "2026-11-20T08:30:00+18:00",
            "2026-11-20T08:30:00+18:30",
            "2026-11-20T08:30:00-00:00",
            "2026-11-20T08:30:00.123456789Z",
            "1795131000000000",
            1795131000000000,  # epoch microseconds: the wire format
            0,
            -62135596800000000,  # 0001-01-01
            10**20,
            1795131000.5,
        ]
    ),
    st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
    st.integers(-(2**63), 2**63),
)
user_ids = st.one_of(
    st.sampled_from(
        ["user-0001", "利用者-さくら", "o'brien", 'say "hi"', "", " ", "\u3000", "\x1c", "a\u0000b", "\ud800"]
    ),
    st.text(max_size=12),
)
integers = st.one_of(
    st.integers(-3, 13),
    st.sampled_from([0, 10, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 10**30]),
    st.integers(),
)
wrong_types = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


valid_timestamps = st.one_of(
    st.sampled_from(
        [
            "2026-11-20T08:30:00+09:00",
            "2026-11-19T23:30:00Z",
            "2026-11-19T23:30:00.5Z",
            "2026-11-20 08:30:00+09:00",
            "2026-11-19T18:30:00.123456-05:00",
            "2026-11-20T08:30Z",
            "2026-11-20T08:30:00+0900",
        ]
    ),
    st.datetimes(min_value=__import__("datetime").datetime(1970, 1, 2)).map(lambda moment: moment.isoformat() + "Z"),
)


readable_text = (
    st.text(min_size=1, max_size=8)
    .filter(str.strip)
    .filter(
        lambda text: text.encode("utf-8", "ignore").decode() == text  # no lone surrogates
    )
)


@st.composite
def valid_records(draw) -> dict:
    """Records every rule accepts, in the forms the rules allow."""
    record = {
        "user_id": draw(st.one_of(st.sampled_from(["user-0001", "利用者-さくら", 'say "hi"', " x "]), readable_text)),
        "recorded_at": draw(valid_timestamps),
        "fatigue": draw(st.integers(0, 10)),
        "mood": draw(st.integers(0, 10)),
        "motivation": draw(st.integers(0, 10)),
        "flags": draw(st.integers(0, 2**31 - 1)),
    }
    order = draw(st.permutations(list(record)))
    return {name: record[name] for name in order}


@st.composite
def records(draw) -> dict:
    record = {
        "user_id": draw(user_ids),
        "recorded_at": draw(timestamps),
        "fatigue": draw(integers),
        "mood": draw(integers),
        "motivation": draw(integers),
        "flags": draw(integers),
    }
    for field in FIELDS:
        change = draw(st.integers(0, 11))
        if change == 0:
            del record[field]
        elif change == 1:
            record[field] = draw(wrong_types)
    if draw(st.integers(0, 9)) == 0:
        record[draw(st.sampled_from(["sleep", "Mood", "", "user_id\u0000"]))] = draw(integers)
    order = draw(st.permutations(list(record)))
    return {name: record[name] for name in order}


@st.composite
def record_lines(draw, source=None) -> bytes:
    """A record encoded in one of the ways producers write JSON."""
    record = draw(source if source is not None else records())
    style = draw(st.integers(0, 3))
    text = json.dumps(record, ensure_ascii=style == 1, separators=(",", ":") if style == 2 else None)
    ending = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    return text.encode("utf-8", "surrogatepass") + ending.encode()


def _deep(depth: int) -> bytes:
    return b'{"user_id":' + b"[" * depth + b"]" * depth + b"}\n"


hostile_lines = st.one_of(
    st.sampled_from(
        [
            b"\n",
            b"   \n",
            b"\r\n",
            b"null\n",
            b"  null \n",
            b"true\n",
            b"5\n",
            b'"text"\n',
            b"[1,2]\n",
            b"{}\n",
            b'{"user_id":"a"} {"user_id":"b"}\n',
            b'{"user_id":"a"}{"user_id":"b"}\n',
            b'{"user_id":\n',
            b'"a"}\n',
            b"\xef\xbb\xbf"
            + json.dumps(
                {
                    "user_id": "bom",
                    "recorded_at": "2026-11-20T08:30:00Z",
                    "fatigue": 1,
                    "mood": 1,
                    "motivation": 1,
                    "flags": 1,
                }
            ).encode()
            + b"\n",
            b'{"user_id":"x","fatigue":NaN}\n',
            b'{"user_id":"x","fatigue":Infinity}\n',
            b'{"fatigue":1e400}\n',
            b'{"fatigue":5.0}\n',
            b'{"fatigue":1e1}\n',
            b'{"fatigue":-0}\n',
            b'{"fatigue":' + b"9" * 5000 + b"}\n",
            b'{"user_id":"\xff\xfe"}\n',
            b'{"user_id":"\xc0\xaf"}\n',
            b'{"user_id":"\xed\xa0\x80"}\n',
            b"\xff\n",
            b'{"user_id":"a\x01b"}\n',
            b'{"user_id":"a\tb"}\n',
            b'{"user_id":"\\ud800"}\n',
            b'{"user\\u005fid":"a"}\n',
            b'{"fatigue":1,"fatigue":20}\n',
            b'{"user_id":"a",}\n',
            b"{'user_id':'a'}\n",
            b'{"user_id":"a"} // c\n',
            _deep(50),
            _deep(5000),
            b"[" * 100_000 + b"]" * 100_000 + b"\n",
            b'{"x":' + b'{"y":' * 3000 + b"1" + b"}" * 3001 + b"\n",
        ]
    ),
    st.binary(max_size=40).map(lambda data: data.replace(b"\n", b"") + b"\n"),
)

lines = st.one_of(record_lines(valid_records()), record_lines(valid_records()), record_lines(), hostile_lines)
