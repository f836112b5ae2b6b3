"""OpenAI legacy completions client → Chat Completions: request, response and stream."""

# Literal wire text (SSE lines, JSON bodies) is kept verbatim, whatever its length.
# ruff: noqa: E501

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
import pytest

from junction_protocols.completions_chat import (
    chat_response_to_completion,
    completions_request_to_chat,
)
from junction_protocols.completions_chat_stream import ChatStreamToCompletions
from junction_protocols.errors import ConversionError
from junction_protocols.reshaped_stream import ChatSSEReshaper
from junction_protocols.sse import SSEDecoder


def test_a_prompt_becomes_one_user_message_with_the_documented_default_limit() -> None:
    assert completions_request_to_chat({"model": "m", "prompt": "Say hi"}) == {
        "model": "m",
        "messages": [{"role": "user", "content": "Say hi"}],
        "max_tokens": 16,
    }


def test_a_list_of_one_prompt_and_the_sampling_fields_are_kept() -> None:
    out = completions_request_to_chat(
        {
            "model": "m",
            "prompt": ["Say hi"],
            "max_tokens": 40,
            "temperature": 0.1,
            "stop": ["\n"],
            "n": 2,
            "stream": True,
            "stream_options": {"include_usage": True},
            "user": "u",
        }
    )
    assert out == {
        "model": "m",
        "messages": [{"role": "user", "content": "Say hi"}],
        "max_tokens": 40,
        "temperature": 0.1,
        "n": 2,
        "stop": ["\n"],
        "user": "u",
        "stream_options": {"include_usage": True},
        "stream": True,
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": ["a", "b"]}, "prompt"),
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": "a", "suffix": "z"}, "suffix"),
        ({"prompt": "a", "echo": True}, "echo"),
        ({"prompt": "a", "logprobs": 2}, "logprobs"),
        ({"prompt": "a", "best_of": 3}, "best_of"),
    ],
)
def test_what_chat_cannot_express_is_refused(body: dict[str, Any], param: str) -> None:
    with pytest.raises(ConversionError) as info:
        completions_request_to_chat({"model": "m", **body})
    assert info.value.param == param


def test_a_chat_answer_becomes_a_text_completion() -> None:
    chat = json.loads(
        """{"id": "chatcmpl-Xy9", "object": "chat.completion", "created": 17, "model": "claude-x",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "length"},
                    {"index": 1, "message": {"role": "assistant", "content": null, "tool_calls": []}, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}"""
    )
    assert chat_response_to_completion(chat, model="alias") == {
        "id": "cmpl-Xy9",
        "object": "text_completion",
        "created": 17,
        "model": "alias",
        "choices": [
            {"text": "Hi!", "index": 0, "logprobs": None, "finish_reason": "length"},
            {"text": "", "index": 1, "logprobs": None, "finish_reason": "stop"},
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


CHAT_SSE = b"""data: {"id":"chatcmpl-S1","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

data: {"id":"chatcmpl-S1","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}

data: {"id":"chatcmpl-S1","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}

data: {"id":"chatcmpl-S1","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

data: {"id":"chatcmpl-S1","object":"chat.completion.chunk","created":5,"model":"m","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}

data: [DONE]

"""


def reshaped(raw: bytes) -> bytes:
    reshaper = ChatSSEReshaper(ChatStreamToCompletions("alias"), ends_with_done=True)
    return (
        b"".join(reshaper.feed_bytes(raw[i : i + 9]) for i in range(0, len(raw), 9))
        + reshaper.end()
    )


def test_a_chat_stream_becomes_text_completion_chunks_then_done() -> None:
    decoder = SSEDecoder()
    data = [e.data for e in decoder.feed(reshaped(CHAT_SSE)) + decoder.close()]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(
        c["object"] == "text_completion" and c["id"] == "cmpl-S1" and c["model"] == "alias"
        for c in chunks
    )
    assert [c["choices"] for c in chunks] == [
        [{"text": "Hel", "index": 0, "logprobs": None, "finish_reason": None}],
        [{"text": "lo", "index": 0, "logprobs": None, "finish_reason": None}],
        [{"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}],
        [],
    ]
    assert chunks[-1]["usage"] == {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}


def test_a_failed_chat_stream_ends_with_the_openai_error_chunk() -> None:
    failed = CHAT_SSE[
        : CHAT_SSE.index(
            b'data: {"id":"chatcmpl-S1","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{},'
        )
    ]
    failed += b'data: {"error":{"message":"broke off","type":"api_error","param":null,"code":"upstream_error"}}\n\n'
    out = reshaped(failed)
    assert out.endswith(
        b'data: {"error":{"message":"broke off","type":"api_error","param":null,"code":"upstream_error"}}\n\n'
    )
    assert b"[DONE]" not in out


def _sdk(raw: bytes, *, sse: bool) -> openai.OpenAI:
    def handler(request: httpx2.Request) -> httpx2.Response:
        kind = "text/event-stream" if sse else "application/json"
        return httpx2.Response(200, content=raw, headers={"content-type": kind})

    return openai.OpenAI(
        api_key="test",
        base_url="http://junction/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def test_the_sdk_reads_the_converted_stream_and_answer() -> None:
    chunks = list(
        _sdk(reshaped(CHAT_SSE), sse=True).completions.create(
            model="alias", prompt="Hi", stream=True
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Hello"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 6
    chat = {
        "id": "chatcmpl-1",
        "created": 1,
        "choices": [{"index": 0, "message": {"content": "Hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    body = json.dumps(chat_response_to_completion(chat, model="alias")).encode()
    completion = _sdk(body, sse=False).completions.create(model="alias", prompt="Hi")
    assert completion.choices[0].text == "Hi"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 1
