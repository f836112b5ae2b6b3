"""Faults and delays, set by model-name directive or x-mock-* header, for every provider.

Connection-level faults (timeout, cut, ttfb) run against a real uvicorn server:
the in-process transport buffers whole responses.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from .wire import ANTHROPIC_HEADERS, GEMINI_HEADERS, OPENAI_HEADERS, sse_events


def openai_request(model: str, stream: bool = False) -> dict[str, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": "hi there"}], "stream": stream}
    return {"url": "/v1/chat/completions", "headers": OPENAI_HEADERS, "json": body}


def anthropic_request(model: str, stream: bool = False) -> dict[str, Any]:
    body = {
        "model": model,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi there"}],
        "stream": stream,
    }
    return {"url": "/v1/messages", "headers": ANTHROPIC_HEADERS, "json": body}


def gemini_request(model: str, stream: bool = False) -> dict[str, Any]:
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi there"}]}]}
    return {"url": f"/v1beta/models/{model}:{method}", "headers": GEMINI_HEADERS, "json": body}


PROVIDERS = {
    "openai": (openai_request, "gpt-mock"),
    "anthropic": (anthropic_request, "claude-mock"),
    "gemini": (gemini_request, "gemini-mock"),
}


def error_kind(provider: str, body: dict[str, Any]) -> str:
    """The provider's error category: OpenAI type, Anthropic type, Gemini status."""
    if provider == "anthropic":
        assert body["type"] == "error"
        return str(body["error"]["type"])
    if provider == "gemini":
        return str(body["error"]["status"])
    return str(body["error"]["type"])


@pytest.mark.parametrize(
    ("provider", "fault", "status", "kind"),
    [
        ("openai", "500", 500, "server_error"),
        ("anthropic", "500", 500, "api_error"),
        ("gemini", "500", 500, "INTERNAL"),
        ("openai", "overloaded", 503, "server_error"),
        ("anthropic", "overloaded", 529, "overloaded_error"),
        ("gemini", "overloaded", 503, "UNAVAILABLE"),
        ("openai", "badkey", 401, "invalid_request_error"),
        ("anthropic", "badkey", 401, "authentication_error"),
        ("gemini", "badkey", 401, "UNAUTHENTICATED"),
        ("anthropic", "404", 404, "not_found_error"),
        ("gemini", "403", 403, "PERMISSION_DENIED"),
    ],
)
async def test_model_name_faults_answer_in_the_provider_error_format(
    client: httpx.AsyncClient, provider: str, fault: str, status: int, kind: str
) -> None:
    """OpenAI https://platform.openai.com/docs/guides/error-codes;
    Anthropic https://docs.anthropic.com/en/api/errors;
    Gemini https://ai.google.dev/gemini-api/docs/troubleshooting."""
    build, model = PROVIDERS[provider]
    response = await client.post(**build(f"{model}+fault={fault}"))
    assert response.status_code == status
    assert error_kind(provider, response.json()) == kind


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
async def test_429_carries_retry_after(client: httpx.AsyncClient, provider: str) -> None:
    """https://docs.anthropic.com/en/api/rate-limits — retry-after header on 429."""
    build, model = PROVIDERS[provider]
    response = await client.post(**build(f"{model}+fault=429+retry_after=2"))
    default = await client.post(**build(f"{model}+fault=429"))
    assert response.status_code == default.status_code == 429
    if provider == "gemini":
        # https://ai.google.dev/api/generate-content — google.rpc.RetryInfo in the body
        assert "retry-after" not in response.headers
        retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2s"}
        assert response.json()["error"]["details"] == [retry_info]
        assert default.json()["error"]["details"][0]["retryDelay"] == "1s"
        return
    assert response.headers["retry-after"] == "2"
    assert default.headers["retry-after"] == "1"


async def test_header_fault_wins_over_the_model_name(client: httpx.AsyncClient) -> None:
    request = openai_request("gpt-mock+fault=500")
    request["headers"] = {**OPENAI_HEADERS, "x-mock-fault": "429", "x-mock-retry-after": "5"}
    response = await client.post(**request)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "5"


async def test_anthropic_errors_carry_request_id(client: httpx.AsyncClient) -> None:
    """https://docs.anthropic.com/en/api/errors — request-id header and request_id field."""
    response = await client.post(**anthropic_request("claude-mock+fault=500"))
    assert response.json()["request_id"] == response.headers["request-id"]


async def test_tokens_directive_sets_the_reply_length(client: httpx.AsyncClient) -> None:
    response = await client.post(**anthropic_request("claude-mock+tokens=57"))
    body = response.json()
    assert body["usage"]["output_tokens"] == 57
    assert len(body["content"][0]["text"].split()) == 57


async def test_latency_directive_delays_the_answer(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await client.post(**openai_request("gpt-mock+latency=200"))
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2


async def test_chunk_delay_spaces_stream_events(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await client.post(**gemini_request("gemini-mock+chunk_delay=20", stream=True))
    assert len(sse_events(response.text)) == 7
    assert time.monotonic() - started >= 6 * 0.02


async def test_ttfb_holds_the_first_event_after_the_headers(live_url: str) -> None:
    async with httpx.AsyncClient(base_url=live_url) as client:
        started = time.monotonic()
        request = anthropic_request("claude-mock+ttfb=300", stream=True)
        async with client.stream("POST", **request) as response:
            headers_after = time.monotonic() - started
            first = await anext(response.aiter_raw())
            first_after = time.monotonic() - started
    assert response.status_code == 200
    assert headers_after < 0.25
    assert first_after >= 0.3
    assert first.startswith(b"event: message_start")


async def test_timeout_fault_hangs_before_any_byte(live_url: str) -> None:
    async with httpx.AsyncClient(base_url=live_url, timeout=0.5) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(**openai_request("gpt-mock+fault=timeout"))
        # the hung request does not hold the server up
        healthy = await client.post(**openai_request("gpt-mock"))
    assert healthy.status_code == 200


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
async def test_cut_fault_drops_the_stream_midway(live_url: str, provider: str) -> None:
    build, model = PROVIDERS[provider]
    received: list[bytes] = []

    async def read_stream(client: httpx.AsyncClient) -> None:
        async with client.stream("POST", **build(f"{model}+fault=cut", stream=True)) as response:
            assert response.status_code == 200
            async for raw in response.aiter_raw():
                received.append(raw)

    async with httpx.AsyncClient(base_url=live_url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await read_stream(client)
    events = sse_events(b"".join(received).decode())
    assert events, "some events arrive before the cut"
    data = [d for _, d in events]
    assert "[DONE]" not in data
    assert not any(json.loads(d).get("type") == "message_stop" for d in data if d != "[DONE]")


async def test_cut_fault_truncates_a_plain_body(live_url: str) -> None:
    async with httpx.AsyncClient(base_url=live_url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(**openai_request("gpt-mock+fault=cut"))


async def test_header_knobs_reach_every_provider(client: httpx.AsyncClient) -> None:
    request = gemini_request("gemini-mock")
    request["headers"] = {**GEMINI_HEADERS, "x-mock-output-tokens": "12", "x-mock-latency-ms": "50"}
    started = time.monotonic()
    body = (await client.post(**request)).json()
    assert time.monotonic() - started >= 0.05
    assert body["usageMetadata"]["candidatesTokenCount"] == 12
