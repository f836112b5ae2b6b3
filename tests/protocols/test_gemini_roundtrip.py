"""Round trips through Gemini keep what the client said: text, tool calls, arguments, usage."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from junction_protocols.gemini_openai import (
    OpenAIStreamToGemini,
    gemini_request_to_openai,
    openai_response_to_gemini,
)
from junction_protocols.openai_gemini import (
    GeminiStreamToOpenAI,
    gemini_response_to_openai,
    openai_request_to_gemini,
)

texts = st.text(min_size=1, max_size=30)
names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,15}", fullmatch=True)
scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=10)
json_values = st.recursive(
    scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
arguments = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
counts = st.integers(0, 10_000)


@st.composite
def conversations(draw: st.DrawFn) -> list[dict[str, Any]]:
    """OpenAI messages: system prompts, user turns, assistant text and tool calls, results."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": t} for t in draw(st.lists(texts, max_size=2))
    ]
    for turn in range(draw(st.integers(1, 4))):
        messages.append({"role": "user", "content": draw(texts)})
        calls = draw(st.lists(st.tuples(names, arguments), max_size=3))
        reply = draw(st.none() | texts) if calls else draw(texts)
        assistant: dict[str, Any] = {"role": "assistant", "content": reply}
        if calls:
            assistant["tool_calls"] = [
                {
                    "id": f"call_{turn}_{k}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(args)},
                }
                for k, (name, args) in enumerate(calls)
            ]
        messages.append(assistant)
        # Results may come back in any order.
        for k in draw(st.permutations(range(len(calls)))):
            content = draw(texts | arguments.map(json.dumps))
            messages.append(
                {"role": "tool", "tool_call_id": f"call_{turn}_{k}", "content": content}
            )
    return messages


def _same_tool_content(a: str, b: str) -> bool:
    if a == b:
        return True  # also covers "NaN", which json.loads reads as a value unequal to itself
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return a == b


def _turns(messages: list[dict[str, Any]]) -> list[Any]:
    """What a conversation says, independent of tool call ids and result order."""
    turns: list[Any] = []
    positions: dict[str, int] = {}
    for msg in messages:
        if msg["role"] == "assistant":
            calls = msg.get("tool_calls") or []
            positions = {c["id"]: k for k, c in enumerate(calls)}
            signature = [
                (c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls
            ]
            turns.append(("assistant", msg["content"], signature))
        elif msg["role"] == "tool":
            turns.append(("tool", positions[msg["tool_call_id"]], msg["content"]))
        else:
            turns.append((msg["role"], msg["content"]))
    # Results of one turn are compared as a set keyed by the call they answer.
    grouped: list[Any] = []
    for turn in turns:
        if turn[0] == "tool" and grouped and isinstance(grouped[-1], dict):
            grouped[-1][turn[1]] = turn[2]
        elif turn[0] == "tool":
            grouped.append({turn[1]: turn[2]})
        else:
            grouped.append(turn)
    return grouped


@settings(max_examples=150, deadline=None)
@given(conversations(), st.lists(st.tuples(names, st.text(max_size=20)), max_size=3))
def test_openai_request_survives_a_trip_through_gemini(
    messages: list[dict[str, Any]], tools: list[tuple[str, str]]
) -> None:
    request = {
        "messages": messages,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": description or None,
                    "parameters": {"type": "object", "properties": {"x": {"type": "string"}}},
                },
            }
            for name, description in tools
        ]
        or None,
    }
    back = gemini_request_to_openai(
        openai_request_to_gemini(request), upstream_model="m", stream=False
    )

    system = [m["content"] for m in messages if m["role"] == "system"]
    rest = [m for m in messages if m["role"] != "system"]
    if system:
        head = back["messages"][0]
        assert head["role"] == "system"
        got = (
            [head["content"]]
            if isinstance(head["content"], str)
            else [p["text"] for p in head["content"]]
        )
        assert got == system
        back_rest = back["messages"][1:]
    else:
        back_rest = back["messages"]
    expected, actual = _turns(rest), _turns(back_rest)
    assert len(expected) == len(actual)
    for want, got_turn in zip(expected, actual, strict=True):
        if isinstance(want, dict):
            assert want.keys() == got_turn.keys()
            assert all(_same_tool_content(want[k], got_turn[k]) for k in want)
        else:
            assert want == got_turn
    assert [t["function"]["name"] for t in back.get("tools", [])] == [n for n, _ in tools]


@st.composite
def gemini_responses(draw: st.DrawFn) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    thought = draw(st.none() | texts)
    if thought:
        parts.append({"text": thought, "thought": True})
    parts += [{"text": t} for t in draw(st.lists(texts, max_size=3))]
    parts += [
        {"functionCall": {"name": n, "args": a}}
        for n, a in draw(st.lists(st.tuples(names, arguments), max_size=3))
    ]
    prompt, cached = draw(counts), draw(counts)
    candidates, thoughts = draw(counts), draw(counts)
    usage = {
        "promptTokenCount": prompt + cached,
        "cachedContentTokenCount": cached,
        "candidatesTokenCount": candidates,
        "thoughtsTokenCount": thoughts,
        "totalTokenCount": prompt + cached + candidates + thoughts,
    }
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": parts},
                "finishReason": draw(st.sampled_from(["STOP", "MAX_TOKENS"])),
            }
        ],
        "usageMetadata": usage,
        "responseId": draw(st.none() | st.from_regex(r"[A-Za-z0-9]{4,12}", fullmatch=True)),
    }


def _said(candidate: dict[str, Any]) -> tuple[str, str, list[Any]]:
    """(answer text, thought text, function calls) of a Gemini candidate."""
    parts = candidate["content"]["parts"]
    text = "".join(p["text"] for p in parts if "text" in p and not p.get("thought"))
    thought = "".join(p["text"] for p in parts if "text" in p and p.get("thought"))
    calls = [
        (p["functionCall"]["name"], p["functionCall"]["args"]) for p in parts if "functionCall" in p
    ]
    return text, thought, calls


def _usage(meta: dict[str, Any]) -> tuple[int, ...]:
    keys = (
        "promptTokenCount",
        "cachedContentTokenCount",
        "candidatesTokenCount",
        "thoughtsTokenCount",
    )
    return (*(int(meta.get(k, 0)) for k in keys), int(meta["totalTokenCount"]))


@settings(max_examples=150, deadline=None)
@given(gemini_responses())
def test_gemini_response_survives_a_trip_through_openai(response: dict[str, Any]) -> None:
    openai = gemini_response_to_openai(response, model="m")
    back = openai_response_to_gemini(openai, model="m")
    original, returned = response["candidates"][0], back["candidates"][0]
    assert _said(returned) == _said(original)
    assert _usage(back["usageMetadata"]) == _usage(response["usageMetadata"])
    if not _said(original)[2]:
        assert returned["finishReason"] == original["finishReason"]


@settings(max_examples=150, deadline=None)
@given(gemini_responses(), st.integers(1, 4))
def test_gemini_stream_survives_a_trip_through_openai_chunks(
    response: dict[str, Any], pieces: int
) -> None:
    # Split the response into streamed chunks: each part in its own chunk, text cut in pieces.
    candidate = response["candidates"][0]
    events: list[dict[str, Any]] = []
    for part in candidate["content"]["parts"]:
        if "text" in part:
            text, size = part["text"], max(1, len(part["text"]) // pieces)
            for start in range(0, len(text), size):
                events.append(
                    {
                        "candidates": [
                            {"content": {"parts": [{**part, "text": text[start : start + size]}]}}
                        ]
                    }
                )
        else:
            events.append({"candidates": [{"content": {"parts": [part]}}]})
    events.append(
        {
            "candidates": [
                {"content": {"parts": [{"text": ""}]}, "finishReason": candidate["finishReason"]}
            ],
            "usageMetadata": response["usageMetadata"],
        }
    )
    to_openai = GeminiStreamToOpenAI("m", include_usage=True)
    to_gemini = OpenAIStreamToGemini("m")
    returned: list[dict[str, Any]] = []
    for event in events:
        for chunk in to_openai.feed(event):
            returned += to_gemini.feed(json.loads(json.dumps(chunk)))
    for chunk in to_openai.close():
        returned += to_gemini.feed(chunk)
    returned += to_gemini.close()

    parts = [p for chunk in returned for c in chunk["candidates"] for p in c["content"]["parts"]]
    assert _said({"content": {"parts": parts}}) == _said(candidate)
    assert _usage(returned[-1]["usageMetadata"]) == _usage(response["usageMetadata"])
    assert to_gemini.usage == to_openai.usage
