"""A provider stream that breaks midway reaches the SDK as an error, never a clean end."""

from __future__ import annotations

import anthropic
import openai
import pytest

from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

HELLO = [{"role": "user", "content": "tell me a long story please"}]


def _read_all(stream: openai.Stream[object], into: list[str]) -> None:
    for chunk in stream:
        for choice in chunk.choices:  # type: ignore[attr-defined]
            into.append(choice.delta.content or "")


@pytest.mark.parametrize("model", ["cut", "cut-claude"])
def test_openai_sdk_sees_an_error_when_the_stream_breaks(stack: Stack, model: str) -> None:
    client = openai.OpenAI(
        base_url=f"{stack.public_url}/v1", api_key=stack.demo_token, max_retries=0
    )
    received: list[str] = []
    stream = client.chat.completions.create(model=model, messages=HELLO, stream=True)  # type: ignore[arg-type]
    with pytest.raises(openai.APIError) as info:
        _read_all(stream, received)
    assert "".join(received), "the stream should break after some text, not before"
    assert "broke off" in str(info.value) or "ended before" in str(info.value)


@pytest.mark.parametrize("model", ["cut", "cut-claude"])
def test_anthropic_sdk_sees_an_error_when_the_stream_breaks(stack: Stack, model: str) -> None:
    client = anthropic.Anthropic(base_url=stack.public_url, api_key=stack.demo_token, max_retries=0)
    with (
        pytest.raises(anthropic.APIError),
        client.messages.stream(
            model=model,
            max_tokens=256,
            messages=HELLO,  # type: ignore[arg-type]
        ) as stream,
    ):
        for _ in stream.text_stream:
            pass
