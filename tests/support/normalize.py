"""One shape for answers of every protocol, so a matrix test can compare them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

FINISH = {
    # OpenAI words are the common vocabulary
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "STOP": "stop",
    "MAX_TOKENS": "length",
}


@dataclass
class Answer:
    text: str = ""
    tools: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finish: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0


def from_openai(body: dict[str, Any]) -> Answer:
    choice = body["choices"][0]
    msg = choice["message"]
    return Answer(
        text=msg.get("content") or "",
        tools=[
            (c["function"]["name"], json.loads(c["function"]["arguments"]))
            for c in msg.get("tool_calls") or []
        ],
        finish=FINISH[choice["finish_reason"]],
        input_tokens=body["usage"]["prompt_tokens"],
        output_tokens=body["usage"]["completion_tokens"],
    )


def from_anthropic(body: dict[str, Any]) -> Answer:
    return Answer(
        text="".join(b["text"] for b in body["content"] if b["type"] == "text"),
        tools=[(b["name"], b["input"]) for b in body["content"] if b["type"] == "tool_use"],
        finish=FINISH[body["stop_reason"]],
        input_tokens=body["usage"]["input_tokens"],
        output_tokens=body["usage"]["output_tokens"],
    )


def from_gemini(body: dict[str, Any]) -> Answer:
    cand = body["candidates"][0]
    parts = cand["content"]["parts"]
    tools = [
        (p["functionCall"]["name"], p["functionCall"].get("args", {}))
        for p in parts
        if "functionCall" in p
    ]
    finish = FINISH[cand["finishReason"]]
    if tools and finish == "stop":
        finish = "tool_calls"  # Gemini says STOP when it calls functions
    meta = body["usageMetadata"]
    return Answer(
        text="".join(p.get("text", "") for p in parts if not p.get("thought")),
        tools=tools,
        finish=finish,
        input_tokens=meta.get("promptTokenCount", 0),
        output_tokens=meta.get("candidatesTokenCount", 0) + meta.get("thoughtsTokenCount", 0),
    )


WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City name"}},
    "required": ["city"],
}


def direct(
    mock_url: str, key: str, provider: str, upstream: str, prompt: str, *, tools: bool
) -> Answer:
    """Ask the mock provider directly, in its own protocol, what it answers."""
    if provider == "openai":
        body: dict[str, Any] = {
            "model": upstream,
            "messages": [{"role": "user", "content": prompt}],
        }
        if tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "description": "Weather",
                        "parameters": WEATHER_SCHEMA,
                    },
                }
            ]
        r = httpx.post(
            f"{mock_url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
        )
        r.raise_for_status()
        return from_openai(r.json())
    if provider == "anthropic":
        body = {
            "model": upstream,
            "max_tokens": 1024,
            "messages": [{"role": "user", "content": prompt}],
        }
        if tools:
            body["tools"] = [
                {"name": "get_weather", "description": "Weather", "input_schema": WEATHER_SCHEMA}
            ]
        r = httpx.post(
            f"{mock_url}/v1/messages",
            json=body,
            headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
        )
        r.raise_for_status()
        return from_anthropic(r.json())
    body = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
    if tools:
        body["tools"] = [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Weather",
                        "parametersJsonSchema": WEATHER_SCHEMA,
                    }
                ]
            }
        ]
    r = httpx.post(
        f"{mock_url}/v1beta/models/{upstream}:generateContent",
        json=body,
        headers={"x-goog-api-key": key},
    )
    r.raise_for_status()
    return from_gemini(r.json())
