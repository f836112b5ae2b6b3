"""Usage extraction per protocol and usage tracking of pass-through streams."""

# Literal wire text (SSE lines, JSON bodies) is kept verbatim, whatever its length.
# ruff: noqa: E501

from __future__ import annotations

from junction_protocols.sse import SSEDecoder
from junction_protocols.usage import (
    Usage,
    UsageTracker,
    from_anthropic,
    from_gemini,
    from_openai,
)


def track(protocol: str, raw: bytes) -> UsageTracker:
    tracker = UsageTracker(protocol)  # type: ignore[arg-type]
    decoder = SSEDecoder()
    for event in [*decoder.feed(raw), *decoder.close()]:
        tracker.feed(event)
    return tracker


def test_openai_usage_with_cache_and_reasoning_details() -> None:
    usage = from_openai(
        {
            "prompt_tokens": 120,
            "completion_tokens": 40,
            "total_tokens": 160,
            "prompt_tokens_details": {"cached_tokens": 100, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 30},
        }
    )
    assert usage == Usage(
        input_tokens=120, output_tokens=40, cached_input_tokens=100, reasoning_tokens=30
    )
    assert usage.total_tokens == 160


def test_anthropic_input_counts_cache_reads_and_writes() -> None:
    usage = from_anthropic(
        {
            "input_tokens": 20,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 50,
            "output_tokens": 7,
        }
    )
    assert usage.input_tokens == 170
    assert usage.cached_input_tokens == 100
    assert usage.cache_write_input_tokens == 50
    assert usage.to_anthropic() == {
        "input_tokens": 20,
        "output_tokens": 7,
        "cache_creation_input_tokens": 50,
        "cache_read_input_tokens": 100,
    }


def test_gemini_output_includes_thoughts() -> None:
    usage = from_gemini(
        {
            "promptTokenCount": 10,
            "candidatesTokenCount": 5,
            "thoughtsTokenCount": 12,
            "cachedContentTokenCount": 4,
            "totalTokenCount": 27,
        }
    )
    assert usage == Usage(
        input_tokens=10, output_tokens=17, cached_input_tokens=4, reasoning_tokens=12
    )
    assert usage.to_gemini()["candidatesTokenCount"] == 5


def test_garbage_usage_counts_zero() -> None:
    assert from_openai(None) == Usage()
    assert from_anthropic({"input_tokens": "12", "output_tokens": True}) == Usage()
    assert from_gemini([1, 2]) == Usage()
    assert from_openai({"prompt_tokens": -3}) == Usage()


def test_openai_usage_round_trips_through_its_wire_shape() -> None:
    usage = Usage(input_tokens=9, output_tokens=4, cached_input_tokens=3, reasoning_tokens=2)
    assert from_openai(usage.to_openai()) == usage


def test_tracker_reads_the_final_openai_usage_chunk() -> None:
    tracker = track(
        "openai",
        b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}],"usage":null}\n\n'
        b'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}\n\n'
        b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}\n\n'
        b"data: [DONE]\n\n",
    )
    assert tracker.usage == Usage(input_tokens=5, output_tokens=2)
    assert tracker.finish_reason == "stop"


def test_tracker_merges_anthropic_message_start_and_message_delta() -> None:
    tracker = track(
        "anthropic",
        b"event: message_start\n"
        b'data: {"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":25,'
        b'"cache_read_input_tokens":100,"output_tokens":1}}}\n\n'
        b"event: ping\n"
        b'data: {"type":"ping"}\n\n'
        b"event: message_delta\n"
        b'data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},'
        b'"usage":{"output_tokens":15}}\n\n'
        b"event: message_stop\n"
        b'data: {"type":"message_stop"}\n\n',
    )
    assert tracker.usage == Usage(input_tokens=125, output_tokens=15, cached_input_tokens=100)
    assert tracker.finish_reason == "tool_calls"


def test_tracker_takes_the_last_gemini_usage_metadata() -> None:
    tracker = track(
        "gemini",
        b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]}}],'
        b'"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":1,"totalTokenCount":9}}\n\n'
        b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"lo"}]},"finishReason":"STOP"}],'
        b'"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":2,"totalTokenCount":10}}\n\n',
    )
    assert tracker.usage == Usage(input_tokens=8, output_tokens=2)
    assert tracker.finish_reason == "stop"


def test_tracker_sees_gemini_function_call_turns_as_tool_calls() -> None:
    tracker = track(
        "gemini",
        b'data: {"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]},'
        b'"finishReason":"STOP"}]}\n\n',
    )
    assert tracker.finish_reason == "tool_calls"


def test_tracker_ignores_non_json_events() -> None:
    tracker = track("openai", b"data: not json\n\ndata: [1,2]\n\n")
    assert tracker.usage == Usage()
    assert tracker.finish_reason is None
