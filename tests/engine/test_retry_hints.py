"""How long a provider asked to be left alone, in each provider's own way.

OpenAI and Azure OpenAI send ``retry-after-ms`` beside ``Retry-After``;
Gemini sends no header at all but a ``google.rpc.RetryInfo`` detail in its
error body. Each is honoured: the credential cools for that long, and a
client with nowhere else to go is told the same wait.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from junction_engine.client_keys import hash_key
from junction_engine.upstream_replies import retry_after_hint, retry_after_seconds
from tests.support.routes import deployment, model_route, route

from .conftest import KEY, MOCK_KEY, build_engine

USER = [{"role": "user", "content": "hello"}]


def _headers(**values: str) -> Any:
    named = {k.replace("_", "-"): v for k, v in values.items()}
    return lambda name: named.get(name)


def _gemini_429(delay: object) -> bytes:
    detail = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}
    return json.dumps(
        {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [detail]}}
    ).encode()


def test_retry_after_ms_is_the_most_precise_and_wins() -> None:
    both = _headers(retry_after_ms="1500", retry_after="2")
    assert retry_after_seconds(retry_after_hint("openai", both, b"")) == 1.5
    assert retry_after_hint("openai", _headers(retry_after="2"), b"") == "2"
    # an unreadable retry-after-ms falls back to the standard header
    bad = _headers(retry_after_ms="soon", retry_after="3")
    assert retry_after_hint("openai", bad, b"") == "3"
    assert retry_after_hint("openai", _headers(retry_after_ms="inf"), b"") is None


def test_a_gemini_retry_info_is_read_from_the_body() -> None:
    none = _headers()
    assert retry_after_seconds(retry_after_hint("gemini", none, _gemini_429("37.5s"))) == 37.5
    # the header still wins where a proxy in front of Gemini adds one
    assert retry_after_hint("gemini", _headers(retry_after="4"), _gemini_429("37s")) == "4"
    for unreadable in (b"not json", _gemini_429(37), _gemini_429("s"), b'{"error": []}'):
        assert retry_after_hint("gemini", none, unreadable) is None
    # only a Gemini provider's body is read that way
    assert retry_after_hint("openai", none, _gemini_429("37s")) is None


@pytest.mark.parametrize(
    ("ptype", "base_url", "model"),
    [
        ("gemini", "http://mock", "mock-gemini"),
        ("azure-openai", "http://mock", "gpt-4o-east"),
    ],
)
async def test_the_providers_wait_cools_its_key_and_reaches_the_client(
    ptype: str, base_url: str, model: str
) -> None:
    limited = deployment(
        f"{model}+fault=429+retry_after=9", key=MOCK_KEY, ptype=ptype, base_url=base_url
    )
    spare = deployment(model, key=MOCK_KEY, ptype=ptype, base_url=base_url, priority=1)
    failover = route(model_route(name="ha", deployments=(limited, spare)))
    async with build_engine({hash_key(KEY): failover}) as harness:
        served = await _sdk(harness).chat.completions.create(model="ha", messages=USER)  # type: ignore[arg-type]
        assert served.choices[0].message.content
        # the limited key rests, so the next call goes straight to the spare
        await _sdk(harness).chat.completions.create(model="ha", messages=USER)  # type: ignore[arg-type]
        paths = [str(r["path"]) for r in await harness.upstream_requests()]
        assert len(paths) == 3
        assert "fault=429" in paths[0]
        assert all("fault=429" not in p for p in paths[1:])
    alone = route(model_route(name="only", deployments=(limited,)))
    async with build_engine({hash_key(KEY): alone}) as harness:
        with pytest.raises(openai.RateLimitError) as info:
            await _sdk(harness).chat.completions.create(model="only", messages=USER)  # type: ignore[arg-type]
    # the wait the provider named, however it named it
    assert info.value.response.headers["retry-after"] == "9"


def _sdk(harness: Any) -> openai.AsyncOpenAI:
    http: Any = harness.client
    return openai.AsyncOpenAI(
        api_key=KEY, base_url="http://engine/v1", http_client=http, max_retries=0
    )
