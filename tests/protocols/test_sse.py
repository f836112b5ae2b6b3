"""The SSE decoder and encoder, fed literal event-stream text."""

# Literal wire text (SSE lines, JSON bodies) is kept verbatim, whatever its length.
# ruff: noqa: E501

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from junction_protocols.sse import (
    SSEDecoder,
    SSEError,
    SSEEvent,
    encode_event,
    encode_json_event,
)


def decode(*chunks: bytes, **kwargs: int) -> list[SSEEvent]:
    decoder = SSEDecoder(**kwargs)
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


ANTHROPIC_STREAM = (
    b"event: message_start\n"
    b'data: {"type":"message_start","message":{"id":"msg_1"}}\n'
    b"\n"
    b"event: ping\n"
    b'data: {"type": "ping"}\n'
    b"\n"
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"h\xc3\xa9"}}\n'
    b"\n"
)


def test_named_events_are_parsed_with_their_data() -> None:
    events = decode(ANTHROPIC_STREAM)
    assert [e.event for e in events] == ["message_start", "ping", "content_block_delta"]
    assert json.loads(events[2].data)["delta"]["text"] == "hé"


def test_unnamed_data_events_like_openai_chunks() -> None:
    events = decode(b'data: {"a":1}\n\ndata: [DONE]\n\n')
    assert events == [SSEEvent(data='{"a":1}'), SSEEvent(data="[DONE]")]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending_gives_the_same_events(newline: bytes) -> None:
    text = ANTHROPIC_STREAM.replace(b"\n", newline)
    assert decode(text) == decode(ANTHROPIC_STREAM)


def test_cr_at_chunk_end_and_lf_at_next_chunk_start_are_one_line_ending() -> None:
    events = decode(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n")
    assert events == [SSEEvent(data="a\nb")]


def test_lone_cr_at_chunk_end_is_a_line_ending_on_its_own() -> None:
    events = decode(b"data: a\r", b"data: b\r", b"\r")
    assert events == [SSEEvent(data="a\nb")]


def test_chunk_split_inside_a_multibyte_character() -> None:
    raw = "data: 日本語 ✓\n\n".encode()
    events = decode(*(raw[i : i + 1] for i in range(len(raw))))
    assert events == [SSEEvent(data="日本語 ✓")]


def test_comments_are_ignored_and_do_not_dispatch() -> None:
    events = decode(b": keep-alive\n\n:ping\ndata: x\n\n")
    assert events == [SSEEvent(data="x")]


def test_multiline_data_is_joined_with_newlines() -> None:
    events = decode(b"data: first\ndata:second\ndata:  third\ndata\n\n")
    assert events == [SSEEvent(data="first\nsecond\n third\n")]


def test_leading_bom_is_skipped_even_when_split() -> None:
    events = decode(b"\xef", b"\xbb", b"\xbfdata: x\n\n")
    assert events == [SSEEvent(data="x")]


def test_bom_is_only_special_at_the_very_start() -> None:
    events = decode(b"data: x\n\n\xef\xbb\xbfdata: y\n\n")
    assert [e.data for e in events] == ["x"]  # "\ufeffdata" is an unknown field


def test_final_event_without_blank_line_is_emitted_by_close() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: message_stop\ndata: {}") == []
    assert decoder.close() == [SSEEvent(data="{}", event="message_stop")]


def test_block_without_data_is_not_dispatched_unless_it_is_named() -> None:
    events = decode(b"id: 7\n\nretry: 10\n\nevent: done\n\n")
    assert events == [SSEEvent(data="", event="done")]


def test_id_and_retry_fields() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 42\nretry: 1500\ndata: x\n\nretry: soon\ndata: y\n\n")
    assert events == [SSEEvent(data="x", id="42", retry=1500), SSEEvent(data="y")]
    assert decoder.last_event_id == "42"


def test_field_without_colon_and_unknown_fields() -> None:
    events = decode(b"data\nfoo: bar\n\n")
    assert events == [SSEEvent(data="")]


def test_event_of_several_megabytes_in_small_chunks() -> None:
    payload = "x" * (3 * 1024 * 1024)
    raw = f"data: {payload}\n\n".encode()
    events = decode(*(raw[i : i + 8192] for i in range(0, len(raw), 8192)))
    assert len(events) == 1
    assert events[0].data == payload


def test_event_over_the_size_limit_raises() -> None:
    decoder = SSEDecoder(max_event_bytes=1024)
    with pytest.raises(SSEError):
        decoder.feed(b"data: " + b"x" * 2000)


def test_many_lines_over_the_size_limit_raise() -> None:
    decoder = SSEDecoder(max_event_bytes=1024)
    for _ in range(17):
        decoder.feed(b"data: " + b"x" * 50 + b"\n")  # 17 * 57 bytes: still under
    with pytest.raises(SSEError):
        decoder.feed(b"data: " + b"x" * 50 + b"\n")


def test_limit_counts_per_event_not_per_stream() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    events = []
    for _ in range(50):
        events.extend(decoder.feed(b"data: " + b"x" * 60 + b"\n\n"))
    assert len(events) == 50


def test_encode_event_splits_multiline_data() -> None:
    assert encode_event("a\nb\r\nc", event="e", id="1") == (
        b"event: e\nid: 1\ndata: a\ndata: b\ndata: c\n\n"
    )


def test_encode_event_refuses_newlines_in_event_name() -> None:
    with pytest.raises(ValueError):
        encode_event("x", event="a\nb")


def test_encode_json_event_is_compact_and_keeps_unicode() -> None:
    raw = encode_json_event({"text": "é\n", "n": 1}, event="content_block_delta")
    assert raw == 'event: content_block_delta\ndata: {"text":"é\\n","n":1}\n\n'.encode()


def test_encoded_events_decode_back() -> None:
    raw = encode_event("line1\nline2", event="x", id="9") + encode_json_event({"k": "v"})
    assert decode(raw) == [
        SSEEvent(data="line1\nline2", event="x", id="9"),
        SSEEvent(data='{"k":"v"}'),
    ]


STREAM_FOR_SPLITS = (
    "\ufeff"
    ": hello\r\n"
    "event: message_start\r\n"
    'data: {"text":"日本"}\r\n'
    "\r\n"
    "data: a\rdata: b\r\r"
    "id: 5\n"
    "data: ✓ done\n"
    "\n"
    "data: tail without blank line"
).encode()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM_FOR_SPLITS)), max_size=12))
def test_every_split_of_the_same_bytes_gives_the_same_events(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [
        STREAM_FOR_SPLITS[a:b]
        for a, b in zip([0, *points], [*points, len(STREAM_FOR_SPLITS)], strict=True)
    ]
    assert decode(*chunks) == decode(STREAM_FOR_SPLITS)
    assert [e.data for e in decode(STREAM_FOR_SPLITS)] == [
        '{"text":"日本"}',
        "a\nb",
        "✓ done",
        "tail without blank line",
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(min_size=0, max_size=30), min_size=1, max_size=5),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.data(),
)
def test_random_events_survive_any_split_and_line_ending(
    datas: list[str], newline: str, data: st.DataObject
) -> None:
    raw = b"".join(encode_event(d) for d in datas).replace(b"\n", newline.encode())
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=10))
    points = sorted(set(cuts))
    chunks = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]
    expected = ["\n".join(d.replace("\r\n", "\n").replace("\r", "\n").split("\n")) for d in datas]
    assert [e.data for e in decode(*chunks)] == expected


_LINES = st.sampled_from(
    [
        b"data: x",
        b"data:y",
        b"data: ",
        b"data",
        b"event: e",
        b"event:",
        b"id: 7",
        b"retry: 10",
        b": comment",
        b"other: z",
        b'data: {"a":"\xc3\xa9"}',
        b"",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_LINES, min_size=1, max_size=4), min_size=1, max_size=6))
def test_whole_lf_events_decode_as_the_line_by_line_path_does(
    blocks: list[list[bytes]],
) -> None:
    """Fed whole, LF-framed events take a shortcut; fed a byte at a time they cannot."""
    raw = b"".join(b"\n".join(lines) + b"\n\n" for lines in blocks)
    one_by_one = decode(*(raw[i : i + 1] for i in range(len(raw))))
    assert decode(raw) == one_by_one
    whole = SSEDecoder()
    whole.feed(raw)
    slow = SSEDecoder()
    for i in range(len(raw)):
        slow.feed(raw[i : i + 1])
    assert whole.last_event_id == slow.last_event_id
