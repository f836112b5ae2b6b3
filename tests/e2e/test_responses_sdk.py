"""OpenAI's Responses API, legacy completions and model retrieval, through Caddy, by the SDK.

The official ``openai`` SDK calls ``responses.create``, ``responses.stream``
(its own event parser and accumulator judge every event), ``completions.create``
and ``models.retrieve`` against an OpenAI provider (served natively), an
OpenAI-compatible one, Anthropic and Gemini (served through chat), all of
them the mock LLM behind the real engine, control plane and Caddy. Every call
is then found in the control plane's call records with its tokens and cost.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import openai
import pytest

from tests.conftest import unavailable
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

#: provider name → (type, base URL)
PROVIDERS = {
    "mock-openai": ("openai", "{mock}/v1"),
    "mock-compat": ("openai-compatible", "{mock}/v1"),
    "mock-anthropic": ("anthropic", "{mock}"),
    "mock-gemini": ("gemini", "{mock}"),
}
#: model → (provider, upstream model)
DEPLOYED = {
    "gpt": ("mock-openai", "mock-gpt"),
    "compat": ("mock-compat", "mock-compat"),
    "claude": ("mock-anthropic", "mock-claude"),
    "gemini": ("mock-gemini", "mock-gemini"),
}
MODELS = list(DEPLOYED)


def stack_config(mock: str) -> str:
    """One tenant, one priced model per provider type, one key."""
    providers = "".join(
        f"      - name: {name}\n        type: {kind}\n        base_url: {base.format(mock=mock)}\n"
        "        keys: [{name: k, value: env:JUNCTION_MOCK_KEY}]\n"
        for name, (kind, base) in PROVIDERS.items()
    )
    models = "".join(
        f"      - name: {model}\n        pricing: {{input_per_mtok: 2.0, output_per_mtok: 8.0}}\n"
        f"        deployments: [{{provider: {provider}, model: {upstream}}}]\n"
        for model, (provider, upstream) in DEPLOYED.items()
    )
    tokens = "    tokens:\n      - {name: sdk, value: env:JUNCTION_DEMO_TOKEN}\n"
    return (
        f"tenants:\n  - name: responses\n    providers:\n{providers}    models:\n{models}{tokens}"
    )


WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather of a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ"
    "/pLvAAAAAElFTkSuQmCC"
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if shutil.which("caddy") is None:
        unavailable("caddy")
    s = Stack(workdir=tmp_path_factory.mktemp("responses"))
    config = s.workdir / "junction.yaml"
    config.write_text(stack_config(s.mock_url))
    try:
        s.start_mock()
        s.run_cli("migrate")
        s.apply(config)
        s.start_control()
        s.start_engine()
        s.start_caddy()
        yield s
    except Exception:
        print(s.logs())
        raise
    finally:
        s.stop()


@pytest.fixture
def client(stack: Stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.public_url}/v1", api_key=stack.demo_token, max_retries=0)


def _at(value: str) -> float:
    at = datetime.fromisoformat(value)
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def recorded(stack: Stack, since: float, count: int, timeout: float = 30) -> list[sqlite3.Row]:
    """The finished call records of calls started after `since`, once `count` are in."""
    deadline = time.monotonic() + timeout
    rows: list[sqlite3.Row] = []
    while time.monotonic() < deadline:
        with sqlite3.connect(stack.workdir / "var" / "junction.db") as db:
            db.row_factory = sqlite3.Row
            found = db.execute("SELECT * FROM model_calls WHERE status <> 'processing'").fetchall()
        rows = sorted(
            (r for r in found if _at(r["started_at"]) >= since), key=lambda r: _at(r["started_at"])
        )
        if len(rows) >= count:
            return rows
        time.sleep(0.2)
    raise AssertionError(f"{len(rows)} of {count} calls recorded\n{stack.logs()}")


def said(model: str, text: str) -> str:
    return f"Hello from {DEPLOYED[model][1]}! You said: {text}"


@pytest.mark.parametrize("model", MODELS)
def test_create_returns_the_answer_with_usage_and_the_call_is_billed(
    stack: Stack, client: openai.OpenAI, model: str
) -> None:
    since = time.time()
    response = client.responses.create(model=model, input="Hello gateway", instructions="Be brief.")
    assert response.status == "completed"
    assert response.output_text == said(model, "Hello gateway")
    assert response.usage is not None
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    [row] = recorded(stack, since, 1)
    assert row["status"] == "success"
    assert row["model"] == model
    assert (row["input_tokens"], row["output_tokens"]) == (
        response.usage.input_tokens,
        response.usage.output_tokens,
    )
    assert row["cost_usd"] == pytest.approx(
        (row["input_tokens"] * 2.0 + row["output_tokens"] * 8.0) / 1e6
    )
    assert row["operation"] == ("responses" if model == "gpt" else "chat")


@pytest.mark.parametrize("model", MODELS)
def test_stream_is_accepted_by_the_sdk_parser_and_billed(
    stack: Stack, client: openai.OpenAI, model: str
) -> None:
    since = time.time()
    with client.responses.stream(model=model, input="Stream to me") as stream:
        kinds: list[str] = []
        text = ""
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                text += event.delta
        final = stream.get_final_response()
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    assert text == final.output_text == said(model, "Stream to me")
    assert final.usage is not None
    assert final.usage.output_tokens > 0
    [row] = recorded(stack, since, 1)
    assert row["stream"] == 1
    assert row["status"] == "success"
    assert row["output_tokens"] == final.usage.output_tokens
    assert row["cost_usd"] > 0


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("model", MODELS)
def test_a_function_call_and_its_output_round_trip(
    client: openai.OpenAI, model: str, streamed: bool
) -> None:
    question = "What is the weather in Paris?"
    if streamed:
        with client.responses.stream(model=model, input=question, tools=[WEATHER]) as stream:
            first = stream.get_final_response()
    else:
        first = client.responses.create(model=model, input=question, tools=[WEATHER])
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "mock"}
    answer = client.responses.create(
        model=model,
        tools=[WEATHER],
        input=[
            {"role": "user", "content": question},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "18C and sunny"},
        ],
    )
    assert answer.output_text == "Tool said: 18C and sunny"


@pytest.mark.parametrize("model", MODELS)
def test_an_image_input_is_accepted(client: openai.OpenAI, model: str) -> None:
    response = client.responses.create(
        model=model,
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Describe this"},
                    {"type": "input_image", "image_url": PNG, "detail": "auto"},
                ],
            }
        ],
    )
    assert response.output_text == said(model, "Describe this")
    assert response.usage is not None
    assert response.usage.input_tokens > 0


@pytest.mark.parametrize("model", ["gpt", "claude"])
def test_stored_responses_are_refused_clearly(client: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=model, input="Hi", previous_response_id="resp_123")
    assert info.value.code == "response_storage_unsupported"
    assert info.value.param == "previous_response_id"


@pytest.mark.parametrize("model", MODELS)
def test_legacy_completions_plain_and_streamed(
    stack: Stack, client: openai.OpenAI, model: str
) -> None:
    since = time.time()
    completion = client.completions.create(model=model, prompt="Hi there")
    assert completion.object == "text_completion"
    assert completion.choices[0].text == said(model, "Hi there")
    assert completion.usage is not None
    chunks = list(
        client.completions.create(
            model=model, prompt="Hi there", stream=True, stream_options={"include_usage": True}
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == said(model, "Hi there")
    assert chunks[-1].usage is not None
    rows = recorded(stack, since, 2)
    assert all(r["status"] == "success" and r["cost_usd"] > 0 for r in rows)
    assert rows[0]["output_tokens"] == completion.usage.completion_tokens


def test_models_retrieve_returns_a_visible_model_and_404s_the_rest(client: openai.OpenAI) -> None:
    model = client.models.retrieve("claude")
    assert (model.id, model.object) == ("claude", "model")
    assert client.models.retrieve("mock-anthropic/mock-claude").id == "mock-anthropic/mock-claude"
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("nope")
    assert info.value.code == "model_not_found"
