"""Chat Completions stream → Responses API events, judged literally and by the openai SDK.

The chat stream is literal SSE text as the engine writes it for a client;
the Responses events it becomes are served to the official SDK through a
mock transport, so ``client.responses.stream`` and its accumulator (which
refuses deltas for unknown items and completions with unfinished items)
judge the shapes.
"""

# Literal wire text (SSE lines) is kept verbatim, whatever its length.
# ruff: noqa: E501

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai

from junction_protocols.reshaped_stream import ChatSSEReshaper
from junction_protocols.responses_chat_stream import ChatStreamToResponses
from junction_protocols.sse import SSEDecoder

TEXT_SSE = b"""data: {"id":"chatcmpl-Txt1","object":"chat.completion.chunk","created":1741476542,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

data: {"id":"chatcmpl-Txt1","object":"chat.completion.chunk","created":1741476542,"model":"m","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}

data: {"id":"chatcmpl-Txt1","object":"chat.completion.chunk","created":1741476542,"model":"m","choices":[{"index":0,"delta":{"content":" there"},"finish_reason":null}]}

data: {"id":"chatcmpl-Txt1","object":"chat.completion.chunk","created":1741476542,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

data: {"id":"chatcmpl-Txt1","object":"chat.completion.chunk","created":1741476542,"model":"m","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":3}}}

data: [DONE]

"""

TOOL_SSE = b"""data: {"id":"chatcmpl-Tool","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Paris, then Oslo."},"finish_reason":null}]}

data: {"id":"chatcmpl-Tool","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Checking."},"finish_reason":null}]}

data: {"id":"chatcmpl-Tool","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":"}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-Tool","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Oslo\\"}"}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-Tool","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\\"Paris\\"}"}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-Tool","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":20,"completion_tokens":8,"total_tokens":28}}

data: [DONE]

"""

FAILED_SSE = b"""data: {"id":"chatcmpl-F","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Partial"},"finish_reason":null}]}

data: {"error":{"message":"the provider's stream broke off","type":"api_error","param":null,"code":"upstream_error"}}

"""

REQUEST: dict[str, Any] = {"model": "alias", "input": "Hi", "instructions": "Be brief."}


def reshaped(raw: bytes, request: dict[str, Any] = REQUEST, *, split: int = 7) -> bytes:
    """The Responses bytes for `raw`, fed in small pieces as a socket would."""
    reshaper = ChatSSEReshaper(ChatStreamToResponses(request, "alias"), ends_with_done=False)
    pieces = [raw[i : i + split] for i in range(0, len(raw), split)]
    return b"".join(reshaper.feed_bytes(p) for p in pieces) + reshaper.end()


def events(raw: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    decoder = SSEDecoder()
    return [(e.event, json.loads(e.data)) for e in decoder.feed(raw) + decoder.close()]


def sdk(raw: bytes) -> openai.OpenAI:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=raw, headers={"content-type": "text/event-stream"})

    return openai.OpenAI(
        api_key="test",
        base_url="http://junction/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def test_a_text_stream_is_the_documented_event_sequence() -> None:
    out = events(reshaped(TEXT_SSE))
    assert [name for name, _ in out] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert all(data["type"] == name for name, data in out)
    assert [data["sequence_number"] for _, data in out] == list(range(len(out)))
    created = out[0][1]["response"]
    assert (created["id"], created["status"], created["output"], created["usage"]) == (
        "resp_Txt1",
        "in_progress",
        [],
        None,
    )
    assert created["instructions"] == "Be brief."
    item = out[2][1]["item"]
    deltas = [d for n, d in out if n == "response.output_text.delta"]
    assert [d["delta"] for d in deltas] == ["Hello", " there"]
    assert all(
        (d["item_id"], d["output_index"], d["content_index"]) == (item["id"], 0, 0) for d in deltas
    )
    assert out[6][1]["text"] == "Hello there"
    completed = out[-1][1]["response"]
    assert completed["status"] == "completed"
    assert completed["output"] == [
        {
            "id": item["id"],
            "type": "message",
            "status": "completed",
            "content": [
                {"type": "output_text", "annotations": [], "logprobs": [], "text": "Hello there"}
            ],
            "role": "assistant",
        }
    ]
    assert completed["usage"]["input_tokens"] == 9
    assert completed["usage"]["output_tokens"] == 2
    assert completed["usage"]["input_tokens_details"]["cached_tokens"] == 3


def test_no_done_marker_follows_a_responses_stream() -> None:
    assert b"[DONE]" not in reshaped(TEXT_SSE)


def test_reasoning_text_and_interleaved_tool_calls_each_get_their_item() -> None:
    out = events(reshaped(TOOL_SSE))
    added = [d["item"] for n, d in out if n == "response.output_item.added"]
    assert [i["type"] for i in added] == ["reasoning", "message", "function_call", "function_call"]
    args = {}
    for name, data in out:
        if name == "response.function_call_arguments.delta":
            args[data["item_id"]] = args.get(data["item_id"], "") + data["delta"]
    paris, oslo = added[2], added[3]
    assert (paris["call_id"], oslo["call_id"]) == ("call_a", "call_b")
    assert args == {paris["id"]: '{"city":"Paris"}', oslo["id"]: '{"city":"Oslo"}'}
    done = [d for n, d in out if n == "response.function_call_arguments.done"]
    assert [d["arguments"] for d in done] == ['{"city":"Paris"}', '{"city":"Oslo"}']
    final = out[-1][1]["response"]
    assert [i["type"] for i in final["output"]] == [
        "reasoning",
        "message",
        "function_call",
        "function_call",
    ]
    assert final["output"][0]["content"] == [
        {"type": "reasoning_text", "text": "Paris, then Oslo."}
    ]
    assert final["usage"]["output_tokens"] == 8


def test_a_failed_chat_stream_ends_with_an_error_event() -> None:
    out = events(reshaped(FAILED_SSE))
    name, data = out[-1]
    assert name == "error"
    assert data == {
        "type": "error",
        "code": "upstream_error",
        "message": "the provider's stream broke off",
        "param": None,
        "sequence_number": len(out) - 1,
    }
    assert not any(n == "response.completed" for n, _ in out)


def test_a_chat_stream_cut_without_its_end_ends_with_an_error_event() -> None:
    cut = TEXT_SSE[: TEXT_SSE.index(b"data: [DONE]")]
    name, data = events(reshaped(cut))[-1]
    assert name == "error"
    assert data["code"] == "upstream_incomplete"


def test_a_length_finish_ends_with_response_incomplete() -> None:
    raw = TEXT_SSE.replace(b'"finish_reason":"stop"', b'"finish_reason":"length"')
    name, data = events(reshaped(raw))[-1]
    assert name == "response.incomplete"
    assert data["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_the_sdk_stream_helper_accumulates_the_text_answer() -> None:
    client = sdk(reshaped(TEXT_SSE))
    with client.responses.stream(model="alias", input="Hi", instructions="Be brief.") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created"
    assert final.output_text == "Hello there"
    assert final.id == "resp_Txt1"
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.total_tokens) == (
        9,
        2,
        11,
    )


def test_the_sdk_stream_helper_accumulates_function_calls() -> None:
    client = sdk(reshaped(TOOL_SSE))
    tools: Any = [
        {
            "type": "function",
            "name": "get_weather",
            "parameters": {"type": "object"},
            "strict": False,
        }
    ]
    with client.responses.stream(model="alias", input="Weather?", tools=tools) as stream:
        final = stream.get_final_response()
    calls = [item for item in final.output if item.type == "function_call"]
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("call_a", "get_weather", {"city": "Paris"}),
        ("call_b", "get_weather", {"city": "Oslo"}),
    ]


def test_the_sdk_raw_stream_yields_every_event_typed() -> None:
    client = sdk(reshaped(FAILED_SSE))
    seen = list(client.responses.create(model="alias", input="Hi", stream=True))
    assert seen[-1].type == "error"
    assert seen[-1].message == "the provider's stream broke off"  # type: ignore[union-attr]
    assert [e.type for e in seen][:3] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
    ]
