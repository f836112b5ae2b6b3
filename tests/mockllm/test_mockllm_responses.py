"""The mock's OpenAI Responses API and legacy completions, raw and through the openai SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
from starlette.applications import Starlette

from .wire import KEY, OPENAI_HEADERS, WEATHER_ARGS, WEATHER_SCHEMA, sse_events, sse_json

WEATHER = {"type": "function", "name": "get_weather", "parameters": WEATHER_SCHEMA}


async def create(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post(
        "/v1/responses", headers=OPENAI_HEADERS, json={"model": "gpt-mock", **body}
    )


async def test_a_response_object_has_the_documented_shape(client: httpx.AsyncClient) -> None:
    """https://platform.openai.com/docs/api-reference/responses/object"""
    response = await create(client, input="hi there", instructions="Be kind.")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "response"
    assert body["id"].startswith("resp_")
    assert body["status"] == "completed"
    assert body["instructions"] == "Be kind."
    (message,) = body["output"]
    assert (message["type"], message["role"], message["status"]) == (
        "message",
        "assistant",
        "completed",
    )
    assert message["content"] == [
        {
            "type": "output_text",
            "annotations": [],
            "logprobs": [],
            "text": "Hello from gpt-mock! You said: hi there",
        }
    ]
    usage = body["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (4, 7, 11)


async def test_offered_tools_are_called_and_their_output_answered(
    client: httpx.AsyncClient,
) -> None:
    called = (await create(client, input="weather?", tools=[WEATHER])).json()
    (call,) = called["output"]
    assert call["type"] == "function_call"
    assert call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == WEATHER_ARGS
    answered = await create(
        client,
        tools=[WEATHER],
        input=[
            {"role": "user", "content": "weather?"},
            {k: call[k] for k in ("type", "call_id", "name", "arguments")},
            {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"},
        ],
    )
    assert answered.json()["output"][0]["content"][0]["text"] == "Tool said: sunny"


async def test_a_stream_is_the_documented_event_sequence(client: httpx.AsyncClient) -> None:
    """https://platform.openai.com/docs/api-reference/responses-streaming"""
    response = await create(client, input="hi there", stream=True)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert names[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    data = sse_json(response.text)
    assert [d["sequence_number"] for d in data] == list(range(len(data)))
    assert all(d["type"] == name for d, name in zip(data, names, strict=True))
    text = "".join(d["delta"] for d in data if d["type"] == "response.output_text.delta")
    assert text == "Hello from gpt-mock! You said: hi there"
    assert data[-1]["response"]["usage"]["output_tokens"] == 7
    assert "[DONE]" not in response.text


async def test_midstream_fails_with_an_error_event(client: httpx.AsyncClient) -> None:
    response = await create(client, input="hi", stream=True, model="gpt-mock+fault=midstream")
    last = sse_json(response.text)[-1]
    assert last["type"] == "error"
    assert last["code"] == "server_error"


async def test_a_missing_input_is_a_400(client: httpx.AsyncClient) -> None:
    response = await create(client)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "input"


async def complete(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post(
        "/v1/completions", headers=OPENAI_HEADERS, json={"model": "gpt-mock", **body}
    )


async def test_a_text_completion_has_the_documented_shape(client: httpx.AsyncClient) -> None:
    """https://platform.openai.com/docs/api-reference/completions/object"""
    body = (await complete(client, prompt="hi there")).json()
    assert body["object"] == "text_completion"
    assert body["id"].startswith("cmpl-")
    assert body["choices"] == [
        {
            "text": "Hello from gpt-mock! You said: hi there",
            "index": 0,
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 7, "total_tokens": 9}


async def test_max_tokens_defaults_to_sixteen(client: httpx.AsyncClient) -> None:
    body = (await complete(client, prompt=" ".join(["word"] * 30))).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 16


async def test_a_completion_stream_ends_with_usage_when_asked_and_done(
    client: httpx.AsyncClient,
) -> None:
    response = await complete(
        client, prompt="hi", stream=True, stream_options={"include_usage": True}
    )
    assert response.text.endswith("data: [DONE]\n\n")
    chunks = sse_json(response.text)
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] == chunks[-1]["usage"]["prompt_tokens"] + 6
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]][-1] == "stop"


@pytest.fixture
async def sdk(app: Starlette) -> AsyncIterator[openai.AsyncOpenAI]:
    http: Any = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    async with openai.AsyncOpenAI(
        api_key=KEY, base_url="http://mock/v1", http_client=http, max_retries=0
    ) as client:
        yield client


async def test_the_sdk_reads_plain_and_streamed_responses(sdk: openai.AsyncOpenAI) -> None:
    plain = await sdk.responses.create(model="gpt-mock", input="hi there")
    assert plain.output_text == "Hello from gpt-mock! You said: hi there"
    tools: Any = [WEATHER]
    async with sdk.responses.stream(model="gpt-mock", input="weather?", tools=tools) as stream:
        final = await stream.get_final_response()
    (call,) = final.output
    assert call.type == "function_call"
    assert json.loads(call.arguments) == WEATHER_ARGS
    assert final.usage is not None
    assert final.usage.output_tokens > 0


async def test_the_sdk_reads_completions(sdk: openai.AsyncOpenAI) -> None:
    completion = await sdk.completions.create(model="gpt-mock", prompt="hi")
    assert completion.choices[0].text == "Hello from gpt-mock! You said: hi"
    stream = await sdk.completions.create(model="gpt-mock", prompt="hi", stream=True)
    text = "".join([c.choices[0].text async for c in stream if c.choices])
    assert text == "Hello from gpt-mock! You said: hi"
