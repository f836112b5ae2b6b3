"""Requests in flight: the per-process cap sheds the excess at once, the tenant cap refuses it.

Provider calls are held by a gate in front of the mock until the test opens
it, so "while the admitted calls were still in flight" is a fact of the
test, not a race against a clock.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

import httpx
from starlette.types import Message, Receive, Scope, Send

from junction_engine.app import create_app
from junction_engine.asgi import EngineApp
from junction_engine.client_keys import hash_key
from junction_mockllm.app import create_app as create_mock_app
from tests.engine.conftest import KEY, MOCK_KEY, build_engine
from tests.engine.test_slow_clients import HELLO, control_for, settings_for
from tests.support.routes import FakeControl, deployment, model_route, route
from tests.support.served import served
from tests.support.served_engine import served_engine

CHAT = {"model": "m", "messages": HELLO}


class Gate:
    """The mock, holding provider calls to `path` until the test opens the gate.

    `mid_stream`: hold after the first chunk of the answer instead of before
    the call, so a stream is under way while it is held.
    """

    def __init__(self, app: Any, path: str = "/v1/chat/completions", mid_stream: bool = False):
        self.app = app
        self.path = path
        self.mid_stream = mid_stream
        self.opened = threading.Event()
        self.held = 0

    async def _wait(self) -> None:
        self.held += 1
        while not self.opened.is_set():
            await asyncio.sleep(0.01)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        if not self.mid_stream:
            await self._wait()
            await self.app(scope, receive, send)
            return
        chunks = 0

        async def held_send(message: Message) -> None:
            nonlocal chunks
            await send(message)
            if message["type"] == "http.response.body":
                chunks += 1
                if chunks == 1:
                    await self._wait()

        await self.app(scope, receive, held_send)


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(3000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def metric(text: str, name: str) -> float:
    [line] = [ln for ln in text.splitlines() if ln.startswith(name + " ")]
    return float(line.split()[1])


async def test_twice_the_in_flight_cap_sent_at_once_sheds_exactly_the_excess() -> None:
    gate = Gate(create_mock_app())
    with served(gate) as mock_url:
        control = control_for(mock_url)
        settings = settings_for(max_in_flight=4)
        app = create_app(settings, control_transport=control.transport())
        with served_engine(app, settings) as (url, _):
            async with httpx.AsyncClient(
                base_url=url, headers={"authorization": f"Bearer {KEY}"}, timeout=60
            ) as client:
                calls = [
                    asyncio.create_task(client.post("/v1/chat/completions", json=CHAT))
                    for _ in range(8)
                ]
                shed: list[httpx.Response] = []
                pending: set[asyncio.Task[httpx.Response]] = set(calls)
                while len(shed) < 4:
                    done, pending = await asyncio.wait(
                        pending, timeout=60, return_when=asyncio.FIRST_COMPLETED
                    )
                    assert done, "fewer requests than the excess came back"
                    shed += [t.result() for t in done]
                # the shed answers are back; the admitted calls are all still held upstream
                await until(lambda: gate.held == 4, "the admitted calls reached the provider")
                assert len(pending) == 4
                assert not any(t.done() for t in pending)
                health = await client.get("/healthz")  # probes are never shed
                metrics = (await client.get("/metrics")).text
                gate.opened.set()
                admitted = await asyncio.gather(*pending)
    assert [r.status_code for r in shed] == [503] * 4
    for r in shed:
        assert r.headers["retry-after"] == "1"
        assert r.json()["error"]["code"] == "overloaded"
        assert r.json()["error"]["type"] == "service_unavailable_error"
    assert [r.status_code for r in admitted] == [200] * 4
    assert gate.held == 4  # a shed request never reached a provider
    assert health.status_code == 200
    assert metric(metrics, "junction_engine_requests_shed_total") == 4
    assert metric(metrics, "junction_engine_requests_in_flight") == 4


async def test_a_stream_holds_its_slot_until_it_ends() -> None:
    gate = Gate(create_mock_app(), mid_stream=True)
    with served(gate) as mock_url:
        control = control_for(mock_url)
        settings = settings_for(max_in_flight=1)
        app = create_app(settings, control_transport=control.transport())
        with served_engine(app, settings) as (url, _):
            async with httpx.AsyncClient(
                base_url=url, headers={"authorization": f"Bearer {KEY}"}, timeout=60
            ) as client:
                async with client.stream(
                    "POST", "/v1/chat/completions", json={**CHAT, "stream": True}
                ) as stream:
                    lines = stream.aiter_lines()
                    assert (await anext(lines)).startswith("data: ")  # under way, and held
                    during = await client.post("/v1/chat/completions", json=CHAT)
                    gate.opened.set()
                    rest = [line async for line in lines]
                # the slot is given back once the engine is done with the stream
                admission = cast(EngineApp, app).admission
                await until(lambda: admission.in_flight == 0, "the stream's slot was freed")
                after = await client.post("/v1/chat/completions", json=CHAT)
    assert during.status_code == 503
    assert "data: [DONE]" in rest
    assert after.status_code == 200


async def test_a_full_engine_sheds_in_each_callers_protocol_and_still_answers_probes() -> None:
    async with build_engine(max_in_flight=2) as e:
        app = cast(EngineApp, e.app)
        app.admission.in_flight = 2  # as if two calls were being served
        openai = await e.client.post(
            "/v1/chat/completions", json={"model": "gpt", "messages": HELLO}
        )
        anthropic = await e.client.post(
            "/v1/messages", json={"model": "claude", "max_tokens": 5, "messages": HELLO}
        )
        gemini = await e.client.post(
            "/v1beta/models/gem:generateContent",
            json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        )
        models = await e.client.get("/v1/models")
        probes = [await e.client.get(p) for p in ("/healthz", "/readyz", "/metrics")]
        app.admission.in_flight = 0
        served_again = await e.client.post(
            "/v1/chat/completions", json={"model": "gpt", "messages": HELLO}
        )
    for r in (openai, anthropic, gemini, models):
        assert r.status_code == 503
        assert r.headers["retry-after"] == "1"
    assert openai.json()["error"]["code"] == "overloaded"
    assert anthropic.json() == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": anthropic.json()["error"]["message"]},
    }
    assert gemini.json()["error"]["status"] == "UNAVAILABLE"
    assert [p.status_code for p in probes] == [200, 200, 200]
    assert served_again.status_code == 200
    assert app.admission.in_flight == 0  # every slot taken was given back


async def test_the_tenant_cap_refuses_one_tenants_excess_and_lets_others_in() -> None:
    gate = Gate(create_mock_app())
    model = model_route(name="m", deployments=(deployment("mock-gpt", key=MOCK_KEY),))
    first = route(model)
    other_key = KEY + "-other-tenant"
    other = replace(first, token=replace(first.token, id="tok-2", tenant_id="ten-2"))
    control = FakeControl({hash_key(KEY): first, hash_key(other_key): other})
    settings = settings_for(tenant_max_in_flight=2)
    app = cast(
        EngineApp,
        create_app(
            settings,
            upstream_transport=httpx.ASGITransport(app=gate),
            control_transport=control.transport(),
        ),
    )

    def post(key: str) -> Any:
        return client.post(
            "/v1/chat/completions", json=CHAT, headers={"authorization": f"Bearer {key}"}
        )

    def gemini(key: str) -> Any:  # served through Starlette's router, not the hot table
        return client.post(
            "/v1beta/models/m:generateContent",
            json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
            headers={"x-goog-api-key": key},
        )

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://e") as client,
    ):
        held = [asyncio.create_task(post(KEY)), asyncio.create_task(gemini(KEY))]
        await until(lambda: gate.held == 2, "the tenant's two calls reached the provider")
        refused = await post(KEY)
        refused_gemini = await gemini(KEY)
        others = asyncio.create_task(post(other_key))  # another tenant is not held back
        await until(lambda: gate.held == 3, "the other tenant's call reached the provider")
        assert app.admission.tenants == {"ten-1": 2, "ten-2": 1}
        gate.opened.set()
        answered = await asyncio.gather(*held, others)
        assert app.admission.tenants == {}  # every slot is given back when its call ends
        again = await post(KEY)
        metrics = (await client.get("/metrics")).text
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["code"] == "tenant_concurrency_limit"
    assert refused_gemini.status_code == 429
    assert refused_gemini.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert [r.status_code for r in answered] == [200, 200, 200]
    assert again.status_code == 200
    assert 'junction_engine_refusals_total{code="tenant_concurrency_limit"} 2.0' in metrics


async def test_with_no_tenant_cap_nothing_is_counted_per_tenant() -> None:
    async with build_engine() as e:
        app = cast(EngineApp, e.app)
        ok = await e.client.post("/v1/chat/completions", json={"model": "gpt", "messages": HELLO})
        assert ok.status_code == 200
        assert not app.admission.per_tenant
        assert app.admission.tenants == {}


async def test_a_request_is_shed_before_its_body_is_read() -> None:
    async with build_engine(max_in_flight=1) as e:
        app = cast(EngineApp, e.app)
        app.admission.in_flight = 1
        sent: list[Message] = []

        async def receive() -> Message:  # a body that never comes
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/messages",
            "raw_path": b"/v1/messages",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"9000")],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8090),
        }
        await asyncio.wait_for(app(scope, receive, send), timeout=10)
        app.admission.in_flight = 0
    assert sent[0]["status"] == 503
    assert (b"retry-after", b"1") in sent[0]["headers"]
    assert b"overloaded_error" in sent[1]["body"]


async def test_a_cap_of_zero_is_no_cap() -> None:
    async with build_engine(max_in_flight=0) as e:
        app = cast(EngineApp, e.app)
        app.admission.in_flight = 100_000  # far past any cap a process could be given
        ok = await e.client.post("/v1/chat/completions", json={"model": "gpt", "messages": HELLO})
        app.admission.in_flight = 0
    assert ok.status_code == 200
