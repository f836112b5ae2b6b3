"""Same-protocol streams: text deltas pass byte for byte, only the events that matter are read.

Fed literal SSE text, cut at every possible place: the client bytes never
depend on how the provider's bytes were chunked.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from junction_protocols.convert import get_converter

OPENAI_STREAM = (
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"say \\"usage\\" and \\"error\\""},'
    b'"finish_reason":null}]}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":" \xc3\xa9t\xc3\xa9"},"finish_reason":null}]}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],'
    b'"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}\n\n'
    b"data: [DONE]\n\n"
)
DELTAS = OPENAI_STREAM.split(b"\n\n")[:3]

ANTHROPIC_STREAM = (
    b"event: message_start\n"
    b'data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",'
    b'"content":[],"model":"claude","stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":12,"output_tokens":1}}}\n\n'
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
    b"event: ping\n"
    b'data: {"type": "ping"}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"you"}}\n\n'
    b"event: content_block_stop\n"
    b'data: {"type":"content_block_stop","index":0}\n\n'
    b"event: message_delta\n"
    b'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
    b'"usage":{"output_tokens":5}}\n\n'
    b"event: message_stop\n"
    b'data: {"type":"message_stop"}\n\n'
)


def _relay(
    stream: bytes, cuts: list[int], protocol: str = "openai", include_usage: bool = True
) -> tuple[bytes, object]:
    conv = get_converter(protocol, protocol).stream(  # type: ignore[arg-type]
        model="m", include_usage=include_usage
    )
    out = bytearray()
    last = 0
    for cut in [*sorted(set(cuts)), len(stream)]:
        out += conv.feed_bytes(stream[last:cut])
        last = cut
    out += conv.end()
    return bytes(out), conv


def test_openai_deltas_pass_byte_for_byte_and_usage_is_read() -> None:
    out, conv = _relay(OPENAI_STREAM, [])
    assert out == OPENAI_STREAM  # the client asked for usage: the stream is unchanged
    assert conv.usage.input_tokens == 7
    assert conv.usage.output_tokens == 3
    assert conv.finish_reason == "stop"  # type: ignore[attr-defined]


def test_the_usage_chunk_the_client_did_not_ask_for_is_dropped() -> None:
    out, conv = _relay(OPENAI_STREAM, [], include_usage=False)
    assert b'"usage"' not in out
    assert all(delta in out for delta in DELTAS)
    assert out.endswith(b"data: [DONE]\n\n")
    assert out.count(b"[DONE]") == 1
    assert conv.usage.total_tokens == 10  # type: ignore[attr-defined]


# OpenAI's framing when usage was asked for: `"usage":null` on every chunk.
# Written without the space after `data:`, so an event the gateway decoded
# and re-encoded would come out changed (`data: {`): these must pass as sent.
NULL_USAGE_DELTAS = [
    b'data:{"id":"c2","choices":[{"index":0,"delta":{"content":"%d"},"finish_reason":null}],'
    b'"usage" : null}\n\n' % n
    for n in range(3)
]
NULL_USAGE_STREAM = (
    b"".join(NULL_USAGE_DELTAS[:2])
    + b'data:{"id":"c2","choices":[{"index":0,"delta":{},"finish_reason":"length"}],'
    + b'"usage":null}\n\n'
    + NULL_USAGE_DELTAS[2]
    + b'data:{"id":"c2","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2}}\n\n'
    + b"data:[DONE]\n\n"
)


def test_null_usage_and_finish_fields_do_not_send_an_event_to_the_decoder() -> None:
    out, conv = _relay(NULL_USAGE_STREAM, [])
    # every content chunk passes as sent, before and after the decoded ones
    for delta in NULL_USAGE_DELTAS:
        assert delta in out
    # the finish and usage chunks were read (and so re-framed by the encoder)
    assert conv.finish_reason == "length"  # type: ignore[attr-defined]
    assert conv.usage.input_tokens == 4
    assert conv.usage.output_tokens == 2
    assert b'data: {"id":"c2","choices":[{"index":0,"delta":{},"finish_reason":"length"}]' in out
    assert out.count(b"[DONE]") == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(OPENAI_STREAM)), max_size=12))
def test_openai_output_does_not_depend_on_chunking(cuts: list[int]) -> None:
    assert _relay(OPENAI_STREAM, cuts)[0] == OPENAI_STREAM


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(ANTHROPIC_STREAM)), max_size=12))
def test_anthropic_stream_passes_unchanged_whatever_the_chunking(cuts: list[int]) -> None:
    out, conv = _relay(ANTHROPIC_STREAM, cuts, "anthropic")
    assert out == ANTHROPIC_STREAM
    assert conv.usage.input_tokens == 12
    assert conv.usage.output_tokens == 5
    assert conv.finish_reason == "stop"  # type: ignore[attr-defined]


def test_a_crlf_framed_stream_is_read_by_the_full_decoder() -> None:
    crlf = OPENAI_STREAM.replace(b"\n", b"\r\n")
    out, conv = _relay(crlf, [40, 300])
    assert conv.finish_reason == "stop"  # type: ignore[attr-defined]
    assert out.count(b"data: ") == OPENAI_STREAM.count(b"data: ")
    assert out.endswith(b"data: [DONE]\n\n")


def test_a_stream_cut_before_its_end_fails_instead_of_closing() -> None:
    cut = OPENAI_STREAM.index(
        b'data: {"id":"c1","object":"chat.completion.chunk","created":1,'
        b'"model":"m","choices":[{"index":0,"delta":{},'
    )
    out, conv = _relay(OPENAI_STREAM[:cut], [])
    assert conv.failed  # type: ignore[attr-defined]
    assert b"[DONE]" not in out
    assert out.startswith(OPENAI_STREAM[:cut])
    assert b'"error"' in out[cut:]


def test_an_error_event_mid_stream_ends_it_in_the_clients_protocol() -> None:
    broken = (
        ANTHROPIC_STREAM.split(b"event: content_block_stop")[0]
        + b"event: error\n"
        + b'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    out, conv = _relay(broken, [], "anthropic")
    assert conv.failed  # type: ignore[attr-defined]
    assert out.endswith(b"\n\n")
    assert b"event: error" in out
    assert b"message_stop" not in out
