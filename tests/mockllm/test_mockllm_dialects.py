"""``dialect=``: the OpenAI endpoints answering as Ollama or vLLM do."""

from __future__ import annotations

import httpx

from .wire import OPENAI_HEADERS, sse_json

CHAT = "/v1/chat/completions"
USER = [{"role": "user", "content": "hi there"}]


async def stream(client: httpx.AsyncClient, model: str) -> list[dict[str, object]]:
    response = await client.post(
        CHAT,
        headers=OPENAI_HEADERS,
        json={
            "model": model,
            "messages": USER,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert response.text.rstrip().endswith("data: [DONE]")
    return sse_json(response.text)


async def test_ollama_puts_usage_on_the_finish_chunk(client: httpx.AsyncClient) -> None:
    chunks = await stream(client, "llama+dialect=ollama")
    assert all(c["choices"] for c in chunks)  # no usage chunk of its own
    last: dict[str, object] = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"  # type: ignore[index]
    assert last["usage"]["completion_tokens"] > 0  # type: ignore[index]
    assert all(c["usage"] is None for c in chunks[:-1])


async def test_vllm_reports_running_usage_on_every_chunk(client: httpx.AsyncClient) -> None:
    chunks = await stream(client, "llama+dialect=vllm")
    running = [c["usage"]["completion_tokens"] for c in chunks]  # type: ignore[index]
    assert running == sorted(running)
    assert chunks[-1]["choices"] == []
    assert running[-1] >= running[-2]


async def test_error_bodies_in_each_dialect(client: httpx.AsyncClient) -> None:
    ollama = await client.post(
        CHAT, headers=OPENAI_HEADERS, json={"model": "m+dialect=ollama+fault=500", "messages": USER}
    )
    vllm = await client.post(
        CHAT,
        headers={**OPENAI_HEADERS, "x-mock-dialect": "vllm", "x-mock-fault": "400"},
        json={"model": "m", "messages": USER},
    )
    bad = await client.post(
        CHAT, headers=OPENAI_HEADERS, json={"model": "m+dialect=tgi", "messages": USER}
    )
    assert ollama.status_code == 500
    assert ollama.json() == {"error": "The server had an error while processing your request."}
    assert vllm.status_code == 400
    assert vllm.json() == {
        "object": "error",
        "message": "Invalid request.",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
    assert bad.status_code == 400
    assert "unknown dialect" in bad.json()["error"]["message"]
