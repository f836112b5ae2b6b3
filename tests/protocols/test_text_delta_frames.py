"""Anthropic text deltas framed for an OpenAI client without decoding: the same bytes.

An OpenAI client of an Anthropic provider gets most of its stream as text
deltas; those whose text needs no JSON escape are written from a fixed frame
around the text. These tests hold that path to the full one (decode, translate,
encode) byte for byte, for any text and any way the stream is cut into reads.
"""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from junction_protocols.convert import get_converter
from junction_protocols.streams import StreamConverter

PAIR = get_converter("openai", "anthropic")
# the chunk's id and creation time come from the stream's start: the same inputs,
# but two converters may straddle a second
_STAMP = re.compile(rb'"created":\d+')


def event(name: str, data: dict[str, object], *, ascii_only: bool = False) -> bytes:
    # a provider may escape every non-ASCII character, or write it as UTF-8
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=ascii_only).encode()
    return b"event: " + name.encode() + b"\ndata: " + body + b"\n\n"


def stream_of(texts: list[str], *, ping_every: int = 0, ascii_only: bool = False) -> bytes:
    parts = [
        event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_0123",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude",
                    "content": [],
                    "usage": {"input_tokens": 7, "output_tokens": 1},
                },
            },
        ),
        event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
    ]
    for n, text in enumerate(texts, start=1):
        delta = {"type": "text_delta", "text": text}
        parts.append(
            event(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": delta},
                ascii_only=ascii_only,
            )
        )
        if ping_every and n % ping_every == 0:
            parts.append(event("ping", {"type": "ping"}))
    parts += [
        event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(texts)},
            },
        ),
        event("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(parts)


def relay(raw: bytes, cuts: list[int], *, framed: bool, include_usage: bool) -> bytes:
    converter = PAIR.stream(model="gpt-alias", include_usage=include_usage)
    if not framed:
        converter._text_chunk = None  # the full path for every event
    out = []
    start = 0
    for cut in [*sorted({c % (len(raw) + 1) for c in cuts}), len(raw)]:
        out.append(converter.feed_bytes(raw[start:cut]))
        start = cut
    out.append(converter.end())
    return _STAMP.sub(b'"created":0', b"".join(out))


def test_an_openai_client_of_an_anthropic_provider_takes_the_framed_path() -> None:
    converter = PAIR.stream(model="gpt-alias", include_usage=False)
    assert isinstance(converter, StreamConverter)
    assert converter._text_chunk is not None
    # other pairs have no such path
    assert (
        get_converter("anthropic", "openai").stream(model="m", include_usage=False)._text_chunk
        is None
    )
    assert (
        get_converter("openai", "gemini").stream(model="m", include_usage=False)._text_chunk is None
    )


def test_whole_events_give_the_full_paths_bytes() -> None:
    texts = ["Hello", " there", "—ünïcode ✓", 'a "quote"', "back\\slash", "tab\there"]
    raw = stream_of(texts)
    framed = relay(raw, [], framed=True, include_usage=True)

    assert framed == relay(raw, [], framed=False, include_usage=True)
    escaped = stream_of(texts, ascii_only=True)
    assert relay(escaped, [], framed=True, include_usage=True) == framed
    assert b'"content":"\\u2014' not in framed  # non-ASCII stays as is, as orjson writes it
    assert b'"content":"a \\"quote\\""' in framed
    assert framed.endswith(b"data: [DONE]\n\n")


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=6),
    include_usage=st.booleans(),
    ping_every=st.integers(min_value=0, max_value=3),
    ascii_only=st.booleans(),
)
def test_any_text_cut_anywhere_gives_the_full_paths_bytes(
    texts: list[str], cuts: list[int], include_usage: bool, ping_every: int, ascii_only: bool
) -> None:
    raw = stream_of(texts, ping_every=ping_every, ascii_only=ascii_only)

    framed = relay(raw, cuts, framed=True, include_usage=include_usage)

    assert framed == relay(raw, cuts, framed=False, include_usage=include_usage)


@settings(max_examples=100, deadline=None)
@given(garbage=st.binary(min_size=1, max_size=6), cuts=st.lists(st.integers(0, 2000), max_size=4))
def test_bytes_that_are_not_utf8_are_replaced_as_the_full_path_does(
    garbage: bytes, cuts: list[int]
) -> None:
    marker = b"MARK"
    raw = stream_of(["before", "MARK", "after"]).replace(marker, garbage.replace(b'"', b"x"))

    assert relay(raw, cuts, framed=True, include_usage=True) == relay(
        raw, cuts, framed=False, include_usage=True
    )
