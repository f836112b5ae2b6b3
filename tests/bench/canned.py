"""Provider answers on the wire, byte for byte, made once by the project's own mock LLM.

The fake upstream of the benchmark replays these bytes instead of building an
answer per request. They come from `junction_mockllm` served in-process, so
they are the OpenAI and Anthropic wire formats the rest of the suite is judged
against (the same ids, usage fields and event order), not a hand-written
imitation. An SSE body is split into its events so that each one can be sent
as its own write, as a real provider streams them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from junction_mockllm.app import create_app
from junction_mockllm.settings import MockSettings

PROMPT = "Say hello to the benchmark"
ANTHROPIC_VERSION = "2023-06-01"
_HEADERS = {
    "authorization": "Bearer bench",
    "x-api-key": "bench",
    "anthropic-version": ANTHROPIC_VERSION,
}


@dataclass(frozen=True, slots=True)
class Canned:
    """The answers the fake upstream gives: JSON bodies and streams as lists of SSE events."""

    openai_json: bytes
    openai_events: tuple[bytes, ...]
    anthropic_json: bytes
    anthropic_events: tuple[bytes, ...]
    slow_events: tuple[bytes, ...]  # an OpenAI stream paced by the upstream


def split_events(body: bytes) -> tuple[bytes, ...]:
    """An SSE body cut into its events, each keeping its blank-line terminator."""
    parts = body.split(b"\n\n")
    if parts[-1]:
        raise ValueError("the SSE body does not end with a blank line")
    return tuple(part + b"\n\n" for part in parts[:-1])


def _chat(model: str, *, stream: bool) -> dict[str, object]:
    body: dict[str, object] = {"model": model, "messages": [{"role": "user", "content": PROMPT}]}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


def _messages(model: str, *, stream: bool) -> dict[str, object]:
    return {
        "model": model,
        "max_tokens": 1024,
        "stream": stream,
        "messages": [{"role": "user", "content": PROMPT}],
    }


async def _fetch(client: httpx.AsyncClient, path: str, body: dict[str, object]) -> bytes:
    resp = await client.post(path, json=body, headers=_HEADERS)
    if resp.status_code != 200:
        raise RuntimeError(f"the mock LLM answered {resp.status_code}: {resp.text[:200]}")
    return resp.content


async def make(chunks: int = 50, slow_events: int = 101) -> Canned:
    """Answers with `chunks` content chunks per stream, from inside a running loop."""
    if chunks < 1:
        raise ValueError("a stream needs at least one content chunk")
    app = create_app(MockSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
        openai_json = await _fetch(client, "/v1/chat/completions", _chat("gpt-mock", stream=False))
        openai_sse = await _fetch(
            client, "/v1/chat/completions", _chat(f"gpt-mock+tokens={chunks}", stream=True)
        )
        anthropic_json = await _fetch(
            client, "/v1/messages", _messages("claude-mock", stream=False)
        )
        anthropic_sse = await _fetch(
            client, "/v1/messages", _messages(f"claude-mock+tokens={chunks}", stream=True)
        )
        # a stream of exactly `slow_events` events: the frame (role, finish,
        # usage, [DONE]) around as many content chunks as fit
        frame = len(split_events(openai_sse)) - chunks
        slow_sse = await _fetch(
            client,
            "/v1/chat/completions",
            _chat(f"gpt-mock+tokens={max(1, slow_events - frame)}", stream=True),
        )
    return Canned(
        openai_json=openai_json,
        openai_events=split_events(openai_sse),
        anthropic_json=anthropic_json,
        anthropic_events=split_events(anthropic_sse),
        slow_events=split_events(slow_sse),
    )


def build(chunks: int = 50, slow_events: int = 101) -> Canned:
    """Answers with `chunks` content chunks per stream; the slow stream has `slow_events` events."""
    return asyncio.run(make(chunks, slow_events))
