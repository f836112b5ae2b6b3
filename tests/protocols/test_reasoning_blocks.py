"""Reasoning text and signatures across protocols, judged by the official SDKs' parsers.

Anthropic thinking blocks ↔ Gemini thought parts keep their signatures both
ways; toward an OpenAI client the text is ``reasoning_content`` and the
signatures ``thinking_blocks``, streamed and not.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import anthropic
import httpx2
import openai
from anthropic.types import Message, ThinkingBlock
from google.genai import types as gemini_types

from junction_protocols.convert import get_converter
from junction_protocols.sse import SSEDecoder

SIG = "RXF3QkNrWUlBUkFDR0FJ"  # an opaque, base64 signature (Gemini's are bytes)
USER = [{"role": "user", "content": "Weather in Oslo?"}]

ANTHROPIC_MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude",
    "content": [
        {"type": "thinking", "thinking": "The user wants weather.", "signature": SIG},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 30},
}

ANTHROPIC_SSE = b"".join(
    f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()
    for data in [
        {"type": "message_start", "message": {**ANTHROPIC_MESSAGE, "content": []}},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "The user "},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "wants weather."},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": SIG},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "text", "text": ""},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "text_delta", "text": "Sunny."},
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 12},
        },
        {"type": "message_stop"},
    ]
)

GEMINI_RESPONSE = {
    "responseId": "r1",
    "candidates": [
        {
            "index": 0,
            "content": {
                "role": "model",
                "parts": [
                    {"text": "The user wants weather.", "thought": True},
                    {
                        "functionCall": {"name": "get_weather", "args": {"city": "Oslo"}},
                        "thoughtSignature": SIG,
                    },
                ],
            },
            "finishReason": "STOP",
        }
    ],
    "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 7, "thoughtsTokenCount": 9},
}

GEMINI_SSE = b"".join(
    b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n"
    for chunk in [
        {
            "responseId": "r2",
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": "Rain?", "thought": True}]}}
            ],
        },
        {
            "responseId": "r2",
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"text": "Sunny.", "thoughtSignature": SIG}],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2},
        },
    ]
)

OPENAI_COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "deepseek-r1",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Sunny.",
                "reasoning_content": "Look at the sky.",
            },
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12},
}

OPENAI_SSE = (
    b"".join(
        b"data: " + json.dumps(chunk).encode() + b"\n\n"
        for chunk in [
            {
                "id": "chatcmpl-2",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "qwq",
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "reasoning_content": "Look "}}
                ],
            },
            {
                "id": "chatcmpl-2",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "qwq",
                "choices": [{"index": 0, "delta": {"reasoning_content": "up."}}],
            },
            {
                "id": "chatcmpl-2",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "qwq",
                "choices": [{"index": 0, "delta": {"content": "Sunny."}, "finish_reason": "stop"}],
            },
            {
                "id": "chatcmpl-2",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "qwq",
                "choices": [],
                "usage": {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12},
            },
        ]
    )
    + b"data: [DONE]\n\n"
)


def converted(client: str, provider: str, raw: bytes, include_usage: bool = True) -> bytes:
    stream = get_converter(client, provider).stream(model="alias", include_usage=include_usage)  # type: ignore[arg-type]
    decoder = SSEDecoder()
    events = [*decoder.feed(raw), *decoder.close()]
    return b"".join(stream.feed(e) for e in events) + stream.close()


def response(client: str, provider: str, body: dict[str, Any]) -> dict[str, Any]:
    return get_converter(client, provider).response(body, model="alias")  # type: ignore[arg-type]


def serve(body: bytes | dict[str, Any]) -> httpx2.Client:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if isinstance(body, bytes):
            return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=body)

    return httpx2.Client(transport=httpx2.MockTransport(handler))


def anthropic_client(body: bytes | dict[str, Any]) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="k", base_url="http://junction", http_client=serve(body))


def openai_client(body: bytes | dict[str, Any]) -> openai.OpenAI:
    return openai.OpenAI(api_key="k", base_url="http://junction/v1", http_client=serve(body))


def gemini_chunks(raw: bytes) -> list[gemini_types.GenerateContentResponse]:
    decoder = SSEDecoder()
    return [
        gemini_types.GenerateContentResponse.model_validate(json.loads(e.data))
        for e in [*decoder.feed(raw), *decoder.close()]
    ]


# -- Anthropic provider ---------------------------------------------------------------------


def test_openai_sdk_reads_anthropic_thinking_as_reasoning_content() -> None:
    body = response("openai", "anthropic", ANTHROPIC_MESSAGE)
    completion = openai_client(body).chat.completions.create(model="alias", messages=USER)  # type: ignore[arg-type]
    extra = completion.choices[0].message.model_extra or {}
    assert extra["reasoning_content"] == "The user wants weather."
    assert extra["thinking_blocks"] == [
        {"type": "thinking", "thinking": "The user wants weather.", "signature": SIG}
    ]


def test_openai_sdk_streams_anthropic_thinking_and_its_signature() -> None:
    raw = converted("openai", "anthropic", ANTHROPIC_SSE)
    stream = openai_client(raw).chat.completions.create(model="alias", messages=USER, stream=True)  # type: ignore[arg-type]
    deltas = [c.choices[0].delta.model_extra or {} for c in stream if c.choices]
    reasoning = "".join(d.get("reasoning_content") or "" for d in deltas)
    signatures = [b["signature"] for d in deltas for b in d.get("thinking_blocks") or []]
    assert reasoning == "The user wants weather."
    assert signatures == [SIG]


def test_openai_client_replays_signed_thinking_to_anthropic_in_a_tool_loop() -> None:
    first = response("openai", "anthropic", ANTHROPIC_MESSAGE)["choices"][0]["message"]
    history = [
        *USER,
        first,
        {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
    ]
    body = {"messages": history, "reasoning_effort": "low"}
    out = get_converter("openai", "anthropic").request(body, upstream_model="c", stream=False)
    assistant = out["messages"][1]["content"]
    assert assistant[0] == {
        "type": "thinking",
        "thinking": "The user wants weather.",
        "signature": SIG,
    }
    assert [b["type"] for b in assistant] == ["thinking", "text", "tool_use"]


def test_gemini_client_gets_anthropic_thinking_as_signed_thought_parts() -> None:
    body = response("gemini", "anthropic", ANTHROPIC_MESSAGE)
    parsed = gemini_types.GenerateContentResponse.model_validate(body)
    part = parsed.candidates[0].content.parts[0]  # type: ignore[index,union-attr]
    assert (part.thought, part.text) == (True, "The user wants weather.")
    assert part.thought_signature == base64.b64decode(SIG)
    assert parsed.candidates[0].content.parts[1].text == "Checking."  # type: ignore[index,union-attr]


def test_gemini_client_streams_anthropic_thinking_with_its_signature() -> None:
    chunks = gemini_chunks(converted("gemini", "anthropic", ANTHROPIC_SSE))
    parts = [p for c in chunks for p in (c.candidates or [])[0].content.parts or []]  # type: ignore[union-attr]
    thoughts = "".join(p.text or "" for p in parts if p.thought)
    assert thoughts == "The user wants weather."
    assert [p.thought_signature for p in parts if p.thought_signature] == [base64.b64decode(SIG)]
    assert "".join(p.text or "" for p in parts if not p.thought) == "Sunny."


def test_gemini_client_replays_anthropic_thinking_back_as_a_signed_block() -> None:
    model_turn = response("gemini", "anthropic", ANTHROPIC_MESSAGE)["candidates"][0]["content"]
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Oslo?"}]},
            model_turn,
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "get_weather", "response": {"t": 20}}}],
            },
        ],
        "generationConfig": {"thinkingConfig": {"thinkingBudget": 2048}},
    }
    out = get_converter("gemini", "anthropic").request(body, upstream_model="c", stream=False)
    assistant = out["messages"][1]["content"]
    assert assistant[0] == {
        "type": "thinking",
        "thinking": "The user wants weather.",
        "signature": SIG,
    }
    assert assistant[-1]["type"] == "tool_use"
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 2048}


# -- Gemini provider ------------------------------------------------------------------------


def test_anthropic_sdk_reads_gemini_thoughts_as_a_signed_thinking_block() -> None:
    body = response("anthropic", "gemini", GEMINI_RESPONSE)
    message = anthropic_client(body).messages.create(model="alias", max_tokens=9, messages=USER)  # type: ignore[arg-type]
    assert isinstance(message, Message)
    thinking = message.content[0]
    assert isinstance(thinking, ThinkingBlock)
    assert (thinking.thinking, thinking.signature) == ("The user wants weather.", SIG)
    assert message.content[1].type == "tool_use"
    assert message.stop_reason == "tool_use"


def test_anthropic_sdk_accumulates_a_gemini_thought_stream_with_its_signature() -> None:
    raw = converted("anthropic", "gemini", GEMINI_SSE)
    with anthropic_client(raw).messages.stream(
        model="alias",
        max_tokens=4000,
        messages=USER,  # type: ignore[arg-type]
    ) as stream:
        message = stream.get_final_message()
    thinking = message.content[0]
    assert isinstance(thinking, ThinkingBlock)
    assert (thinking.thinking, thinking.signature) == ("Rain?", SIG)
    assert message.content[1].type == "text"
    assert message.content[1].text == "Sunny."


def test_anthropic_client_replays_gemini_thinking_onto_the_function_call() -> None:
    first = response("anthropic", "gemini", GEMINI_RESPONSE)
    body = {
        "model": "alias",
        "max_tokens": 4000,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "messages": [
            *USER,
            {"role": "assistant", "content": first["content"]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": first["content"][1]["id"],
                        "content": "sunny",
                    }
                ],
            },
        ],
    }
    out = get_converter("anthropic", "gemini").request(body, upstream_model="g", stream=False)
    parts = out["contents"][1]["parts"]
    assert parts[0] == {"text": "The user wants weather.", "thought": True}
    call = next(p for p in parts if "functionCall" in p)
    assert call["thoughtSignature"] == SIG  # where Gemini looks for it
    parsed = gemini_types.GenerateContentConfig.model_validate(out["generationConfig"])
    assert parsed.thinking_config.thinking_budget == 2000  # type: ignore[union-attr]


def test_openai_sdk_reads_gemini_thoughts_as_reasoning_content() -> None:
    body = response("openai", "gemini", GEMINI_RESPONSE)
    completion = openai_client(body).chat.completions.create(model="alias", messages=USER)  # type: ignore[arg-type]
    message = completion.choices[0].message
    extra = message.model_extra or {}
    assert extra["reasoning_content"] == "The user wants weather."
    assert extra["thinking_blocks"][0]["signature"] == SIG
    assert message.tool_calls is not None
    assert message.tool_calls[0].model_extra == {
        "extra_content": {"google": {"thought_signature": SIG}}
    }


def test_openai_sdk_streams_gemini_thoughts_as_reasoning_content() -> None:
    raw = converted("openai", "gemini", GEMINI_SSE)
    stream = openai_client(raw).chat.completions.create(model="alias", messages=USER, stream=True)  # type: ignore[arg-type]
    deltas = [c.choices[0].delta for c in stream if c.choices]
    assert "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas) == "Rain?"
    assert "".join(d.content or "" for d in deltas) == "Sunny."


# -- OpenAI(-compatible) provider -----------------------------------------------------------


def test_anthropic_sdk_reads_reasoning_content_as_thinking() -> None:
    body = response("anthropic", "openai", OPENAI_COMPLETION)
    message = anthropic_client(body).messages.create(model="alias", max_tokens=9, messages=USER)  # type: ignore[arg-type]
    thinking = message.content[0]
    assert isinstance(thinking, ThinkingBlock)
    assert thinking.thinking == "Look at the sky."
    assert message.content[1].type == "text"


def test_anthropic_sdk_accumulates_streamed_reasoning_content_as_thinking() -> None:
    raw = converted("anthropic", "openai", OPENAI_SSE)
    with anthropic_client(raw).messages.stream(
        model="alias",
        max_tokens=100,
        messages=USER,  # type: ignore[arg-type]
    ) as stream:
        message = stream.get_final_message()
    assert isinstance(message.content[0], ThinkingBlock)
    assert message.content[0].thinking == "Look up."
    assert message.content[1].text == "Sunny."  # type: ignore[union-attr]


def test_gemini_client_gets_reasoning_content_as_thought_parts() -> None:
    parsed = gemini_types.GenerateContentResponse.model_validate(
        response("gemini", "openai", OPENAI_COMPLETION)
    )
    parts = parsed.candidates[0].content.parts  # type: ignore[index,union-attr]
    assert [(p.thought, p.text) for p in parts] == [(True, "Look at the sky."), (None, "Sunny.")]  # type: ignore[union-attr]
    streamed = gemini_chunks(converted("gemini", "openai", OPENAI_SSE))
    thoughts = [
        p.text
        for c in streamed
        for cand in c.candidates or []
        for p in (cand.content.parts if cand.content else None) or []
        if p.thought
    ]
    assert "".join(t or "" for t in thoughts) == "Look up."


def test_anthropic_thinking_is_not_sent_to_an_openai_provider() -> None:
    body = {
        "model": "alias",
        "max_tokens": 4000,
        "messages": [*USER, {"role": "assistant", "content": ANTHROPIC_MESSAGE["content"]}],
    }
    out = get_converter("anthropic", "openai").request(body, upstream_model="o", stream=False)
    assert "thinking_blocks" not in out["messages"][1]
    assert out["messages"][1]["content"] == "Checking."
