"""The ``azure-openai`` provider type, through the engine, driven by the official ``openai`` SDK.

The mock LLM serves Azure's deployment paths and refuses what Azure refuses
(no ``api-version``, a bearer token instead of ``api-key``), so every call
here passing proves the engine spoke Azure's layout.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from junction_contracts import ProviderRoute, Route
from junction_engine.client_keys import hash_key
from junction_engine.providers import AZURE_API_VERSION, upstream_request
from tests.support.routes import deployment, model_route, route

from .conftest import KEY, MOCK_KEY, EngineHarness, build_engine

RESOURCE = "http://mock"
PINNED = "http://mock?api-version=2025-04-01-preview"


def azure(name: str, *, base_url: str = RESOURCE, priority: int = 0) -> Any:
    return deployment(
        name, key=MOCK_KEY, ptype="azure-openai", base_url=base_url, priority=priority
    )


def azure_route() -> Route:
    return route(
        model_route(name="gpt-4o", deployments=(azure("gpt-4o-prod"),)),
        model_route(name="embed", deployments=(azure("embed-prod", base_url=PINNED),)),
        model_route(
            name="gpt-4o-ha",
            deployments=(
                azure("gpt-4o-east+fault=429+retry_after=9", priority=0),
                azure("gpt-4o-west", priority=1),
            ),
        ),
    )


@pytest.fixture
async def azure_engine() -> AsyncIterator[EngineHarness]:
    async with build_engine({hash_key(KEY): azure_route()}) as harness:
        yield harness


@pytest.fixture
def sdk(azure_engine: EngineHarness) -> openai.AsyncOpenAI:
    # the SDK accepts a plain httpx client too (its annotations name its own stack)
    http: Any = azure_engine.client
    return openai.AsyncOpenAI(
        api_key=KEY, base_url="http://engine/v1", http_client=http, max_retries=0
    )


USER = [{"role": "user", "content": "hello azure"}]


async def test_chat_goes_to_the_deployment_path_with_api_key(
    sdk: openai.AsyncOpenAI, azure_engine: EngineHarness
) -> None:
    completion = await sdk.chat.completions.create(model="gpt-4o", messages=USER)  # type: ignore[arg-type]
    assert completion.choices[0].message.content
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0
    (sent,) = await azure_engine.upstream_requests()
    assert sent["path"] == "/openai/deployments/gpt-4o-prod/chat/completions"
    assert sent["query"] == f"api-version={AZURE_API_VERSION}"
    headers: dict[str, str] = sent["headers"]  # type: ignore[assignment]
    assert headers["api-key"] == MOCK_KEY
    assert "authorization" not in headers


async def test_a_stream_skips_the_filter_chunk_and_keeps_usage(
    sdk: openai.AsyncOpenAI, azure_engine: EngineHarness
) -> None:
    stream = await sdk.chat.completions.create(
        model="gpt-4o",
        messages=USER,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
    (sent,) = await azure_engine.upstream_requests()
    assert json.loads(str(sent["body"]))["stream_options"] == {"include_usage": True}


async def test_embeddings_use_the_api_version_of_the_provider(
    sdk: openai.AsyncOpenAI, azure_engine: EngineHarness
) -> None:
    vectors = await sdk.embeddings.create(model="embed", input=["one", "two"])
    assert [d.index for d in vectors.data] == [0, 1]
    assert len(vectors.data[0].embedding) == 16
    (sent,) = await azure_engine.upstream_requests()
    assert sent["path"] == "/openai/deployments/embed-prod/embeddings"
    assert sent["query"] == "api-version=2025-04-01-preview"


async def test_a_429_fails_over_to_the_next_deployment_and_honours_retry_after(
    sdk: openai.AsyncOpenAI, azure_engine: EngineHarness
) -> None:
    for _ in range(2):
        completion = await sdk.chat.completions.create(model="gpt-4o-ha", messages=USER)  # type: ignore[arg-type]
        assert completion.choices[0].message.content
    paths = [str(r["path"]) for r in await azure_engine.upstream_requests()]
    # the second call skips the deployment that is honouring Retry-After
    assert paths == [
        "/openai/deployments/gpt-4o-east+fault=429+retry_after=9/chat/completions",
        "/openai/deployments/gpt-4o-west/chat/completions",
        "/openai/deployments/gpt-4o-west/chat/completions",
    ]
    board = azure_engine.app.state.engine.forwarder.board
    # a 429 is about the key: its credential cools down for the time Azure named
    assert board.cooling("cred-dep-gpt-4o-east+fault=429+retry_after=9-0")


async def test_an_azure_429_with_nowhere_to_go_reaches_the_client_in_openai_shape() -> None:
    only = route(model_route(name="gpt-4o", deployments=(azure("east+fault=429+retry_after=3"),)))
    async with build_engine({hash_key(KEY): only}) as harness:
        http: Any = harness.client
        sdk = openai.AsyncOpenAI(
            api_key=KEY, base_url="http://engine/v1", http_client=http, max_retries=0
        )
        with pytest.raises(openai.RateLimitError) as info:
            await sdk.chat.completions.create(model="gpt-4o", messages=USER)  # type: ignore[arg-type]
    assert info.value.response.headers["retry-after"] == "3"
    body: Any = info.value.body
    assert body["type"] == "rate_limit_error"
    assert "Please retry after 3 seconds" in body["message"]
    assert MOCK_KEY not in json.dumps(body)


def test_upstream_url_of_an_azure_resource() -> None:
    provider = ProviderRoute(
        id="p", name="az", type="azure-openai", base_url="https://acme.openai.azure.com/"
    )
    up = upstream_request(provider, "secret", "my deployment", "chat", stream=True)
    assert up.url == (
        "https://acme.openai.azure.com/openai/deployments/my%20deployment/chat/completions"
        f"?api-version={AZURE_API_VERSION}"
    )
    assert up.headers["api-key"] == "secret"
    assert "authorization" not in up.headers
    # a base URL that already ends in /openai is not doubled
    provider = ProviderRoute(
        id="p",
        name="az",
        type="azure-openai",
        base_url="https://acme.openai.azure.com/openai?api-version=2024-06-01",
    )
    up = upstream_request(provider, "secret", "emb", "embeddings")
    assert up.url == (
        "https://acme.openai.azure.com/openai/deployments/emb/embeddings?api-version=2024-06-01"
    )


async def test_a_stream_without_usage_asked_ends_cleanly(
    sdk: openai.AsyncOpenAI, azure_engine: EngineHarness
) -> None:
    stream = await sdk.chat.completions.create(model="gpt-4o", messages=USER, stream=True)  # type: ignore[arg-type]
    chunks = [c async for c in stream]
    assert all(c.usage is None for c in chunks)  # the usage the engine asked for is not shown
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_an_anthropic_client_streams_from_an_azure_deployment(
    azure_engine: EngineHarness,
) -> None:
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=azure_engine.app))
    client = anthropic.AsyncAnthropic(api_key=KEY, base_url="http://engine", http_client=http)
    async with client.messages.stream(
        model="gpt-4o",
        max_tokens=100,
        messages=USER,  # type: ignore[arg-type]
    ) as stream:
        message = await stream.get_final_message()
    assert message.content[0].type == "text"
    assert message.content[0].text
    assert message.usage.output_tokens > 0
    (sent,) = await azure_engine.upstream_requests()
    assert sent["path"] == "/openai/deployments/gpt-4o-prod/chat/completions"
