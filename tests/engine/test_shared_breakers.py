"""Two engine replicas sharing breakers through a real Redis.

Both replicas call the same provider (the mock LLM behind an outage switch,
which counts every attempt). Once the first replica has found a deployment
dead, the second one skips it without trying it first; once the first
replica's probe finds it healed, the second one uses it again.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from junction_contracts import Route
from junction_engine.app import create_app
from junction_engine.breaker_sync import BREAKERS_KEY
from junction_engine.client_keys import hash_key
from junction_engine.routing import HealthBoard
from junction_engine.settings import EngineSettings
from junction_mockllm.app import create_app as create_mock_app
from tests.engine.conftest import MOCK_KEY
from tests.support.outage import OutageSwitch
from tests.support.routes import SECRET, FakeControl, deployment, model_route, route

pytestmark = pytest.mark.redis

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


class Clock:
    def __init__(self) -> None:
        self.now = 50_000.0

    def __call__(self) -> float:
        return self.now


def board_of(app: Starlette) -> HealthBoard:
    board: HealthBoard = app.state.engine.forwarder.board
    return board


async def until(check: object, what: str) -> None:
    """Wait (5 s at most) for the replicas' background syncs to make `check()` true."""
    for _ in range(100):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


@asynccontextmanager
async def replicas(
    redis_url: str, the_route: Route, provider: OutageSwitch, clock: Clock
) -> AsyncIterator[list[tuple[httpx.AsyncClient, Starlette]]]:
    settings = EngineSettings(
        internal_secret=SECRET,
        control_url="http://control",
        redis_url=redis_url,
        breaker_sync_seconds=0.05,
    )
    # a key of its own: routes are shared through Redis too
    key = f"jk-shared-{secrets.token_hex(8)}"
    async with AsyncExitStack() as stack:
        out = []
        for _ in range(2):
            app = create_app(
                settings,
                upstream_transport=httpx.ASGITransport(app=provider),
                control_transport=FakeControl({hash_key(key): the_route}).transport(),
                clock=clock,
            )
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://engine",
                    headers={"authorization": f"Bearer {key}"},
                )
            )
            out.append((client, app))
        yield out


@pytest.fixture
async def ids(redis_url: str) -> AsyncIterator[str]:
    """A fresh id prefix per test; its fields are removed from the shared hash after it."""
    prefix = f"dep-{secrets.token_hex(4)}"
    yield prefix
    redis = Redis.from_url(redis_url)
    fields = [f for f in await redis.hkeys(BREAKERS_KEY) if f.decode().startswith(prefix)]
    fields += [
        f for f in await redis.hkeys(BREAKERS_KEY) if f.decode().startswith("cred-" + prefix)
    ]
    if fields:
        await redis.hdel(BREAKERS_KEY, *fields)
    await redis.aclose()


async def test_a_second_replica_skips_a_deployment_the_first_found_dead(
    redis_url: str, ids: str
) -> None:
    provider = OutageSwitch(create_mock_app())
    dep = f"{ids}-a"
    the_route = route(
        model_route(name="m", deployments=(deployment("mock-a", key=MOCK_KEY, id=dep),))
    )
    clock = Clock()
    async with replicas(redis_url, the_route, provider, clock) as [(first, a), (second, b)]:
        provider.down = True
        while board_of(a).state(dep) == "closed":
            assert (await first.post("/v1/chat/completions", json=CHAT)).status_code == 502
        await until(lambda: board_of(b).state(dep) == "open", "the second replica learns it")

        tried = provider.total
        resp = await second.post("/v1/chat/completions", json=CHAT)
        assert resp.status_code == 503
        assert resp.json()["error"]["code"] == "no_healthy_deployment"
        assert int(resp.headers["retry-after"]) >= 1
        assert provider.total == tried  # no attempt from the second replica

        # healed: once half-open, the first replica's probe closes it for both
        provider.down = False
        clock.now += board_of(a).reopens_in([dep]) or 0.0
        assert (await first.post("/v1/chat/completions", json=CHAT)).status_code == 200
        await until(lambda: board_of(b).state(dep) == "closed", "the second replica hears it")
        assert (await second.post("/v1/chat/completions", json=CHAT)).status_code == 200
        assert provider.total == tried + 2


async def test_a_credential_refused_on_one_replica_is_skipped_by_the_other(
    redis_url: str, ids: str
) -> None:
    provider = OutageSwitch(create_mock_app())
    dep = f"{ids}-k"
    the_route = route(
        model_route(
            name="m", deployments=(deployment("mock-k", key="invalid-provider-key", id=dep),)
        )
    )
    async with replicas(redis_url, the_route, provider, Clock()) as [(first, a), (second, b)]:
        refused = await first.post("/v1/chat/completions", json=CHAT)
        assert refused.status_code == 502, refused.text
        assert refused.json()["error"]["code"] == "upstream_auth_failed"
        cred = f"cred-{dep}"
        assert board_of(a).state(cred) == "invalid"
        await until(lambda: board_of(b).state(cred) == "invalid", "the second replica learns it")
        tried = provider.total
        resp = await second.post("/v1/chat/completions", json=CHAT)
        assert resp.status_code == 503
        assert provider.total == tried
