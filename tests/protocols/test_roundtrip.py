"""Property: OpenAI → Anthropic → OpenAI keeps text, tool calls, arguments and usage."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from junction_protocols.anthropic_openai import (
    anthropic_request_to_openai,
    openai_response_to_anthropic,
)
from junction_protocols.anthropic_openai_stream import OpenAIStreamToAnthropic
from junction_protocols.openai_anthropic import (
    anthropic_response_to_openai,
    openai_request_to_anthropic,
)
from junction_protocols.openai_anthropic_stream import AnthropicStreamToOpenAI

texts = st.text(min_size=1, max_size=40)
names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,20}", fullmatch=True)
ids = st.from_regex(r"call_[A-Za-z0-9]{1,12}", fullmatch=True)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**9), 10**9)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
arguments = st.dictionaries(st.text(max_size=10), json_values, max_size=4)


@st.composite
def tool_calls(draw: st.DrawFn) -> list[dict[str, Any]]:
    call_ids = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
    return [
        {
            "id": call_id,
            "type": "function",
            "function": {"name": draw(names), "arguments": json.dumps(draw(arguments))},
        }
        for call_id in call_ids
    ]


@st.composite
def conversations(draw: st.DrawFn) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(texts)})
    for _ in range(draw(st.integers(1, 4))):
        messages.append({"role": "user", "content": draw(texts)})
        assistant: dict[str, Any] = {"role": "assistant", "content": draw(st.none() | texts)}
        calls = draw(st.none() | tool_calls())
        if calls:
            assistant["tool_calls"] = calls
        if assistant["content"] is None and not calls:
            assistant["content"] = draw(texts)
        messages.append(assistant)
        for call in calls or []:
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": draw(texts)})
    return messages


def flatten(messages: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What a model reads from a conversation, independent of message grouping."""
    out: list[tuple[Any, ...]] = []
    for message in messages:
        role, content = message["role"], message.get("content")
        parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
        if role == "tool":
            out.append(("tool", message["tool_call_id"], content))
            continue
        out += [(role, p["text"]) for p in parts if p.get("text")]
        for call in message.get("tool_calls") or []:
            function = call["function"]
            out.append((role, call["id"], function["name"], json.loads(function["arguments"])))
    return out


@settings(max_examples=150, deadline=None)
@given(conversations(), st.booleans())
def test_request_round_trip_keeps_text_tool_calls_and_results(
    messages: list[dict[str, Any]], parallel: bool
) -> None:
    tools = [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}},
    ]
    body = {
        "model": "m",
        "messages": messages,
        "tools": tools,
        "tool_choice": "required",
        "parallel_tool_calls": parallel,
        "max_completion_tokens": 99,
        "stop": ["X"],
    }
    anthropic = openai_request_to_anthropic(body, upstream_model="claude")
    back = anthropic_request_to_openai(anthropic, upstream_model="gpt")
    assert flatten(back["messages"]) == flatten(messages)
    assert back["tools"] == tools
    assert back["tool_choice"] == "required"
    assert back.get("parallel_tool_calls", True) is parallel
    assert back["max_completion_tokens"] == 99
    assert back["stop"] == ["X"]


@st.composite
def completions(draw: st.DrawFn) -> dict[str, Any]:
    calls = draw(st.none() | tool_calls())
    content = draw(st.none() | texts) if calls else draw(texts)
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    prompt = draw(st.integers(0, 10**6))
    completion = draw(st.integers(0, 10**6))
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    cached = draw(st.integers(0, prompt))
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    finish = "tool_calls" if calls else draw(st.sampled_from(["stop", "length", "content_filter"]))
    return {
        "id": "chatcmpl-" + draw(st.from_regex(r"[A-Za-z0-9]{1,20}", fullmatch=True)),
        "object": "chat.completion",
        "created": 1,
        "model": "gpt",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage,
    }


@settings(max_examples=150, deadline=None)
@given(completions())
def test_response_round_trip_keeps_text_tool_calls_usage_and_finish(body: dict[str, Any]) -> None:
    back = anthropic_response_to_openai(
        openai_response_to_anthropic(body, model="alias"), model="alias", created=1
    )
    assert back["id"] == body["id"]
    original, result = body["choices"][0], back["choices"][0]
    assert result["finish_reason"] == original["finish_reason"]
    assert flatten([result["message"]]) == flatten([original["message"]])
    assert back["usage"] == body["usage"]


@settings(max_examples=100, deadline=None)
@given(completions(), st.integers(1, 7))
def test_stream_round_trip_keeps_text_tool_arguments_and_usage(
    body: dict[str, Any], piece: int
) -> None:
    """OpenAI chunks → Anthropic events → OpenAI chunks, arguments cut in ``piece``-size bits."""
    message = body["choices"][0]["message"]
    chunks: list[dict[str, Any]] = []
    if message.get("content"):
        chunks.append(
            {"id": body["id"], "choices": [{"index": 0, "delta": {"content": message["content"]}}]}
        )
    for index, call in enumerate(message.get("tool_calls") or []):
        args = call["function"]["arguments"]
        first = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        chunks.append(
            {"id": body["id"], "choices": [{"index": 0, "delta": {"tool_calls": [first]}}]}
        )
        for i in range(0, len(args), piece):
            bit = {"index": index, "function": {"arguments": args[i : i + piece]}}
            chunks.append(
                {"id": body["id"], "choices": [{"index": 0, "delta": {"tool_calls": [bit]}}]}
            )
    chunks.append(
        {
            "id": body["id"],
            "choices": [
                {"index": 0, "delta": {}, "finish_reason": body["choices"][0]["finish_reason"]}
            ],
        }
    )
    chunks.append({"id": body["id"], "choices": [], "usage": body["usage"]})

    to_anthropic = OpenAIStreamToAnthropic("alias")
    events = [e for c in chunks for e in to_anthropic.feed(c)] + to_anthropic.close()
    to_openai = AnthropicStreamToOpenAI("alias", include_usage=True, created=1)
    out = [c for name, data in events for c in to_openai.feed(name, data)] + to_openai.close()

    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in out if c["choices"])
    assert text == (message.get("content") or "")
    calls: dict[int, dict[str, str]] = {}
    for c in out:
        for delta_call in (
            (c["choices"][0]["delta"].get("tool_calls") or []) if c["choices"] else []
        ):
            entry = calls.setdefault(delta_call["index"], {"id": "", "name": "", "arguments": ""})
            entry["id"] = delta_call.get("id") or entry["id"]
            entry["name"] = delta_call.get("function", {}).get("name") or entry["name"]
            entry["arguments"] += delta_call.get("function", {}).get("arguments") or ""
    expected = [
        {
            "id": c["id"],
            "name": c["function"]["name"],
            "arguments": json.loads(c["function"]["arguments"]),
        }
        for c in message.get("tool_calls") or []
    ]
    got = [{**calls[i], "arguments": json.loads(calls[i]["arguments"])} for i in sorted(calls)]
    assert got == expected
    assert out[-1]["usage"] == body["usage"]
    assert to_openai.finish_reason == body["choices"][0]["finish_reason"]
