"""The request recorder and health endpoint."""

from __future__ import annotations

import httpx

from junction_mockllm import MockSettings, create_app

from .wire import ANTHROPIC_HEADERS, OPENAI_HEADERS


async def test_requests_are_recorded_byte_for_byte(client: httpx.AsyncClient) -> None:
    raw = b'{"model": "gpt-mock+tokens=3",  "messages": [{"role": "user", "content": "hi"}]}'
    await client.post(
        "/v1/chat/completions?trace=1",
        headers={**OPENAI_HEADERS, "content-type": "application/json", "x-extra": "yes"},
        content=raw,
    )
    (entry,) = (await client.get("/_mock/requests")).json()["requests"]
    assert entry["method"] == "POST"
    assert entry["path"] == "/v1/chat/completions"
    assert entry["query"] == "trace=1"
    assert entry["headers"]["authorization"] == OPENAI_HEADERS["authorization"]
    assert entry["headers"]["x-extra"] == "yes"
    assert entry["body"] == raw.decode()


async def test_refused_requests_are_recorded_too(client: httpx.AsyncClient) -> None:
    await client.post("/v1/messages", headers={"x-api-key": "invalid"}, json={})
    await client.get("/no/such/path")
    paths = [e["path"] for e in (await client.get("/_mock/requests")).json()["requests"]]
    assert paths == ["/v1/messages", "/no/such/path"]


async def test_control_paths_are_not_recorded_and_delete_clears(client: httpx.AsyncClient) -> None:
    assert (await client.get("/_mock/health")).json() == {"status": "ok"}
    await client.post(
        "/v1/messages",
        headers=ANTHROPIC_HEADERS,
        json={
            "model": "claude-mock",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    assert len((await client.get("/_mock/requests")).json()["requests"]) == 1
    assert (await client.delete("/_mock/requests")).status_code == 204
    assert (await client.get("/_mock/requests")).json() == {"requests": []}


async def test_filters_and_the_size_bound() -> None:
    app = create_app(MockSettings(recorder_size=3))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mock"
    ) as client:
        for index in range(5):
            await client.get(f"/v1/models?page={index}", headers=OPENAI_HEADERS)
        await client.get("/v1beta/models")
        entries = (await client.get("/_mock/requests")).json()["requests"]
        assert [e["query"] for e in entries] == ["page=3", "page=4", ""]
        only = await client.get("/_mock/requests", params={"path": "/v1/models", "limit": "1"})
        assert [e["query"] for e in only.json()["requests"]] == ["page=4"]
