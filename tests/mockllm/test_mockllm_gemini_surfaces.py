"""The mock's Gemini models.list/get, batchEmbedContents, /v1 paths and snake_case fields."""

from __future__ import annotations

import httpx

from junction_mockllm import MockSettings, create_app
from junction_mockllm.replies import embedding

from .wire import GEMINI_HEADERS, OPENAI_HEADERS, WEATHER_ARGS, WEATHER_SCHEMA


def _model(name: str) -> dict[str, object]:
    return {
        "name": f"models/{name}",
        "baseModelId": name,
        "version": "001",
        "displayName": name,
        "description": f"The mock model {name}.",
        "inputTokenLimit": 1_048_576,
        "outputTokenLimit": 65_536,
        "supportedGenerationMethods": [
            "generateContent",
            "countTokens",
            "embedContent",
            "batchEmbedContents",
        ],
        "temperature": 1,
        "maxTemperature": 2,
        "topP": 0.95,
        "topK": 64,
        "thinking": False,
    }


async def test_models_list_has_the_documented_model_shape(client: httpx.AsyncClient) -> None:
    """https://ai.google.dev/api/models#Model, #method:-models.list"""
    body = (await client.get("/v1beta/models", headers=GEMINI_HEADERS)).json()
    assert body["models"][0] == _model("gpt-mock")
    assert "nextPageToken" not in body


async def test_models_list_pages_with_page_size_and_token() -> None:
    names = tuple(f"m{i}" for i in range(5))
    app = create_app(MockSettings(models=names))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as c:
        first = (await c.get("/v1beta/models?pageSize=2", headers=GEMINI_HEADERS)).json()
        assert [m["name"] for m in first["models"]] == ["models/m0", "models/m1"]
        token = first["nextPageToken"]
        rest = (
            await c.get(f"/v1beta/models?pageSize=3&pageToken={token}", headers=GEMINI_HEADERS)
        ).json()
        assert [m["name"] for m in rest["models"]] == ["models/m2", "models/m3", "models/m4"]
        assert "nextPageToken" not in rest
        bad = await c.get("/v1beta/models?pageToken=x", headers=GEMINI_HEADERS)
        assert bad.status_code == 400
        assert bad.json()["error"]["status"] == "INVALID_ARGUMENT"


async def test_models_get(client: httpx.AsyncClient) -> None:
    """https://ai.google.dev/api/models#method:-models.get"""
    got = await client.get("/v1beta/models/gemini-mock", headers=GEMINI_HEADERS)
    assert got.json() == _model("gemini-mock")
    unauthenticated = await client.get("/v1beta/models/gemini-mock")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["status"] == "UNAUTHENTICATED"


async def test_v1_models_answers_google_callers_in_gemini_shape(client: httpx.AsyncClient) -> None:
    gemini = (await client.get("/v1/models", headers=GEMINI_HEADERS)).json()
    assert gemini["models"][0]["name"] == "models/gpt-mock"
    one = (await client.get("/v1/models/gemini-mock", headers=GEMINI_HEADERS)).json()
    assert one["name"] == "models/gemini-mock"
    openai = (await client.get("/v1/models", headers=OPENAI_HEADERS)).json()
    assert openai["object"] == "list"


async def test_generate_content_under_v1(client: httpx.AsyncClient) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi there"}]}]}
    resp = await client.post(
        "/v1/models/gemini-mock:generateContent", headers=GEMINI_HEADERS, json=body
    )
    assert resp.status_code == 200
    assert resp.json()["candidates"][0]["finishReason"] == "STOP"


async def test_snake_case_fields_are_read(client: httpx.AsyncClient) -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "weather?"}]}],
        "tools": [
            {
                "function_declarations": [
                    {"name": "get_weather", "parameters_json_schema": WEATHER_SCHEMA}
                ]
            }
        ],
        "tool_config": {"function_calling_config": {"mode": "ANY"}},
    }
    resp = await client.post(
        "/v1beta/models/gemini-mock:generateContent", headers=GEMINI_HEADERS, json=body
    )
    [part] = resp.json()["candidates"][0]["content"]["parts"]
    assert part == {"functionCall": {"name": "get_weather", "args": WEATHER_ARGS}}


async def test_batch_embed_contents(client: httpx.AsyncClient) -> None:
    """https://ai.google.dev/api/embeddings#method:-models.batchembedcontents"""
    requests = [
        {
            "model": "models/emb-mock",
            "content": {"parts": [{"text": "a"}]},
            "outputDimensionality": 4,
        },
        {
            "model": "models/emb-mock",
            "content": {"parts": [{"text": "b"}]},
            "output_dimensionality": 4,
        },
    ]
    resp = await client.post(
        "/v1beta/models/emb-mock:batchEmbedContents",
        headers=GEMINI_HEADERS,
        json={"requests": requests},
    )
    assert resp.status_code == 200
    assert resp.json() == {
        "embeddings": [
            {"values": embedding("emb-mock", "a", 4)},
            {"values": embedding("emb-mock", "b", 4)},
        ]
    }
    single = await client.post(
        "/v1/models/emb-mock:embedContent",
        headers=GEMINI_HEADERS,
        json={"content": {"parts": [{"text": "a"}]}, "output_dimensionality": 4},
    )
    assert single.json() == {"embedding": {"values": embedding("emb-mock", "a", 4)}}


async def test_batch_requests_must_name_the_model_of_the_url(client: httpx.AsyncClient) -> None:
    for request in ({"content": {"parts": [{"text": "a"}]}}, {"model": "models/other"}):
        resp = await client.post(
            "/v1beta/models/emb-mock:batchEmbedContents",
            headers=GEMINI_HEADERS,
            json={"requests": [request]},
        )
        assert resp.status_code == 400
        assert "requests[0].model" in resp.json()["error"]["message"]
    empty = await client.post(
        "/v1beta/models/emb-mock:batchEmbedContents", headers=GEMINI_HEADERS, json={}
    )
    assert empty.status_code == 400
