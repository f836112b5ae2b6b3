"""The pure stream relay: provider chunks in, client bytes out, never an exception."""

from __future__ import annotations

from junction_engine.relay import Relay
from junction_protocols.convert import get_converter


def test_the_relay_frames_a_gemini_stream_as_one_json_array() -> None:
    relay = Relay(
        get_converter("gemini", "gemini").stream(model="g", include_usage=True), json_array=True
    )
    one = b'data: {"candidates":[{"content":{"parts":[{"text":"a"}],"role":"model"}}]}\n\n'
    two = (
        b'data: {"candidates":[{"content":{"parts":[{"text":"b"}],"role":"model"},'
        b'"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,'
        b'"candidatesTokenCount":2,"totalTokenCount":5}}\n\n'
    )
    out = relay.feed(one) + relay.feed(two[:20]) + relay.feed(two[20:]) + relay.end()
    assert out.startswith(b"[{")
    assert out.endswith(b"}]")
    assert out.count(b",\r\n") == 1
    assert relay.complete
    assert relay.usage.total_tokens == 5


def test_the_relay_turns_unreadable_provider_bytes_into_an_error_event() -> None:
    relay = Relay(get_converter("anthropic", "openai").stream(model="m", include_usage=True))
    out = relay.feed(b"data: {not json\n\n")
    assert relay.failed
    assert relay.done
    assert not relay.complete
    assert b"event: error" in out
    assert relay.feed(b'data: {"choices":[]}\n\n') == b""  # nothing after the end
