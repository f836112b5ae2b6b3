"""Gemini wire format over raw HTTP (the mock needs no Google SDK)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .wire import GEMINI_HEADERS, KEY, TIME_SCHEMA, WEATHER_ARGS, WEATHER_SCHEMA, sse_events

BASE = "/v1beta/models/gemini-mock"
USER_HI = [{"role": "user", "parts": [{"text": "hi there"}]}]
TOOLS = [
    {
        "functionDeclarations": [
            {"name": "get_weather", "parameters": WEATHER_SCHEMA},
            {"name": "get_time", "parameters": TIME_SCHEMA},
        ]
    }
]


async def call(
    client: httpx.AsyncClient, method: str, model: str = "gemini-mock", **body: Any
) -> httpx.Response:
    return await client.post(f"/v1beta/models/{model}:{method}", headers=GEMINI_HEADERS, json=body)


async def test_generate_content_response_has_the_documented_shape(
    client: httpx.AsyncClient,
) -> None:
    """https://ai.google.dev/api/generate-content#generatecontentresponse"""
    response = await call(
        client,
        "generateContent",
        contents=USER_HI,
        systemInstruction={"parts": [{"text": "be nice"}]},
    )
    assert response.status_code == 200
    body = response.json()
    (candidate,) = body["candidates"]
    assert candidate["content"] == {
        "parts": [{"text": "Hello from gemini-mock! You said: hi there"}],
        "role": "model",
    }
    assert candidate["finishReason"] == "STOP"
    assert candidate["index"] == 0
    usage = body["usageMetadata"]
    assert usage["promptTokenCount"] == 4
    assert usage["candidatesTokenCount"] == 7
    assert usage["totalTokenCount"] == 11
    assert body["modelVersion"] == "gemini-mock"
    assert isinstance(body["responseId"], str)


async def test_key_may_come_in_the_query_string(client: httpx.AsyncClient) -> None:
    """https://ai.google.dev/gemini-api/docs/api-key — x-goog-api-key header or ?key=."""
    response = await client.post(f"{BASE}:generateContent?key={KEY}", json={"contents": USER_HI})
    assert response.status_code == 200


@pytest.mark.parametrize("headers", [{}, {"x-goog-api-key": "invalid-1"}])
async def test_missing_or_invalid_key_is_an_error_status(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """https://ai.google.dev/gemini-api/docs/troubleshooting — google.rpc.Status error body."""
    response = await client.post(
        f"{BASE}:generateContent", headers=headers, json={"contents": USER_HI}
    )
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": 401,
        "message": "API key not valid. Please pass a valid API key.",
        "status": "UNAUTHENTICATED",
    }


async def test_sse_stream_sends_one_response_per_event(client: httpx.AsyncClient) -> None:
    """https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent (alt=sse)"""
    response = await client.post(
        f"{BASE}:streamGenerateContent?alt=sse", headers=GEMINI_HEADERS, json={"contents": USER_HI}
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "\r\n\r\n" in response.text
    chunks = [json.loads(data) for _, data in sse_events(response.text)]
    assert len(chunks) == 7
    text = "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks)
    assert text == "Hello from gemini-mock! You said: hi there"
    assert [c["candidates"][0].get("finishReason") for c in chunks][-2:] == [None, "STOP"]
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 7
    assert len({c["responseId"] for c in chunks}) == 1


async def test_stream_without_alt_sse_is_one_json_array(client: httpx.AsyncClient) -> None:
    """Without alt=sse the stream is one JSON array.

    https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
    """
    response = await call(client, "streamGenerateContent", contents=USER_HI)
    assert response.headers["content-type"].startswith("application/json")
    chunks = response.json()
    assert isinstance(chunks, list)
    assert len(chunks) == 7
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


async def test_tools_produce_function_call_parts(client: httpx.AsyncClient) -> None:
    """https://ai.google.dev/gemini-api/docs/function-calling — functionCall parts."""
    body = (await call(client, "generateContent", contents=USER_HI, tools=TOOLS)).json()
    parts = body["candidates"][0]["content"]["parts"]
    assert parts == [{"functionCall": {"name": "get_weather", "args": WEATHER_ARGS}}]
    assert body["candidates"][0]["finishReason"] == "STOP"


async def test_tool_config_forces_or_forbids_calls(client: httpx.AsyncClient) -> None:
    """https://ai.google.dev/api/caching#FunctionCallingConfig — mode ANY / NONE."""
    forced = await call(
        client,
        "generateContent",
        contents=USER_HI,
        tools=TOOLS,
        toolConfig={"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_time"]}},
    )
    call_part = forced.json()["candidates"][0]["content"]["parts"][0]
    assert call_part == {"functionCall": {"name": "get_time", "args": {"zone": "mock"}}}
    none = await call(
        client,
        "generateContent",
        contents=USER_HI,
        tools=TOOLS,
        toolConfig={"functionCallingConfig": {"mode": "NONE"}},
    )
    assert "text" in none.json()["candidates"][0]["content"]["parts"][0]


async def test_streamed_function_calls_come_whole(client: httpx.AsyncClient) -> None:
    """https://ai.google.dev/gemini-api/docs/function-calling — calls in a stream chunk."""
    contents = [{"role": "user", "parts": [{"text": "parallel"}]}]
    response = await client.post(
        f"{BASE}:streamGenerateContent?alt=sse",
        headers=GEMINI_HEADERS,
        json={"contents": contents, "tools": TOOLS},
    )
    (chunk,) = [json.loads(data) for _, data in sse_events(response.text)]
    names = [p["functionCall"]["name"] for p in chunk["candidates"][0]["content"]["parts"]]
    assert names == ["get_weather", "get_time"]


async def test_function_response_gets_an_echo(client: httpx.AsyncClient) -> None:
    """https://ai.google.dev/gemini-api/docs/function-calling — functionResponse parts."""
    contents = [
        *USER_HI,
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}]},
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}}
            ],
        },
    ]
    body = (await call(client, "generateContent", contents=contents, tools=TOOLS)).json()
    assert body["candidates"][0]["content"]["parts"] == [{"text": "Tool said: sunny"}]


async def test_max_output_tokens_truncates_with_max_tokens(client: httpx.AsyncClient) -> None:
    """https://ai.google.dev/api/generate-content#FinishReason — MAX_TOKENS."""
    body = (
        await call(
            client, "generateContent", contents=USER_HI, generationConfig={"maxOutputTokens": 2}
        )
    ).json()
    assert body["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert body["candidates"][0]["content"]["parts"][0]["text"] == "Hello from"


async def test_count_tokens(client: httpx.AsyncClient) -> None:
    """https://ai.google.dev/api/tokens#method:-models.counttokens"""
    plain = (await call(client, "countTokens", contents=USER_HI)).json()
    assert plain["totalTokens"] == 2
    wrapped = await call(
        client,
        "countTokens",
        generateContentRequest={"model": "models/gemini-mock", "contents": USER_HI},
    )
    assert wrapped.json()["totalTokens"] == 2


async def test_embed_content(client: httpx.AsyncClient) -> None:
    """https://ai.google.dev/api/embeddings#method:-models.embedcontent"""
    body = (
        await call(
            client,
            "embedContent",
            model="text-embedding-mock",
            content={"parts": [{"text": "hello"}]},
            outputDimensionality=8,
        )
    ).json()
    assert len(body["embedding"]["values"]) == 8


async def test_errors_use_google_rpc_status(client: httpx.AsyncClient) -> None:
    """404 NOT_FOUND, 400 INVALID_ARGUMENT.

    https://ai.google.dev/gemini-api/docs/troubleshooting
    """
    unknown = await call(client, "explode", contents=USER_HI)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["status"] == "NOT_FOUND"
    empty = await call(client, "generateContent", contents=[])
    assert empty.status_code == 400
    assert empty.json()["error"]["status"] == "INVALID_ARGUMENT"


async def test_models_are_listed(client: httpx.AsyncClient) -> None:
    """https://ai.google.dev/api/models#method:-models.list"""
    body = (await client.get("/v1beta/models", headers=GEMINI_HEADERS)).json()
    assert body["models"][0]["name"] == "models/gpt-mock"
