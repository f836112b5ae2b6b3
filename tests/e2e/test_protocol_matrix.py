"""The protocol matrix through Caddy with the official SDKs.

{OpenAI client, Anthropic client} x {openai, anthropic, gemini provider} x
{plain, streaming, tool call, streamed tool call}: the text, the tool name and
arguments, the finish reason and the usage the client sees equal what the
mock provider sends when asked directly in its own protocol.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

from tests.support.normalize import FINISH, WEATHER_SCHEMA, Answer, direct
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

PROVIDERS = {
    "openai": ("demo", "mock-gpt"),
    "anthropic": ("demo-claude", "mock-claude"),
    "gemini": ("demo-gemini", "mock-gemini"),
}
CASES = ["plain", "stream", "tool", "stream-tool"]


def _prompt(case: str) -> str:
    return "What is the weather in Paris?" if "tool" in case else "Tell me about gateways"


def via_openai(stack: Stack, model: str, case: str) -> Answer:
    client = openai.OpenAI(
        base_url=f"{stack.public_url}/v1", api_key=stack.demo_token, max_retries=0
    )
    kwargs: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": _prompt(case)}],
    }
    if "tool" in case:
        kwargs["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather",
                    "parameters": WEATHER_SCHEMA,
                },
            }
        ]
    if not case.startswith("stream"):
        r = client.chat.completions.create(**kwargs)
        return Answer(
            text=r.choices[0].message.content or "",
            tools=[
                (c.function.name, json.loads(c.function.arguments))  # type: ignore[union-attr]
                for c in r.choices[0].message.tool_calls or []
            ],
            finish=FINISH[r.choices[0].finish_reason],
            input_tokens=r.usage.prompt_tokens if r.usage else -1,
            output_tokens=r.usage.completion_tokens if r.usage else -1,
        )
    answer = Answer()
    calls: dict[int, list[str]] = {}
    for chunk in client.chat.completions.create(
        stream=True, stream_options={"include_usage": True}, **kwargs
    ):
        if chunk.usage is not None:
            answer.input_tokens = chunk.usage.prompt_tokens
            answer.output_tokens = chunk.usage.completion_tokens
        for choice in chunk.choices:
            answer.text += choice.delta.content or ""
            for tc in choice.delta.tool_calls or []:
                slot = calls.setdefault(tc.index, ["", ""])
                if tc.function and tc.function.name:
                    slot[0] += tc.function.name
                if tc.function and tc.function.arguments:
                    slot[1] += tc.function.arguments
            if choice.finish_reason:
                answer.finish = FINISH[choice.finish_reason]
    answer.tools = [(name, json.loads(args)) for _, (name, args) in sorted(calls.items())]
    return answer


def via_anthropic(stack: Stack, model: str, case: str) -> Answer:
    client = anthropic.Anthropic(base_url=stack.public_url, api_key=stack.demo_token, max_retries=0)
    kwargs: dict[str, Any] = {
        "model": model,
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": _prompt(case)}],
    }
    if "tool" in case:
        kwargs["tools"] = [
            {"name": "get_weather", "description": "Weather", "input_schema": WEATHER_SCHEMA}
        ]
    if case.startswith("stream"):
        with client.messages.stream(**kwargs) as stream:
            message = stream.get_final_message()
    else:
        message = client.messages.create(**kwargs)
    return Answer(
        text="".join(b.text for b in message.content if b.type == "text"),
        tools=[(b.name, dict(b.input)) for b in message.content if b.type == "tool_use"],  # type: ignore[arg-type]
        finish=FINISH[message.stop_reason or ""],
        input_tokens=message.usage.input_tokens,
        output_tokens=message.usage.output_tokens,
    )


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("client", ["openai", "anthropic"])
def test_matrix(stack: Stack, client: str, provider: str, case: str) -> None:
    model, upstream = PROVIDERS[provider]
    expected = direct(
        stack.mock_url, stack.mock_key, provider, upstream, _prompt(case), tools="tool" in case
    )
    got = (via_openai if client == "openai" else via_anthropic)(stack, model, case)
    if "tool" in case:
        assert expected.tools, "the mock should call the tool"
    assert got.text == expected.text
    assert got.tools == expected.tools
    assert got.finish == expected.finish
    assert (got.input_tokens, got.output_tokens) == (expected.input_tokens, expected.output_tokens)
