"""The official google-genai SDK through Caddy, with its default settings and with v1beta.

Its defaults call ``/v1/models/{model}:generateContent``; ``api_version="v1beta"``
calls ``/v1beta/...``. Against an OpenAI, an Anthropic and a Gemini provider:
plain and streamed answers equal what the mock sends when asked directly; a
function declared with ``parameters_json_schema`` keeps its argument schema
(the mock fills its required arguments); an inline image keeps its type and
an image URI is passed on, as the provider's own request shows (the mock's
recorder); embeddings, ``models.list()`` and ``models.get()``. The SDK is
handed an httpx client that records every request it sends: all of them go
to the gateway on 127.0.0.1, none anywhere else (no auth discovery).
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from google import genai
from google.genai import errors, types

from tests.support.normalize import FINISH, WEATHER_SCHEMA, Answer, direct
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

PROVIDERS = {
    "openai": ("demo", "mock-gpt"),
    "anthropic": ("demo-claude", "mock-claude"),
    "gemini": ("demo-gemini", "mock-gemini"),
}
VERSIONS = [None, "v1beta"]  # None: the SDK's default (v1)
#: a PNG signature and bytes whose base64 has "+" and "/" (the SDK sends them URL-safe)
PNG = b"\x89PNG\r\n\x1a\n\x00" + b"\xfb\xff\xbf" * 4 + b"\x01"
IMAGE_URL = "https://example.com/cat.png"
#: what would let the SDK go elsewhere (Vertex AI, another key or version)
_SDK_ENV = (
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_API_VERSION",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_GEMINI_BASE_URL",
)

Client = Callable[[str | None], genai.Client]


@pytest.fixture
def sent() -> list[httpx.URL]:
    """Every URL the SDK sent a request to."""
    return []


@pytest.fixture
def gemini_client(
    stack: Stack, sent: list[httpx.URL], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Client]:
    for name in _SDK_ENV:
        monkeypatch.delenv(name, raising=False)
    http = httpx.Client(event_hooks={"request": [lambda r: sent.append(r.url)]}, timeout=30)

    def make(version: str | None) -> genai.Client:
        options: dict[str, Any] = {"base_url": stack.public_url, "httpx_client": http}
        if version:
            options["api_version"] = version
        return genai.Client(api_key=stack.demo_token, http_options=options)

    yield make
    http.close()
    gateway = ("127.0.0.1", stack.public_port)
    assert sent, "the SDK sent nothing"
    assert {(u.host, u.port) for u in sent} == {gateway}, sent


def _prefix(version: str | None) -> str:
    return f"/{version or 'v1'}/"


def _answer(response: types.GenerateContentResponse) -> Answer:
    candidate = (response.candidates or [])[0]
    parts = (candidate.content.parts if candidate.content else None) or []
    tools = [
        (p.function_call.name or "", dict(p.function_call.args or {}))
        for p in parts
        if p.function_call
    ]
    finish = FINISH[candidate.finish_reason.value] if candidate.finish_reason else None
    usage = response.usage_metadata
    return Answer(
        text="".join(p.text or "" for p in parts if not p.thought),
        tools=tools,
        finish="tool_calls" if tools and finish == "stop" else finish,
        input_tokens=(usage.prompt_token_count or 0) if usage else -1,
        output_tokens=((usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0))
        if usage
        else -1,
    )


def _streamed(chunks: Iterator[types.GenerateContentResponse]) -> Answer:
    answer = Answer()
    for chunk in chunks:
        one = _answer(chunk)
        answer.text += one.text
        answer.tools += one.tools
        if chunk.candidates and chunk.candidates[0].finish_reason:
            answer.finish = one.finish
        if chunk.usage_metadata:
            answer.input_tokens, answer.output_tokens = one.input_tokens, one.output_tokens
    return answer


def _weather_tool() -> types.Tool:
    declaration = types.FunctionDeclaration(
        name="get_weather", description="Weather", parameters_json_schema=WEATHER_SCHEMA
    )
    return types.Tool(function_declarations=[declaration])


@pytest.mark.parametrize("case", ["plain", "stream", "tool", "stream-tool"])
@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("version", VERSIONS, ids=["default", "v1beta"])
def test_generate(
    stack: Stack,
    gemini_client: Client,
    sent: list[httpx.URL],
    version: str | None,
    provider: str,
    case: str,
) -> None:
    model, upstream = PROVIDERS[provider]
    tools = "tool" in case
    prompt = "What is the weather in Paris?" if tools else "Tell me about gateways"
    expected = direct(stack.mock_url, stack.mock_key, provider, upstream, prompt, tools=tools)
    client = gemini_client(version)
    config = types.GenerateContentConfig(tools=[_weather_tool()]) if tools else None
    if case.startswith("stream"):
        got = _streamed(
            client.models.generate_content_stream(model=model, contents=prompt, config=config)
        )
    else:
        got = _answer(client.models.generate_content(model=model, contents=prompt, config=config))
    if tools:
        assert expected.tools, "the mock should call the tool"
        assert expected.tools[0][1] == {"city": "mock"}  # the schema's required argument
    assert got == expected
    assert all(u.path.startswith(_prefix(version)) for u in sent)


def _provider_request(stack: Stack, marker: str) -> dict[str, Any]:
    """The body of the one request the mock received with `marker` in it."""
    entries = httpx.get(f"{stack.mock_url}/_mock/requests", params={"limit": 50}).json()
    [body] = [json.loads(e["body"]) for e in entries["requests"] if marker in e["body"]]
    return body


def _field(obj: dict[str, Any], camel: str, snake: str) -> Any:
    return obj[camel] if camel in obj else obj[snake]


@pytest.mark.parametrize("image", ["inline", "uri"])
@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("version", VERSIONS, ids=["default", "v1beta"])
def test_images_reach_the_provider(
    stack: Stack, gemini_client: Client, version: str | None, provider: str, image: str
) -> None:
    model, _ = PROVIDERS[provider]
    marker = f"describe-{secrets.token_hex(6)}"
    part = (
        types.Part.from_bytes(data=PNG, mime_type="image/png")
        if image == "inline"
        else types.Part.from_uri(file_uri=IMAGE_URL, mime_type="image/png")
    )
    response = gemini_client(version).models.generate_content(model=model, contents=[part, marker])
    assert (response.text or "").endswith(f"You said: {marker}")
    body = _provider_request(stack, marker)
    data = base64.b64encode(PNG).decode()
    if provider == "openai":
        url = f"data:image/png;base64,{data}" if image == "inline" else IMAGE_URL
        assert body["messages"][0]["content"][0] == {"type": "image_url", "image_url": {"url": url}}
    elif provider == "anthropic":
        source = body["messages"][0]["content"][0]["source"]
        if image == "inline":
            assert source == {"type": "base64", "media_type": "image/png", "data": data}
        else:
            assert source == {"type": "url", "url": IMAGE_URL}
    else:
        sent_part = body["contents"][0]["parts"][0]
        if image == "inline":
            inline = _field(sent_part, "inlineData", "inline_data")
            assert _field(inline, "mimeType", "mime_type") == "image/png"
            assert base64.urlsafe_b64decode(inline["data"]) == PNG  # Gemini reads either
        else:
            file_data = _field(sent_part, "fileData", "file_data")
            assert _field(file_data, "fileUri", "file_uri") == IMAGE_URL


def _direct_embeddings(stack: Stack, provider: str, upstream: str, texts: list[str]) -> list[Any]:
    if provider == "openai":
        r = httpx.post(
            f"{stack.mock_url}/v1/embeddings",
            json={"model": upstream, "input": texts, "dimensions": 8},
            headers={"authorization": f"Bearer {stack.mock_key}"},
        )
        return [d["embedding"] for d in r.json()["data"]]
    requests = [
        {
            "model": f"models/{upstream}",
            "content": {"parts": [{"text": t}]},
            "outputDimensionality": 8,
        }
        for t in texts
    ]
    r = httpx.post(
        f"{stack.mock_url}/v1beta/models/{upstream}:batchEmbedContents",
        json={"requests": requests},
        headers={"x-goog-api-key": stack.mock_key},
    )
    return [e["values"] for e in r.json()["embeddings"]]


@pytest.mark.parametrize("provider", ["openai", "gemini"])
@pytest.mark.parametrize("version", VERSIONS, ids=["default", "v1beta"])
def test_embeddings(
    stack: Stack, gemini_client: Client, version: str | None, provider: str
) -> None:
    model, upstream = PROVIDERS[provider]
    texts = ["what is a gateway", "a junction of roads"]
    # Content objects, one per embedding: given bare strings, the SDK merges them into one
    # content for models whose name says "gemini" (it takes them for multimodal ones)
    contents = [types.Content(role="user", parts=[types.Part(text=t)]) for t in texts]
    result = gemini_client(version).models.embed_content(
        model=model, contents=contents, config=types.EmbedContentConfig(output_dimensionality=8)
    )
    got = [e.values for e in result.embeddings or []]
    assert got == _direct_embeddings(stack, provider, upstream, texts)
    assert all(len(v or []) == 8 for v in got)


@pytest.mark.parametrize("version", VERSIONS, ids=["default", "v1beta"])
def test_errors_come_back_as_the_sdks_own(gemini_client: Client, version: str | None) -> None:
    client = gemini_client(version)
    with pytest.raises(errors.ClientError) as refused:
        client.models.embed_content(model="demo-claude", contents="x")
    assert (refused.value.code, refused.value.status) == (400, "INVALID_ARGUMENT")
    with pytest.raises(errors.ClientError) as missing:
        client.models.generate_content(model="no-such-model", contents="x")
    assert (missing.value.code, missing.value.status) == (404, "NOT_FOUND")


@pytest.mark.parametrize("version", VERSIONS, ids=["default", "v1beta"])
def test_models_list_and_get(
    stack: Stack, gemini_client: Client, sent: list[httpx.URL], version: str | None
) -> None:
    client = gemini_client(version)
    listed = {m.name: m for m in client.models.list(config={"page_size": 2})}
    assert {"models/demo", "models/demo-claude", "models/demo-gemini"} <= set(listed)
    assert len(sent) > 2  # the pager followed nextPageToken
    assert listed["models/demo-claude"].supported_actions == ["generateContent"]
    got = client.models.get(model="demo-gemini")
    assert got.name == "models/demo-gemini"
    assert got.display_name == "demo-gemini"
    assert got.supported_actions == [
        "generateContent",
        "countTokens",
        "embedContent",
        "batchEmbedContents",
    ]
    assert (
        client.models.count_tokens(model="demo-gemini", contents="three words here")
    ).total_tokens
    # the OpenAI SDK still gets OpenAI's list on the same /v1/models
    ids = [
        m.id
        for m in openai.OpenAI(
            base_url=f"{stack.public_url}/v1", api_key=stack.demo_token
        ).models.list()
    ]
    assert "demo-gemini" in ids
