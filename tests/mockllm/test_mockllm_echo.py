"""`echo_key` and `fault=midstream`: the mock quotes the key it got, in each provider's shape."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import httpx
import pytest

from junction_mockllm.directives import ECHO_FORMS
from junction_mockllm.faults import echoed

from .test_mockllm_faults import PROVIDERS, error_kind
from .wire import sse_events

CANARY = "sk-proj-Echo+Canary/Key=0123456789"


def _with_key(provider: str, request: dict[str, object]) -> dict[str, object]:
    headers = {
        "openai": {"authorization": f"Bearer {CANARY}"},
        "anthropic": {"x-api-key": CANARY, "anthropic-version": "2023-06-01"},
        "gemini": {"x-goog-api-key": CANARY},
    }[provider]
    return {**request, "headers": headers}


def test_each_form_quotes_the_key_as_a_provider_might() -> None:
    assert echoed("whole", CANARY) == CANARY
    assert echoed("no_prefix", CANARY) == "Echo+Canary/Key=0123456789"
    assert echoed("no_prefix", "sk-ant-api03-AbC") == "AbC"
    assert echoed("no_prefix", "AIzaSyAbC") == "SyAbC"
    assert echoed("fragment", CANARY) == CANARY[11:23]  # twelve from the middle
    assert echoed("base64", CANARY) == base64.b64encode(CANARY.encode()).decode()
    assert echoed("urlencoded", CANARY) == quote(CANARY, safe="")
    assert echoed("hex", CANARY) == CANARY.encode().hex()


@pytest.mark.parametrize("form", ECHO_FORMS)
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
async def test_an_error_quotes_the_key_in_the_providers_own_shape(
    client: httpx.AsyncClient, provider: str, form: str
) -> None:
    build, model = PROVIDERS[provider]
    for fault, status in (("400", 400), ("429", 429), ("badkey", 401)):
        resp = await client.post(
            **_with_key(provider, build(f"{model}+fault={fault}+echo_key={form}"))
        )
        assert resp.status_code == status
        body = resp.json()
        message = body["error"]["message"]
        assert echoed(form, CANARY) in message
        assert error_kind(provider, body)  # the provider's own error shape


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
async def test_midstream_sends_content_then_the_providers_error_event(
    client: httpx.AsyncClient, provider: str
) -> None:
    build, model = PROVIDERS[provider]
    resp = await client.post(
        **_with_key(provider, build(f"{model}+fault=midstream+echo_key=base64", stream=True))
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = sse_events(resp.text)
    *content, (name, data) = events
    assert "Partial answer" in "".join(d for _, d in content)
    error = json.loads(data)
    if provider == "anthropic":
        assert name == "error"
        assert error["type"] == "error"
    assert base64.b64encode(CANARY.encode()).decode() in error["error"]["message"]
    # the answer never ends as a whole one would
    for end in ('"finish_reason":"', '"finishReason"', "message_stop", "[DONE]"):
        assert end not in resp.text


async def test_midstream_without_alt_sse_is_a_gemini_json_array(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/v1beta/models/gemini-mock+fault=midstream:streamGenerateContent",
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        headers={"x-goog-api-key": CANARY},
    )
    elements = resp.json()
    assert [list(e) for e in elements][1] == ["error"]
    assert elements[1]["error"]["status"] == "INTERNAL"


async def test_an_unknown_echo_form_is_a_clear_400(client: httpx.AsyncClient) -> None:
    build, model = PROVIDERS["openai"]
    resp = await client.post(**_with_key("openai", build(f"{model}+echo_key=rot13")))
    assert resp.status_code == 400
    assert "echo_key" in resp.json()["error"]["message"]
