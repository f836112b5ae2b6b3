"""Every deployment of a model down for a minute: breakers, the retry budget, 503 + Retry-After.

One engine in-process, the mock LLM as its provider behind an outage switch,
and a clock moved by hand: 200 client requests spread over 60 simulated
seconds while every deployment fails. The provider must see few attempts
(no retry storm), clients get a 503 in their own protocol with the time
until the first breaker half-opens, and once the provider heals one probe
closes each breaker again.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette

from junction_engine.app import create_app
from junction_engine.client_keys import hash_key
from junction_engine.routing import HealthBoard
from junction_engine.settings import EngineSettings
from junction_mockllm.app import create_app as create_mock_app
from tests.engine.conftest import KEY, MOCK_KEY
from tests.support.outage import OutageSwitch
from tests.support.routes import SECRET, FakeControl, deployment, model_route, route

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
KEYS = ("dep-a", "cred-dep-a", "dep-b", "cred-dep-b")


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Outage:
    client: httpx.AsyncClient
    provider: OutageSwitch
    clock: Clock
    control: FakeControl
    app: Starlette

    @property
    def board(self) -> HealthBoard:
        board: HealthBoard = self.app.state.engine.forwarder.board
        return board


@asynccontextmanager
async def outage_engine() -> AsyncIterator[Outage]:
    provider = OutageSwitch(create_mock_app())
    model = model_route(
        name="m",
        deployments=(
            deployment("mock-a", key=MOCK_KEY, priority=0, id="dep-a"),
            deployment("mock-b", key=MOCK_KEY, priority=1, id="dep-b"),
        ),
    )
    control = FakeControl({hash_key(KEY): route(model)})
    clock = Clock()
    app = create_app(
        EngineSettings(internal_secret=SECRET, control_url="http://control"),
        upstream_transport=httpx.ASGITransport(app=provider),
        control_transport=control.transport(),
        clock=clock,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://engine",
            headers={"authorization": f"Bearer {KEY}"},
        ) as client,
    ):
        yield Outage(client, provider, clock, control, app)


async def test_a_minute_of_total_outage_costs_few_attempts_and_answers_503_retry_after() -> None:
    async with outage_engine() as o:
        o.provider.down = True
        statuses: dict[int, int] = {}
        for _ in range(200):  # 200 requests over 60 s
            resp = await o.client.post("/v1/chat/completions", json=CHAT)
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
            if resp.status_code == 503:
                assert resp.json()["error"]["code"] == "no_healthy_deployment"
                wait = o.board.reopens_in(KEYS)
                assert wait is not None
                assert resp.headers["retry-after"] == str(max(1, math.ceil(wait)))
            else:
                assert resp.status_code == 502
            o.clock.now += 0.3

        assert o.provider.total / 200 <= 1.2
        assert statuses[503] > statuses.get(502, 0)
        assert (o.board.state("dep-a"), o.board.state("dep-b")) != ("closed", "closed")

        # the provider heals; once a breaker half-opens, one probe closes it
        o.provider.down = False
        wait = o.board.reopens_in(KEYS)
        assert wait is not None
        o.clock.now += wait
        before = o.provider.total
        resp = await o.client.post("/v1/chat/completions", json=CHAT)
        assert resp.status_code == 200
        assert o.provider.total == before + 1
        o.clock.now += o.board.reopens_in(KEYS) or 0.0
        for _ in range(5):
            assert (await o.client.post("/v1/chat/completions", json=CHAT)).status_code == 200
        assert o.board.state("dep-a") == "closed"
        # the backup gets its probe when traffic fails over to it, not before
        assert o.board.state("dep-b") == "half_open"
        assert o.provider.attempts["mock-a"] >= 6  # the primary serves again

        metrics = (await o.client.get("/metrics")).text
        assert 'junction_engine_breaker_state{id="dep-a",kind="deployment"} 0.0' in metrics
        assert "junction_engine_breaker_shed_total" in metrics
        assert re.search(
            r'^junction_engine_upstream_attempts_total\{deployment="dep-a",outcome="failed",',
            metrics,
            re.M,
        )


async def test_a_half_open_breaker_lets_exactly_one_probe_through() -> None:
    async with outage_engine() as o:
        o.provider.down = True
        while o.board.state("dep-a") == "closed" or o.board.state("dep-b") == "closed":
            await o.client.post("/v1/chat/completions", json=CHAT)
        o.clock.now += max(o.board.breakers[k].reopens_in(o.clock()) or 0.0 for k in KEYS[::2])
        assert (o.board.state("dep-a"), o.board.state("dep-b")) == ("half_open", "half_open")
        before = dict(o.provider.attempts)
        answers = [await o.client.post("/v1/chat/completions", json=CHAT) for _ in range(10)]
        probes = {m: n - before.get(m, 0) for m, n in o.provider.attempts.items()}
        assert probes == {"mock-a": 1, "mock-b": 1}  # one each, then open again (for longer)
        assert all(a.status_code in (502, 503) for a in answers)
        assert o.board.state("dep-a") == "open"


async def test_shed_calls_are_503_in_each_clients_protocol() -> None:
    async with outage_engine() as o:
        o.provider.down = True
        while o.board.state("dep-a") == "closed" or o.board.state("dep-b") == "closed":
            await o.client.post("/v1/chat/completions", json=CHAT)
        anthropic = await o.client.post(
            "/v1/messages",
            headers={"anthropic-version": "2023-06-01"},
            json={"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
        )
        gemini = await o.client.post(
            "/v1beta/models/m:generateContent",
            json={"contents": [{"role": "user", "parts": [{"text": "x"}]}]},
        )
        openai = await o.client.post("/v1/chat/completions", json=CHAT)
        for resp in (anthropic, gemini, openai):
            assert resp.status_code == 503
            assert int(resp.headers["retry-after"]) >= 1
        assert anthropic.json()["type"] == "error"
        assert anthropic.json()["error"]["type"] == "overloaded_error"
        assert gemini.json()["error"]["status"] == "UNAVAILABLE"
        assert openai.json()["error"]["code"] == "no_healthy_deployment"
        recorded = [e for e in o.control.events if e.get("error_code") == "no_healthy_deployment"]
        assert recorded == [] or all(e["attempts"] == 0 for e in recorded)


async def test_a_502_after_a_real_attempt_carries_retry_after_once_a_breaker_knows() -> None:
    async with outage_engine() as o:
        o.provider.down = True
        answers = []
        while o.board.state("dep-a") == "closed" or o.board.state("dep-b") == "closed":
            answers.append(await o.client.post("/v1/chat/completions", json=CHAT))
        last = answers[-1]  # the attempt that opened the last breaker
        assert last.status_code == 502
        assert int(last.headers["retry-after"]) >= 1
