"""Azure OpenAI wire format: deployment paths, ``api-key``, ``api-version``, Azure's errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
from starlette.applications import Starlette

from .wire import KEY, sse_json

VERSION = "2024-10-21"
CHAT = "/openai/deployments/{}/chat/completions"
USER_HI = [{"role": "user", "content": "hi there"}]


async def chat(
    client: httpx.AsyncClient,
    deployment: str = "gpt-4o-prod",
    *,
    headers: dict[str, str] | None = None,
    query: str = f"?api-version={VERSION}",
    **body: Any,
) -> httpx.Response:
    return await client.post(
        CHAT.format(deployment) + query,
        headers={"api-key": KEY} if headers is None else headers,
        json={"messages": USER_HI, **body},
    )


async def test_chat_answers_with_azure_filter_results(client: httpx.AsyncClient) -> None:
    response = await chat(client)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-4o-prod"  # the deployment is the model
    assert body["prompt_filter_results"][0]["prompt_index"] == 0
    assert body["choices"][0]["message"]["content"]


async def test_stream_opens_with_the_prompt_filter_chunk(client: httpx.AsyncClient) -> None:
    response = await chat(client, stream=True, stream_options={"include_usage": True})
    assert response.status_code == 200
    chunks = sse_json(response.text)
    assert chunks[0]["choices"] == []
    assert "prompt_filter_results" in chunks[0]
    assert chunks[-1]["usage"]["total_tokens"] > 0
    assert response.text.rstrip().endswith("data: [DONE]")


@pytest.mark.parametrize("query", ["", "?api-version=1999-01-01"])
async def test_a_missing_or_unknown_api_version_is_not_found(
    client: httpx.AsyncClient, query: str
) -> None:
    response = await chat(client, query=query)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "404", "message": "Resource not found"}}


@pytest.mark.parametrize(
    "headers", [{}, {"authorization": f"Bearer {KEY}"}, {"api-key": "invalid-key"}]
)
async def test_the_key_must_come_as_api_key(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await chat(client, headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "401"
    assert error["message"].startswith("Access denied due to invalid subscription key")
    assert "type" not in error


async def test_a_429_fault_carries_retry_after_in_azure_shape(client: httpx.AsyncClient) -> None:
    response = await chat(client, "gpt-4o-prod+fault=429+retry_after=7")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.headers["retry-after-ms"] == "7000"
    error = response.json()["error"]
    assert error["code"] == "429"
    assert "Please retry after 7 seconds" in error["message"]


async def test_embeddings_of_a_deployment(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"/openai/deployments/embed-prod/embeddings?api-version={VERSION}",
        headers={"api-key": KEY},
        json={"input": ["a", "b"]},
    )
    assert response.status_code == 200
    assert [d["index"] for d in response.json()["data"]] == [0, 1]


@pytest.fixture
async def azure_sdk(app: Starlette) -> AsyncIterator[openai.AsyncAzureOpenAI]:
    http: Any = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    async with openai.AsyncAzureOpenAI(
        azure_endpoint="http://mock",
        api_version=VERSION,
        api_key=KEY,
        http_client=http,
        max_retries=0,
    ) as client:
        yield client


async def test_the_azure_sdk_chats_streams_and_embeds(azure_sdk: openai.AsyncAzureOpenAI) -> None:
    completion = await azure_sdk.chat.completions.create(model="gpt-4o-prod", messages=USER_HI)  # type: ignore[arg-type]
    assert completion.choices[0].message.content
    stream = await azure_sdk.chat.completions.create(
        model="gpt-4o-prod",
        messages=USER_HI,  # type: ignore[arg-type]
        stream=True,
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == completion.choices[0].message.content
    vectors = await azure_sdk.embeddings.create(model="embed-prod", input="hello")
    assert len(vectors.data[0].embedding) == 16


async def test_the_azure_sdk_raises_rate_limit_errors(azure_sdk: openai.AsyncAzureOpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        await azure_sdk.chat.completions.create(
            model="gpt-4o-prod+fault=429",
            messages=USER_HI,  # type: ignore[arg-type]
        )
    assert info.value.code == "429"
