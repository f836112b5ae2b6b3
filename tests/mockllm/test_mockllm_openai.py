"""OpenAI wire format, over raw HTTP and through the official ``openai`` SDK."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
from starlette.applications import Starlette

from .wire import KEY, OPENAI_HEADERS, TIME_SCHEMA, WEATHER_ARGS, WEATHER_SCHEMA, sse_json

CHAT = "/v1/chat/completions"
USER_HI = [{"role": "user", "content": "hi there"}]
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}},
    {"type": "function", "function": {"name": "get_time", "parameters": TIME_SCHEMA}},
]


async def chat(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post(CHAT, headers=OPENAI_HEADERS, json={"model": "gpt-mock", **body})


async def test_chat_completion_object_has_the_documented_shape(client: httpx.AsyncClient) -> None:
    """https://platform.openai.com/docs/api-reference/chat/object — The chat completion object."""
    response = await chat(client, messages=USER_HI)
    assert response.status_code == 200
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    assert body["model"] == "gpt-mock"
    (choice,) = body["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["logprobs"] is None
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == "Hello from gpt-mock! You said: hi there"
    assert body["usage"]["prompt_tokens"] == 2
    assert body["usage"]["completion_tokens"] == 7
    assert body["usage"]["total_tokens"] == 9
    assert body["usage"]["prompt_tokens_details"]["cached_tokens"] == 0


async def test_stream_sends_chunk_objects_and_done(client: httpx.AsyncClient) -> None:
    """The chat completion chunk object.

    https://platform.openai.com/docs/api-reference/chat-streaming
    """
    response = await chat(client, messages=USER_HI, stream=True)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.endswith("data: [DONE]\n\n")
    chunks = sse_json(response.text)
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "Hello from gpt-mock! You said: hi there"
    assert [c["choices"][0]["finish_reason"] for c in chunks][-1] == "stop"
    assert all("usage" not in c for c in chunks)


async def test_include_usage_adds_a_final_chunk_with_empty_choices(
    client: httpx.AsyncClient,
) -> None:
    """https://platform.openai.com/docs/api-reference/chat/create#chat-create-stream_options
    — usage chunk before [DONE], ``choices`` empty, other chunks carry ``usage: null``."""
    response = await chat(
        client, messages=USER_HI, stream=True, stream_options={"include_usage": True}
    )
    chunks = sse_json(response.text)
    *content, last = chunks
    assert last["choices"] == []
    assert last["usage"]["completion_tokens"] == 7
    assert all(c["usage"] is None for c in content)


async def test_tools_produce_a_tool_call_with_schema_arguments(client: httpx.AsyncClient) -> None:
    """https://platform.openai.com/docs/guides/function-calling — tool_calls in the message."""
    body = (
        await chat(client, messages=[{"role": "user", "content": "weather?"}], tools=TOOLS)
    ).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function"
    assert call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == WEATHER_ARGS


async def test_tool_choice_forces_a_tool_or_none(client: httpx.AsyncClient) -> None:
    """https://platform.openai.com/docs/api-reference/chat/create#chat-create-tool_choice"""
    forced = await chat(
        client,
        messages=USER_HI,
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    calls = forced.json()["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_time"]
    plain = await chat(client, messages=USER_HI, tools=TOOLS, tool_choice="none")
    assert plain.json()["choices"][0]["message"]["content"].startswith("Hello from gpt-mock!")


async def test_parallel_prompt_calls_two_tools(client: httpx.AsyncClient) -> None:
    """https://platform.openai.com/docs/guides/function-calling#parallel-function-calling"""
    body = (
        await chat(client, messages=[{"role": "user", "content": "parallel"}], tools=TOOLS)
    ).json()
    calls = body["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]


async def test_streamed_tool_call_arguments_arrive_over_several_chunks(
    client: httpx.AsyncClient,
) -> None:
    """Delta.tool_calls[].function.arguments.

    https://platform.openai.com/docs/api-reference/chat-streaming
    """
    response = await chat(
        client, messages=[{"role": "user", "content": "go"}], tools=TOOLS, stream=True
    )
    chunks = sse_json(response.text)
    tool_deltas = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls") or []]
    assert tool_deltas[0]["id"].startswith("call_")
    assert tool_deltas[0]["type"] == "function"
    assert tool_deltas[0]["function"]["name"] == "get_weather"
    pieces = [d["function"]["arguments"] for d in tool_deltas[1:]]
    assert len(pieces) >= 2
    assert json.loads("".join(pieces)) == WEATHER_ARGS
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_tool_result_gets_an_echo(client: httpx.AsyncClient) -> None:
    """https://platform.openai.com/docs/guides/function-calling — the tool message."""
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    body = (await chat(client, messages=messages, tools=TOOLS)).json()
    assert body["choices"][0]["message"]["content"] == "Tool said: sunny"


async def test_n_returns_several_choices(client: httpx.AsyncClient) -> None:
    """https://platform.openai.com/docs/api-reference/chat/create#chat-create-n"""
    body = (await chat(client, messages=USER_HI, n=2)).json()
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert body["usage"]["completion_tokens"] == 14


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
async def test_token_limit_truncates_with_finish_reason_length(
    client: httpx.AsyncClient, field: str
) -> None:
    """Finish_reason length.

    https://platform.openai.com/docs/api-reference/chat/object#chat/object-choices
    """
    body = (await chat(client, messages=USER_HI, **{field: 3})).json()
    assert body["choices"][0]["message"]["content"] == "Hello from gpt-mock!"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 3


async def test_cached_tokens_are_reported_when_asked(client: httpx.AsyncClient) -> None:
    """Usage.prompt_tokens_details.cached_tokens.

    https://platform.openai.com/docs/guides/prompt-caching
    """
    response = await client.post(
        CHAT,
        headers=OPENAI_HEADERS,
        json={"model": "gpt-mock+cached=2+input_tokens=10", "messages": USER_HI},
    )
    usage = response.json()["usage"]
    assert usage["prompt_tokens"] == 10
    assert usage["prompt_tokens_details"]["cached_tokens"] == 2


async def test_embeddings_in_float_and_base64_agree(client: httpx.AsyncClient) -> None:
    """https://platform.openai.com/docs/api-reference/embeddings/object — The embedding object."""
    request = {"model": "text-embedding-mock", "input": ["hello world", "bye"]}
    floats = (await client.post("/v1/embeddings", headers=OPENAI_HEADERS, json=request)).json()
    assert floats["object"] == "list"
    assert floats["model"] == "text-embedding-mock"
    assert [d["index"] for d in floats["data"]] == [0, 1]
    assert {d["object"] for d in floats["data"]} == {"embedding"}
    assert len(floats["data"][0]["embedding"]) == 16
    assert floats["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    packed = await client.post(
        "/v1/embeddings", headers=OPENAI_HEADERS, json={**request, "encoding_format": "base64"}
    )
    raw = base64.b64decode(packed.json()["data"][0]["embedding"])
    assert list(struct.unpack("<16f", raw)) == floats["data"][0]["embedding"]


async def test_embeddings_honour_dimensions(client: httpx.AsyncClient) -> None:
    """https://platform.openai.com/docs/api-reference/embeddings/create#embeddings-create-dimensions"""
    body = {"model": "text-embedding-mock", "input": "x", "dimensions": 4}
    data = (await client.post("/v1/embeddings", headers=OPENAI_HEADERS, json=body)).json()["data"]
    assert len(data[0]["embedding"]) == 4


async def test_images_come_back_as_b64_png_of_the_requested_size(client: httpx.AsyncClient) -> None:
    """https://platform.openai.com/docs/api-reference/images/object — The image object."""
    body = {
        "model": "image-mock",
        "prompt": "a cat",
        "n": 2,
        "size": "64x32",
        "response_format": "b64_json",
    }
    response = await client.post("/v1/images/generations", headers=OPENAI_HEADERS, json=body)
    payload = response.json()
    assert isinstance(payload["created"], int)
    assert len(payload["data"]) == 2
    png = base64.b64decode(payload["data"][0]["b64_json"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", png[16:24]) == (64, 32)


async def test_image_urls_are_served_by_the_mock(client: httpx.AsyncClient) -> None:
    """https://platform.openai.com/docs/api-reference/images/create#images-create-response_format"""
    body = {"model": "image-mock", "prompt": "a cat", "size": "16x16"}
    payload = (
        await client.post("/v1/images/generations", headers=OPENAI_HEADERS, json=body)
    ).json()
    url = payload["data"][0]["url"]
    image = await client.get(url)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"


async def test_models_are_listed(client: httpx.AsyncClient) -> None:
    """https://platform.openai.com/docs/api-reference/models/list"""
    body = (await client.get("/v1/models", headers=OPENAI_HEADERS)).json()
    assert body["object"] == "list"
    assert {
        "id": "gpt-mock",
        "object": "model",
        "created": 1_700_000_000,
        "owned_by": "junction-mock",
    } in body["data"]


@pytest.mark.parametrize(
    "headers", [{}, {"authorization": "Bearer invalid-key"}, {"authorization": "Basic x"}]
)
async def test_missing_or_invalid_key_is_401_invalid_api_key(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """https://platform.openai.com/docs/guides/error-codes — 401 Invalid Authentication."""
    response = await client.post(
        CHAT, headers=headers, json={"model": "gpt-mock", "messages": USER_HI}
    )
    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "invalid_api_key"
    assert error["type"] == "invalid_request_error"


async def test_bad_requests_are_400_with_param(client: httpx.AsyncClient) -> None:
    """https://platform.openai.com/docs/guides/error-codes — the error object."""
    no_messages = await chat(client, messages=[])
    assert no_messages.status_code == 400
    assert no_messages.json()["error"]["param"] == "messages"
    garbage = await client.post(CHAT, headers=OPENAI_HEADERS, content=b"{nope")
    assert garbage.status_code == 400
    no_model = await client.post(CHAT, headers=OPENAI_HEADERS, json={"messages": USER_HI})
    assert no_model.json()["error"]["param"] == "model"
    typo = await client.post(
        CHAT, headers=OPENAI_HEADERS, json={"model": "gpt-mock+fualt=500", "messages": USER_HI}
    )
    assert typo.status_code == 400
    assert "fualt" in typo.json()["error"]["message"]


# --- the official SDK -------------------------------------------------------------


@pytest.fixture
async def sdk(app: Starlette) -> AsyncIterator[openai.AsyncOpenAI]:
    # the SDK accepts a plain httpx client too (its annotations name its own stack)
    http: Any = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    async with openai.AsyncOpenAI(
        api_key=KEY, base_url="http://mock/v1", http_client=http, max_retries=0
    ) as client:
        yield client


async def test_sdk_parses_a_completion(sdk: openai.AsyncOpenAI) -> None:
    """https://platform.openai.com/docs/api-reference/chat/create — via openai-python."""
    completion = await sdk.chat.completions.create(
        model="gpt-mock", messages=[{"role": "user", "content": "hi there"}]
    )
    assert completion.choices[0].message.content == "Hello from gpt-mock! You said: hi there"
    assert completion.usage is not None
    assert completion.usage.total_tokens == 9


async def test_sdk_streams_text_and_usage(sdk: openai.AsyncOpenAI) -> None:
    """https://platform.openai.com/docs/api-reference/chat-streaming — via openai-python."""
    stream = await sdk.chat.completions.create(
        model="gpt-mock",
        messages=[{"role": "user", "content": "hi there"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    assert text == "Hello from gpt-mock! You said: hi there"
    assert usage is not None
    assert usage.completion_tokens == 7


async def test_sdk_accumulates_streamed_tool_calls(sdk: openai.AsyncOpenAI) -> None:
    """Via the SDK stream helper.

    https://platform.openai.com/docs/guides/function-calling#streaming
    """
    async with sdk.chat.completions.stream(
        model="gpt-mock",
        messages=[{"role": "user", "content": "parallel"}],
        tools=TOOLS,  # type: ignore[arg-type]
    ) as stream:
        final = await stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0].function.arguments) == WEATHER_ARGS


async def test_sdk_decodes_default_base64_embeddings(sdk: openai.AsyncOpenAI) -> None:
    """The SDK asks for base64.

    https://platform.openai.com/docs/api-reference/embeddings/create
    """
    result = await sdk.embeddings.create(model="text-embedding-mock", input="hello")
    assert len(result.data[0].embedding) == 16
    assert result.usage.prompt_tokens == 1


async def test_sdk_generates_images_and_lists_models(sdk: openai.AsyncOpenAI) -> None:
    """https://platform.openai.com/docs/api-reference/images/create, /models/list"""
    images = await sdk.images.generate(model="gpt-image-mock", prompt="cat", size="1024x1024")
    assert images.data
    assert images.data[0].b64_json
    models = [m.id async for m in sdk.models.list()]
    assert "gpt-mock" in models


async def test_sdk_raises_typed_errors(sdk: openai.AsyncOpenAI) -> None:
    """https://platform.openai.com/docs/guides/error-codes — AuthenticationError, RateLimitError."""
    messages: Any = [{"role": "user", "content": "x"}]
    with pytest.raises(openai.AuthenticationError):
        await sdk.chat.completions.create(model="gpt-mock+fault=badkey", messages=messages)
    with pytest.raises(openai.RateLimitError) as caught:
        await sdk.chat.completions.create(
            model="gpt-mock+fault=429+retry_after=2", messages=messages
        )
    assert caught.value.response.headers["retry-after"] == "2"
    with pytest.raises(openai.InternalServerError):
        await sdk.chat.completions.create(model="gpt-mock+fault=overloaded", messages=messages)
