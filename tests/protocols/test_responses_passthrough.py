"""An OpenAI provider's own Responses API stream, relayed as it came.

The same-protocol converter reads only the events that carry the response
object or an error; the deltas go out byte for byte. A comment line inside
an event shows which path it took: the relay keeps it, the decoder drops it.
"""

# Literal wire text (SSE lines) is kept verbatim, whatever its length.
# ruff: noqa: E501

from __future__ import annotations

import json

from junction_protocols.convert import get_converter
from junction_protocols.sse import SSEDecoder
from junction_protocols.streams import StreamConverter
from junction_protocols.usage import UsageTracker, from_openai

CREATED = b"""event: response.created
data: {"type":"response.created","response":{"id":"resp_1","object":"response","status":"in_progress","output":[],"usage":null,"error":null},"sequence_number":0}

"""
DELTAS = b"""event: response.output_item.added
data: {"type":"response.output_item.added","output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","content":[],"role":"assistant"},"sequence_number":1}

event: response.output_text.delta
: relayed as it came
data: {"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi \\"error\\": \\"usage\\": 1","logprobs":[],"sequence_number":2}

event: response.output_text.delta
data: {"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"!","logprobs":[],"sequence_number":3}

"""
COMPLETED = b"""event: response.completed
: read by the gateway
data: {"type":"response.completed","response":{"id":"resp_1","object":"response","status":"completed","output":[{"id":"msg_1","type":"message"}],"usage":{"input_tokens":12,"input_tokens_details":{"cached_tokens":2},"output_tokens":5,"output_tokens_details":{"reasoning_tokens":1},"total_tokens":17}},"sequence_number":4}

"""


def relay() -> StreamConverter:
    return get_converter("openai", "openai").stream(model="alias", include_usage=True)


def test_a_whole_stream_passes_byte_for_byte_with_usage_and_no_done_marker() -> None:
    conv = relay()
    raw = CREATED + DELTAS + COMPLETED
    out = b"".join(conv.feed_bytes(raw[i : i + 50]) for i in range(0, len(raw), 50)) + conv.end()
    # the deltas kept their comment (never decoded); the completed event lost its own (read)
    assert out == raw.replace(b": read by the gateway\n", b"")
    assert b"[DONE]" not in out
    assert not conv.failed
    assert conv.finish_reason == "stop"
    usage = conv.usage
    assert (
        usage.input_tokens,
        usage.output_tokens,
        usage.cached_input_tokens,
        usage.reasoning_tokens,
    ) == (12, 5, 2, 1)


def test_a_response_with_a_function_call_finishes_as_a_tool_turn() -> None:
    conv = relay()
    completed = COMPLETED.replace(b'"type":"message"', b'"type":"function_call"')
    conv.feed_bytes(CREATED + completed)
    conv.end()
    assert conv.finish_reason == "tool_calls"


def test_an_incomplete_response_is_a_whole_answer_cut_by_its_limit() -> None:
    conv = relay()
    incomplete = COMPLETED.replace(b"response.completed", b"response.incomplete").replace(
        b'"status":"completed"',
        b'"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"}',
    )
    out = conv.feed_bytes(CREATED + incomplete) + conv.end()
    assert not conv.failed
    assert conv.finish_reason == "length"
    assert out.endswith(b'"sequence_number":4}\n\n')


def _last_event(raw: bytes) -> tuple[str | None, dict[str, object]]:
    decoder = SSEDecoder()
    event = (decoder.feed(raw) + decoder.close())[-1]
    return event.event, json.loads(event.data)


def test_a_stream_cut_before_its_end_fails_with_a_responses_error_event() -> None:
    conv = relay()
    out = conv.feed_bytes(CREATED + DELTAS) + conv.end()
    assert conv.failed
    name, data = _last_event(out)
    assert name == "error"
    assert data["type"] == "error"
    assert data["code"] == "upstream_error"
    # numbered after every event the client saw, decoded or not
    assert data["sequence_number"] == 4
    assert b"[DONE]" not in out


def test_a_provider_error_event_is_replaced_by_a_scrubbed_one() -> None:
    conv = get_converter("openai", "openai").stream(
        model="alias",
        include_usage=True,
        scrub=lambda text: text.replace("sk-secret-key", "[redacted]"),
    )
    error = b'event: error\ndata: {"type":"error","code":"server_error","message":"boom for sk-secret-key","param":null,"sequence_number":4}\n\n'
    out = conv.feed_bytes(CREATED + DELTAS + error)
    assert conv.failed
    name, data = _last_event(out)
    assert name == "error"
    assert data["message"] == "boom for [redacted]"
    assert b"sk-secret-key" not in out


def test_a_failed_response_fails_the_stream() -> None:
    conv = relay()
    failed = b'event: response.failed\ndata: {"type":"response.failed","response":{"id":"resp_1","status":"failed","error":{"code":"rate_limit_exceeded","message":"slow down"}},"sequence_number":2}\n\n'
    out = conv.feed_bytes(CREATED + failed)
    assert conv.failed
    assert conv.error == "slow down"
    assert _last_event(out)[0] == "error"


def test_chat_completion_streams_still_end_with_done() -> None:
    conv = relay()
    chunk = b'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}\n\n'
    out = conv.feed_bytes(chunk + b"data: [DONE]\n\n") + conv.end()
    assert out.endswith(b"data: [DONE]\n\n")


def test_responses_usage_objects_read_as_openai_usage() -> None:
    usage = from_openai(
        {
            "input_tokens": 30,
            "input_tokens_details": {"cached_tokens": 10, "cache_write_tokens": 4},
            "output_tokens": 7,
            "output_tokens_details": {"reasoning_tokens": 3},
            "total_tokens": 37,
        }
    )
    assert (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens) == (30, 7, 10)
    assert (usage.reasoning_tokens, usage.cache_write_input_tokens) == (3, 4)
    assert from_openai({"prompt_tokens": 1, "completion_tokens": 2}).total_tokens == 3


def test_the_tracker_reads_usage_from_a_terminal_event() -> None:
    tracker = UsageTracker("openai")
    tracker.observe("response.completed", json.loads(COMPLETED.split(b"data: ")[1]))
    assert tracker.responses
    assert tracker.sequence == 4
    assert tracker.usage.total_tokens == 17
