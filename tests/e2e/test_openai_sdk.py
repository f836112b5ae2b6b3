"""The official `openai` SDK through Caddy, the engine and the control plane, to the mock."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

HELLO = [{"role": "user", "content": "Hello, gateway"}]


def client(stack: Stack, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{stack.public_url}/v1", api_key=key or stack.demo_token, max_retries=0
    )


def direct(stack: Stack, **body: object) -> httpx.Response:
    """The same request sent straight to the mock provider, for comparison."""
    return httpx.post(
        f"{stack.mock_url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {stack.mock_key}"},
        timeout=10,
    )


def test_plain_completion_returns_the_providers_reply(stack: Stack) -> None:
    reply = client(stack).chat.completions.create(model="demo", messages=HELLO)  # type: ignore[arg-type]
    expected = direct(stack, model="mock-gpt", messages=HELLO).json()
    assert reply.choices[0].message.content == expected["choices"][0]["message"]["content"]
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == expected["usage"]["prompt_tokens"]
    assert reply.usage.completion_tokens == expected["usage"]["completion_tokens"]


def test_streamed_completion_reassembles_the_providers_reply(stack: Stack) -> None:
    chunks = list(client(stack).chat.completions.create(model="demo", messages=HELLO, stream=True))  # type: ignore[arg-type]
    # every chunk has a choice: the usage chunk the gateway asked for is not leaked
    assert all(c.choices for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    expected = direct(stack, model="mock-gpt", messages=HELLO).json()
    assert text == expected["choices"][0]["message"]["content"]
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_streamed_completion_with_usage_when_asked(stack: Stack) -> None:
    chunks = list(
        client(stack).chat.completions.create(
            model="demo",
            messages=HELLO,
            stream=True,  # type: ignore[arg-type]
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_models_lists_what_the_key_may_call(stack: Stack) -> None:
    ids = [m.id for m in client(stack).models.list()]
    # the configured names first, then the direct provider/model name of each deployment
    assert sorted(ids[:6]) == ["cut", "cut-claude", "demo", "demo-claude", "demo-gemini", "flaky"]
    assert {"mock-openai/mock-gpt", "mock-anthropic/mock-claude", "mock-gemini/mock-gemini"} <= set(
        ids[6:]
    )


def test_bad_key_is_refused_with_openai_error(stack: Stack) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        client(stack, key="jk-not-a-real-key").chat.completions.create(model="demo", messages=HELLO)  # type: ignore[arg-type]
    assert info.value.status_code == 401
    assert info.value.code == "invalid_api_key"


def test_unknown_model_is_404(stack: Stack) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client(stack).chat.completions.create(model="nope", messages=HELLO)  # type: ignore[arg-type]
    assert info.value.code == "model_not_found"


def test_failing_deployment_fails_over_to_the_next_priority(stack: Stack) -> None:
    reply = client(stack).chat.completions.create(model="flaky", messages=HELLO)  # type: ignore[arg-type]
    expected = direct(stack, model="mock-gpt-backup", messages=HELLO).json()
    assert reply.choices[0].message.content == expected["choices"][0]["message"]["content"]


def test_caddy_routes_api_and_console_and_hides_internal(stack: Stack) -> None:
    base = stack.public_url
    assert httpx.get(f"{base}/api/v1/health").json()["status"] == "ok"
    page = httpx.get(f"{base}/")
    assert page.status_code == 200
    assert "<title>Junction" in page.text
    internal = httpx.post(f"{base}/internal/v1/route/resolve", json={"token_hash": "0" * 64})
    assert internal.status_code == 404
