"""Gemini's client API in-process: /v1 and /v1beta, snake_case fields, embeddings, errors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from junction_engine.client_keys import hash_key
from junction_mockllm.replies import embedding
from tests.engine.conftest import KEY, MOCK_KEY, EngineHarness, build_engine
from tests.support.routes import deployment, model_route, route

#: how the google-genai SDK presents itself: the key as x-goog-api-key, no bearer
GOOGLE = {"authorization": "", "x-goog-api-key": KEY, "x-goog-api-client": "google-genai-sdk/x"}
CITY_SCHEMA = {
    "type": "object",
    "properties": {"city_name": {"type": "string"}},
    "required": ["city_name"],
}
PNG = "iVBORw0KGgo="
# what the SDK sends for an inline image, an image URI and a JSON-schema tool
SDK_BODY: dict[str, Any] = {
    "contents": [
        {
            "role": "user",
            "parts": [
                {"inlineData": {"data": PNG, "mime_type": "image/png"}},
                {
                    "file_data": {
                        "file_uri": "https://example.com/cat.jpg",
                        "mime_type": "image/jpeg",
                    }
                },
                {"text": "What is the weather in Paris?"},
            ],
        }
    ],
    "tools": [
        {
            "function_declarations": [
                {"name": "get_weather", "parameters_json_schema": CITY_SCHEMA},
            ]
        }
    ],
}


async def _sent(engine: EngineHarness) -> dict[str, Any]:
    [sent] = await engine.upstream_requests()
    return sent


@pytest.mark.parametrize("version", ["v1", "v1beta"])
@pytest.mark.parametrize("model", ["gem", "gpt", "claude"])
async def test_generate_content_is_served_under_v1_and_v1beta(
    engine: EngineHarness, version: str, model: str
) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hello gem"}]}]}
    resp = await engine.client.post(
        f"/{version}/models/{model}:generateContent", json=body, headers=GOOGLE
    )
    assert resp.status_code == 200, resp.text
    text = resp.json()["candidates"][0]["content"]["parts"][0]["text"]
    assert text.endswith("You said: hello gem")


async def test_snake_case_parts_and_schema_reach_an_openai_provider(engine: EngineHarness) -> None:
    resp = await engine.client.post("/v1/models/gpt:generateContent", json=SDK_BODY, headers=GOOGLE)
    assert resp.status_code == 200, resp.text
    [part] = resp.json()["candidates"][0]["content"]["parts"]
    # the mock fills each required argument of the schema: it was not lost on the way
    assert part["functionCall"]["name"] == "get_weather"
    assert set(part["functionCall"]["args"]) == {"city_name"}
    sent = json.loads((await _sent(engine))["body"])
    content = sent["messages"][0]["content"]
    assert content[0] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    assert content[1] == {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
    assert sent["tools"][0]["function"]["parameters"] == CITY_SCHEMA


async def test_snake_case_parts_and_schema_reach_an_anthropic_provider(
    engine: EngineHarness,
) -> None:
    resp = await engine.client.post(
        "/v1beta/models/claude:generateContent", json=SDK_BODY, headers=GOOGLE
    )
    assert resp.status_code == 200, resp.text
    [part] = resp.json()["candidates"][0]["content"]["parts"]
    assert set(part["functionCall"]["args"]) == {"city_name"}
    sent = json.loads((await _sent(engine))["body"])
    blocks = sent["messages"][0]["content"]
    assert blocks[0]["source"] == {"type": "base64", "media_type": "image/png", "data": PNG}
    assert blocks[1]["source"] == {"type": "url", "url": "https://example.com/cat.jpg"}
    assert sent["tools"][0]["input_schema"] == CITY_SCHEMA


async def test_a_gemini_provider_gets_the_request_byte_for_byte(engine: EngineHarness) -> None:
    raw = json.dumps(SDK_BODY).encode()
    resp = await engine.client.post("/v1/models/gem:generateContent", content=raw, headers=GOOGLE)
    assert resp.status_code == 200, resp.text
    [part] = resp.json()["candidates"][0]["content"]["parts"]
    assert set(part["functionCall"]["args"]) == {"city_name"}
    sent = await _sent(engine)
    assert sent["path"] == "/v1beta/models/mock-gemini:generateContent"
    assert sent["body"] == raw.decode()


async def test_a_field_named_twice_is_refused_in_gemini_shape(engine: EngineHarness) -> None:
    part = {"inlineData": {"mimeType": "image/png", "mime_type": "image/gif", "data": PNG}}
    body = {"contents": [{"role": "user", "parts": [part]}]}
    resp = await engine.client.post("/v1/models/gpt:generateContent", json=body, headers=GOOGLE)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert "mimeType" in error["message"]
    assert await engine.upstream_requests() == []


# -- embeddings ----------------------------------------------------------------------------


def _content(text: str) -> dict[str, Any]:
    return {"parts": [{"text": text}], "role": "user"}


async def test_embed_content_to_an_openai_provider_is_billed_by_input_tokens(
    engine: EngineHarness,
) -> None:
    resp = await engine.client.post(
        "/v1/models/gpt:embedContent",
        json={"content": _content("hello there"), "output_dimensionality": 8},
        headers=GOOGLE,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"embedding": {"values": embedding("mock-gpt", "hello there", 8)}}
    sent = await _sent(engine)
    assert sent["path"] == "/v1/embeddings"
    assert json.loads(sent["body"]) == {
        "model": "mock-gpt",
        "input": ["hello there"],
        "encoding_format": "float",
        "dimensions": 8,
    }
    await engine.app.state.engine.telemetry.flush()
    [finished] = [ev for ev in engine.control.events if ev["kind"] == "finished"]
    assert finished["operation"] == "embeddings"
    assert finished["status"] == "success"
    assert finished["input_tokens"] == 2  # the mock's count, not an estimate
    assert finished["output_tokens"] == 0
    assert finished["usage_estimated"] is False


async def test_batch_embed_contents_to_an_openai_provider_keeps_the_order(
    engine: EngineHarness,
) -> None:
    requests = [
        {"model": "models/gpt", "content": _content("one"), "taskType": "RETRIEVAL_QUERY"},
        {"model": "models/gpt", "content": _content("two"), "taskType": "RETRIEVAL_QUERY"},
    ]
    resp = await engine.client.post(
        "/v1beta/models/gpt:batchEmbedContents", json={"requests": requests}, headers=GOOGLE
    )
    assert resp.status_code == 200, resp.text
    size = len(resp.json()["embeddings"][0]["values"])
    assert resp.json() == {
        "embeddings": [
            {"values": embedding("mock-gpt", "one", size)},
            {"values": embedding("mock-gpt", "two", size)},
        ]
    }


@pytest.mark.parametrize("batch", [False, True])
async def test_embeddings_to_a_gemini_provider_go_as_a_batch(
    engine: EngineHarness, batch: bool
) -> None:
    one = {"content": _content("hello"), "task_type": "RETRIEVAL_DOCUMENT", "title": "T"}
    if batch:
        path, body = "batchEmbedContents", {"requests": [{**one, "model": "models/gem"}]}
    else:
        path, body = "embedContent", one
    resp = await engine.client.post(f"/v1/models/gem:{path}", json=body, headers=GOOGLE)
    assert resp.status_code == 200, resp.text
    vector = {"values": embedding("mock-gemini", "hello", 16)}
    assert resp.json() == ({"embeddings": [vector]} if batch else {"embedding": vector})
    sent = await _sent(engine)
    assert sent["path"] == "/v1beta/models/mock-gemini:batchEmbedContents"
    assert json.loads(sent["body"]) == {
        "requests": [
            {
                "content": _content("hello"),
                "taskType": "RETRIEVAL_DOCUMENT",
                "title": "T",
                "model": "models/mock-gemini",
            }
        ]
    }
    await engine.app.state.engine.telemetry.flush()
    [finished] = [ev for ev in engine.control.events if ev["kind"] == "finished"]
    # Gemini reports no usage for embeddings: the input is estimated, and says so
    assert finished["input_tokens"] > 0
    assert finished["usage_estimated"] is True


async def test_embeddings_refusals_are_gemini_shaped(engine: EngineHarness) -> None:
    cases = [
        ("claude:embedContent", {"content": _content("x")}, "is not served by a provider"),
        ("gpt:embedContent", {"content": {"parts": [{"inline_data": {"data": PNG}}]}}, "text"),
        ("gpt:batchEmbedContents", {"requests": []}, "non-empty"),
        (
            "gpt:batchEmbedContents",
            {"requests": [{"model": "models/other", "content": _content("x")}]},
            "models/gpt",
        ),
        (
            "gpt:batchEmbedContents",
            {
                "requests": [
                    {"content": _content("a"), "outputDimensionality": 4},
                    {"content": _content("b"), "outputDimensionality": 8},
                ]
            },
            "outputDimensionality",
        ),
    ]
    for target, body, words in cases:
        resp = await engine.client.post(f"/v1/models/{target}", json=body, headers=GOOGLE)
        assert resp.status_code == 400, (target, resp.text)
        error = resp.json()["error"]
        assert error["status"] == "INVALID_ARGUMENT"
        assert words in error["message"], error
    assert await engine.upstream_requests() == []


async def test_a_mixed_model_embeds_with_its_first_priority_protocol() -> None:
    gemini_first = model_route(
        name="mixed",
        deployments=(
            deployment("mock-gemini", key=MOCK_KEY, ptype="gemini", base_url="http://mock"),
            deployment("mock-gpt", key=MOCK_KEY, priority=1),
        ),
    )
    openai_first = model_route(
        name="mixed2",
        deployments=(
            deployment(
                "mock-gemini", key=MOCK_KEY, ptype="gemini", base_url="http://mock", priority=1
            ),
            deployment("mock-gpt", key=MOCK_KEY, priority=0),
        ),
    )
    routes = {hash_key(KEY): route(gemini_first, openai_first)}
    async with build_engine(routes) as e:
        for name in ("mixed", "mixed2"):
            resp = await e.client.post(
                f"/v1/models/{name}:embedContent", json={"content": _content("x")}, headers=GOOGLE
            )
            assert resp.status_code == 200, resp.text
        paths = [r["path"] for r in await e.upstream_requests()]
    assert paths == ["/v1beta/models/mock-gemini:batchEmbedContents", "/v1/embeddings"]


# -- the model catalog -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1beta/models", "/v1/models"])
async def test_gemini_callers_get_gemini_lists(engine: EngineHarness, path: str) -> None:
    resp = await engine.client.get(path, headers=GOOGLE)
    assert resp.status_code == 200
    models = {m["name"]: m for m in resp.json()["models"]}
    assert models["models/gem"] == {
        "name": "models/gem",
        "baseModelId": "gem",
        "version": "001",
        "displayName": "gem",
        "supportedGenerationMethods": [
            "generateContent",
            "countTokens",
            "embedContent",
            "batchEmbedContents",
        ],
    }
    assert models["models/claude"]["supportedGenerationMethods"] == ["generateContent"]
    assert models["models/gpt"]["supportedGenerationMethods"] == [
        "generateContent",
        "embedContent",
        "batchEmbedContents",
    ]
    assert "nextPageToken" not in resp.json()


async def test_the_gemini_list_pages(engine: EngineHarness) -> None:
    everything = (await engine.client.get("/v1beta/models", headers=GOOGLE)).json()["models"]
    seen: list[str] = []
    token = ""
    while True:
        page = await engine.client.get(
            "/v1beta/models", params={"pageSize": 3, "pageToken": token}, headers=GOOGLE
        )
        body = page.json()
        assert len(body["models"]) <= 3
        seen += [m["name"] for m in body["models"]]
        token = body.get("nextPageToken", "")
        if not token:
            break
    assert seen == [m["name"] for m in everything]
    bad = await engine.client.get("/v1beta/models?pageToken=zz", headers=GOOGLE)
    assert bad.status_code == 400
    assert bad.json()["error"]["status"] == "INVALID_ARGUMENT"


async def test_other_callers_of_v1_models_keep_their_shapes(engine: EngineHarness) -> None:
    openai_list = (await engine.client.get("/v1/models")).json()
    assert openai_list["object"] == "list"
    assert {"id": "gpt", "object": "model", "created": 0, "owned_by": "junction"} in openai_list[
        "data"
    ]
    anthropic_list = (
        await engine.client.get("/v1/models", headers={"anthropic-version": "2023-06-01"})
    ).json()
    assert anthropic_list["first_id"] == anthropic_list["data"][0]["id"]
    one = await engine.client.get("/v1/models/gpt")
    assert one.json() == {"id": "gpt", "object": "model", "created": 0, "owned_by": "junction"}
    claude = await engine.client.get(
        "/v1/models/claude", headers={"anthropic-version": "2023-06-01"}
    )
    assert claude.json() == {
        "type": "model",
        "id": "claude",
        "display_name": "claude",
        "created_at": "1970-01-01T00:00:00Z",
    }
    missing = await engine.client.get("/v1/models/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"


@pytest.mark.parametrize("path", ["/v1beta/models/gem", "/v1/models/gem", "/v1/models/models/gem"])
async def test_gemini_get_model(engine: EngineHarness, path: str) -> None:
    resp = await engine.client.get(path, headers=GOOGLE)
    assert resp.status_code == 200
    assert resp.json()["name"] == "models/gem"


async def test_direct_provider_names_work_in_gemini_paths(engine: EngineHarness) -> None:
    got = await engine.client.get("/v1beta/models/mock-openai/mock-gpt", headers=GOOGLE)
    assert got.json()["name"] == "models/mock-openai/mock-gpt"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    resp = await engine.client.post(
        "/v1/models/mock-openai/mock-gpt:generateContent", json=body, headers=GOOGLE
    )
    assert resp.status_code == 200, resp.text


# -- errors on Gemini paths --------------------------------------------------------------------


def _gemini_error(resp: httpx.Response, status: int, name: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "status"}
    assert (body["error"]["code"], body["error"]["status"]) == (status, name)


async def test_every_error_on_a_gemini_path_is_gemini_shaped(engine: EngineHarness) -> None:
    client = engine.client
    _gemini_error(await client.get("/v1beta/files", headers=GOOGLE), 404, "NOT_FOUND")
    _gemini_error(await client.get("/v1beta/models/nope", headers=GOOGLE), 404, "NOT_FOUND")
    _gemini_error(await client.get("/v1/models/nope", headers=GOOGLE), 404, "NOT_FOUND")
    _gemini_error(await client.post("/v1/models/gem:explode", json={}), 404, "NOT_FOUND")
    _gemini_error(await client.delete("/v1beta/models/gem"), 405, "FAILED_PRECONDITION")
    _gemini_error(
        await client.put("/v1/models/gem:generateContent", json={}), 405, "FAILED_PRECONDITION"
    )
    _gemini_error(
        await client.get("/v1beta/models/gem:generateContent", headers=GOOGLE),
        405,
        "FAILED_PRECONDITION",
    )
    bad_key = {**GOOGLE, "x-goog-api-key": "jk-wrong"}
    _gemini_error(await client.get("/v1/models", headers=bad_key), 401, "UNAUTHENTICATED")
    _gemini_error(
        await client.get(
            "/v1/models/gem", params={"key": "jk-wrong"}, headers={"authorization": ""}
        ),
        401,
        "UNAUTHENTICATED",
    )
    _gemini_error(
        await client.post("/v1/models/gem:generateContent", json={"contents": []}),
        400,
        "INVALID_ARGUMENT",
    )
    # an OpenAI caller of an unknown OpenAI path still gets OpenAI's shape
    other = await client.get("/v1/nothing-here")
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "not_found"
