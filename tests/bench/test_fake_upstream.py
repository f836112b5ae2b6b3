"""The bench's fake upstream speaks the providers' wire formats, as the official SDKs read them,
and both floor proxies relay it unchanged."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import anthropic
import openai
import pytest
from starlette.applications import Starlette

from tests.bench import canned, floor, proxy, upstream
from tests.bench.wrk import Call
from tests.support.served import served
from tests.support.stack import free_port

CHUNKS = 20


@pytest.fixture
async def fake_upstream() -> AsyncIterator[str]:
    made = await canned.make(CHUNKS, slow_events=5)
    answers = upstream.Answers.from_canned(made, slow_interval=0.02)
    port = free_port()
    server = asyncio.create_task(upstream.serve(answers, port))
    await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.cancel()


async def test_an_openai_stream_has_every_chunk_and_the_usage(fake_upstream: str) -> None:
    client = openai.AsyncOpenAI(base_url=f"{fake_upstream}/v1", api_key="bench")
    stream = await client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(texts) == CHUNKS
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == CHUNKS
    await client.close()


async def test_an_openai_completion_comes_whole_on_a_kept_alive_connection(
    fake_upstream: str,
) -> None:
    client = openai.AsyncOpenAI(base_url=f"{fake_upstream}/v1", api_key="bench")
    for _ in range(3):
        answer = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.choices[0].message.content
        assert answer.usage is not None
    await client.close()


async def test_an_anthropic_stream_has_every_delta_and_the_usage(fake_upstream: str) -> None:
    client = anthropic.AsyncAnthropic(base_url=fake_upstream, api_key="bench")
    async with client.messages.stream(
        model="m", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_message()
    deltas = [e for e in events if e.type == "content_block_delta"]
    assert len(deltas) == CHUNKS
    assert final.usage.output_tokens == CHUNKS
    await client.close()


async def test_a_slow_stream_is_paced_event_by_event(fake_upstream: str) -> None:
    client = openai.AsyncOpenAI(base_url=f"{fake_upstream}/v1", api_key="bench")
    start = time.monotonic()
    stream = await client.chat.completions.create(
        model="bench-slow-stream", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    assert len(chunks) == 4  # five events, the last one [DONE]
    assert time.monotonic() - start >= 4 * 0.02
    await client.close()


@pytest.mark.parametrize(
    "make_proxy", [floor.create_app, proxy.create_app], ids=["aiohttp", "httpx"]
)
async def test_a_floor_proxy_relays_streams_and_whole_answers_unchanged(
    fake_upstream: str, make_proxy: Callable[[str], Starlette]
) -> None:
    with served(make_proxy(fake_upstream)) as url:
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="bench")
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        chunks = [chunk async for chunk in stream]
        whole = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
        await client.close()
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == CHUNKS
    assert whole.choices[0].message.content


def test_the_wrk_script_carries_the_body_and_headers() -> None:
    call = Call(
        "http://127.0.0.1:1/v1/chat/completions",
        {"authorization": "Bearer k"},
        b'{"a":[[1]]}',
        expect=b"x",
    )
    script = call.lua()
    assert 'wrk.body = [=[{"a":[[1]]}]=]' in script
    assert 'wrk.headers["authorization"] = "Bearer k"' in script
    assert "done = function" in script
