from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from junction_engine.errors import BadRequest
from junction_engine.json_body import parse_object


def test_model_rewrite_keeps_every_other_byte() -> None:
    raw = (
        b'{ "model" : "public",\n  "messages": [{"role":"user","content":"h\\u00e9"}], "x": 1.50 }'
    )
    body = parse_object(raw)
    out = body.with_members({"model": "upstream-name"})
    assert out == raw.replace(b'"public"', b'"upstream-name"')


def test_no_change_returns_the_original_bytes() -> None:
    raw = b'{"model":"m","n":1e3}'
    assert parse_object(raw).with_members({}) is raw


def test_missing_member_is_appended() -> None:
    body = parse_object(b'{"model":"m","stream":true}')
    out = json.loads(body.with_members({"stream_options": {"include_usage": True}, "model": "u"}))
    assert out == {"model": "u", "stream": True, "stream_options": {"include_usage": True}}


def test_nested_model_fields_are_left_alone() -> None:
    body = parse_object(b'{"tools":[{"model":"inner"}],"model":"outer"}')
    out = json.loads(body.with_members({"model": "new"}))
    assert out["tools"][0]["model"] == "inner"
    assert out["model"] == "new"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "must be a JSON object"),
        (b"[1,2]", "must be a JSON object"),
        (b'{"model": }', "Expecting value"),
        (b'{"model": "m"} trailing', "extra data"),
        (b'{"model": "m",}', "expected a member name"),
        (b"\xff\xfe", "not valid UTF-8"),
        (b'{"mo\ndel": "m"}', "Invalid control character"),
        (b'{"model" "m"}', "expected a member name"),
        (b'{"model": "m" "x": 1}', "expected ','"),
        (b'{model: "m"}', "expected a member name"),
    ],
)
def test_malformed_bodies_are_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_object(raw)
    assert reason in info.value.message
    assert info.value.status == 400


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


# every way a client formats JSON: compact, the standard library's default,
# indented, tabs and CRLF; non-ASCII raw or escaped
LAYOUTS = [
    {"separators": (",", ":")},
    {},
    {"indent": 1},
    {"indent": "\t"},
    {"indent": "\r\n ", "separators": (" , ", " : ")},
]


@given(
    st.dictionaries(st.text(max_size=8), json_values, max_size=6),
    st.text(max_size=10),
    st.sampled_from(LAYOUTS),
    st.booleans(),
)
def test_parse_agrees_with_json_and_splices_any_object(
    data: dict[str, object], new: str, layout: dict[str, Any], ascii_only: bool
) -> None:
    raw = json.dumps(data, ensure_ascii=ascii_only, **layout).encode()
    body = parse_object(raw)
    assert body.data == json.loads(raw)
    assert list(body.data) == list(data)
    for key, (start, end) in body.spans.items():
        assert json.loads(body.text[start:end]) == data[key]
    assert json.loads(body.with_members({"model": new})) == {**data, "model": new}


@given(st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=6), st.data())
def test_a_member_named_twice_is_refused_however_it_is_written(
    data: dict[str, object], draw: st.DataObject
) -> None:
    twice = draw.draw(st.sampled_from(sorted(data)))
    members = [json.dumps(k) + ": " + json.dumps(v) for k, v in data.items()]
    # the second one escaped differently: the name, not its spelling, counts
    again = json.dumps(twice, ensure_ascii=False) if twice.isascii() else json.dumps(twice)
    members.append(again + ":null")
    with pytest.raises(BadRequest, match="appears twice"):
        parse_object(("{" + ", ".join(members) + "}").encode())


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b'{"model":"cheap","messages":[],"model":"dear"}', "appears twice"),
        (b'{"messages":[{"role":"user","role":"system","content":"x"}]}', "appears twice"),
        (b'{"temperature":NaN}', "NaN is not a JSON value"),
        (b'{"top_p":-Infinity}', "Infinity is not a JSON value"),
        (b'{"model":"\\ud800"}', "lone surrogate"),
        (b'{"messages":[{"content":"a\\udfffb"}]}', "lone surrogate"),
        (b'{"\\ud800":1}', "lone surrogate"),
    ],
)
def test_what_a_provider_could_read_otherwise_is_refused(raw: bytes, why: str) -> None:
    with pytest.raises(BadRequest, match=why):
        parse_object(raw)


def test_a_surrogate_pair_and_an_escaped_backslash_are_fine() -> None:
    assert parse_object(b'{"t":"\\ud83d\\ude00"}').data == {"t": "\U0001f600"}
    assert parse_object(b'{"t":"\\\\ud800"}').data == {"t": "\\ud800"}  # text, not an escape
