"""The body timeout, in-process: one timer watches every body read of the engine."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import Message

from junction_engine.client_keys import hash_key
from tests.engine.conftest import KEY, MOCK_KEY, EngineHarness, build_engine
from tests.support.routes import deployment, model_route, route

BODY = json.dumps({"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}).encode()


def scope_for(e: EngineHarness, path: str = "/v1/chat/completions") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"authorization", e.client.headers["authorization"].encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8090),
    }


async def call(
    e: EngineHarness, receive: Callable[[], Awaitable[Message]]
) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await e.app(scope_for(e), receive, send)
    start, *bodies = sent
    return start["status"], json.loads(b"".join(m["body"] for m in bodies)), start["headers"]


def stalling_after(first: bytes) -> Callable[[], Awaitable[Message]]:
    """A client that sends `first`, then nothing more (nor leaves)."""
    parts = [first]

    async def receive() -> Message:
        if parts:
            return {"type": "http.request", "body": parts.pop(), "more_body": True}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return receive


async def test_bodies_stalled_at_different_times_each_get_their_408() -> None:
    async with build_engine(body_timeout_seconds=0.3) as e:
        first = asyncio.create_task(call(e, stalling_after(BODY[:10])))
        await asyncio.sleep(0.15)  # the second one's deadline is later than the first's
        second = asyncio.create_task(call(e, stalling_after(BODY[:20])))
        answers = await asyncio.wait_for(asyncio.gather(first, second), timeout=10)
    for status, body, headers in answers:
        assert status == 408
        assert body["error"]["code"] == "body_timeout"
        assert (b"connection", b"close") in headers


async def test_a_body_in_several_parts_within_the_timeout_is_served() -> None:
    async with build_engine(body_timeout_seconds=5.0) as e:
        parts = [BODY[:15], BODY[15:40], BODY[40:]]

        async def receive() -> Message:
            if parts:
                await asyncio.sleep(0.01)
                part = parts.pop(0)
                return {"type": "http.request", "body": part, "more_body": bool(parts)}
            await asyncio.Event().wait()  # then only a disconnect could come
            raise AssertionError("unreachable")

        status, body, _ = await call(e, receive)
    assert status == 200
    assert body["object"] == "chat.completion"


async def test_once_the_body_is_whole_waiting_for_a_disconnect_is_not_bounded() -> None:
    """The stream's disconnect watcher reads after the body: it must wait as long as it needs."""
    # 20 events 30 ms apart: the stream outlasts the body timeout thrice over
    slow = model_route(
        name="slow-stream",
        deployments=(deployment("mock-gpt+tokens=20+chunk_delay=30", key=MOCK_KEY),),
    )
    async with build_engine({hash_key(KEY): route(slow)}, body_timeout_seconds=0.2) as e:
        sent_body = False

        async def receive() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                body = json.loads(BODY) | {"model": "slow-stream", "stream": True}
                return {"type": "http.request", "body": json.dumps(body).encode()}
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        scope = scope_for(e)
        await asyncio.wait_for(e.app(scope, receive, send), timeout=30)
    assert sent[0]["status"] == 200
    assert b"[DONE]" in b"".join(m.get("body", b"") for m in sent)
