"""A frozen or refusing Redis costs a request one short timeout at most, and heals by itself.

Each test starts a Redis of its own and freezes it with SIGSTOP: connections
stay open, the kernel takes the commands, nothing answers. The engine's
client is built by the app factory's `create_redis`, as in production.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from junction_contracts.cache import ROUTE_KEY_PREFIX, ROUTES_CHANGED_CHANNEL
from junction_engine.app import create_redis
from junction_engine.client_keys import hash_key
from junction_engine.redis_guard import RedisGuard
from junction_engine.revocations import RevocationListener
from junction_engine.route_cache import RouteCache
from junction_engine.settings import EngineSettings
from junction_engine.shared_cache import SharedRouteCache
from tests.engine.conftest import build_engine, default_route
from tests.support.redis_server import RedisServer, redis_server
from tests.support.routes import SECRET, route
from tests.support.stack import free_port

pytestmark = pytest.mark.redis


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path) as server:
        try:
            yield server
        finally:
            server.thaw()


@pytest.fixture
async def engine_redis(own_redis: RedisServer) -> AsyncIterator[Redis]:
    client = create_redis(
        EngineSettings(internal_secret=SECRET, redis_url=own_redis.url, redis_max_connections=4)
    )
    assert client is not None
    yield client
    await client.aclose()


class Control:
    def __init__(self) -> None:
        self.calls = 0
        self.route = route()

    async def __call__(self, token_hash: str):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.route


async def eventually(condition, what: str, *, poke=None) -> None:  # type: ignore[no-untyped-def]
    for _ in range(200):
        if poke is not None:
            poke()
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {what}")


async def test_a_frozen_redis_costs_one_timeout_then_is_skipped(
    own_redis: RedisServer, engine_redis: Redis
) -> None:
    guard = RedisGuard(engine_redis, timeout=0.1)
    control = Control()
    cache = RouteCache(control, shared=SharedRouteCache(guard, keep_seconds=60))
    try:
        assert await cache.get("warm") is not None  # a pooled connection, and Redis answers
        own_redis.freeze()
        for key in ("new-1", "new-2", "new-3"):
            assert await cache.get(key) == control.route
        assert guard.timeouts == 1  # new-1's read; its write and the later keys skipped Redis
        assert guard.errors == 0
        assert not guard.healthy
        assert control.calls == 4
        own_redis.thaw()
        await eventually(lambda: guard.healthy, "recovered", poke=guard.probe_if_due)
        assert await cache.get("after") is not None
        with own_redis.client() as plain:
            assert plain.exists(ROUTE_KEY_PREFIX + "after")  # written again, no restart
    finally:
        await guard.aclose()


async def test_a_frozen_redis_does_not_exhaust_the_pool(
    own_redis: RedisServer, engine_redis: Redis
) -> None:
    guard = RedisGuard(engine_redis, timeout=0.1)
    shared = SharedRouteCache(guard, keep_seconds=60)
    stored = route()
    await shared.put("k", stored)
    try:
        own_redis.freeze()
        # far more callers than the pool's 4 connections: each gives up within the timeout
        frozen = await asyncio.gather(*(shared.get("k") for _ in range(50)))
        assert frozen == [None] * 50
        own_redis.thaw()
        await eventually(lambda: guard.healthy, "recovered", poke=guard.probe_if_due)
        # no connection was left checked out or out of step by the timeouts
        thawed = await asyncio.gather(*(shared.get("k") for _ in range(20)))
        assert [hit[0] if hit else None for hit in thawed] == [stored] * 20
    finally:
        await guard.aclose()


async def test_a_redis_that_refuses_connections_is_skipped_for_a_back_off() -> None:
    settings = EngineSettings(
        internal_secret=SECRET, redis_url=f"redis://127.0.0.1:{free_port()}/0"
    )
    client = create_redis(settings)
    assert client is not None
    guard = RedisGuard(client, timeout=0.1)
    control = Control()
    cache = RouteCache(control, shared=SharedRouteCache(guard, keep_seconds=60))
    try:
        for key in ("a", "b", "c"):
            assert await cache.get(key) == control.route
        assert (guard.errors, guard.timeouts) == (1, 0)
        assert guard.check()["status"] == "down"
    finally:
        await guard.aclose()
        await client.aclose()


async def test_the_revocation_listener_notices_a_frozen_redis_and_resubscribes(
    own_redis: RedisServer, engine_redis: Redis
) -> None:
    control = Control()
    routes = RouteCache(control)
    listener = RevocationListener(
        engine_redis, routes, timeout=0.1, heartbeat_seconds=0.2, retry_seconds=0.1
    )
    listener.start()
    try:
        await asyncio.wait_for(listener.subscribed.wait(), 10)
        own_redis.freeze()
        await eventually(lambda: not listener.subscribed.is_set(), "noticed the freeze")
        own_redis.thaw()
        await asyncio.wait_for(listener.subscribed.wait(), 10)
        await routes.get("h")
        with own_redis.client() as plain:
            plain.publish(ROUTES_CHANGED_CHANNEL, "h")
        await eventually(lambda: listener.heard == 1, "heard the notice")
        assert routes.size == 0
        assert listener.lost == 1
    finally:
        await listener.close()


async def test_readiness_is_degraded_while_redis_is_frozen_and_ready_after(
    own_redis: RedisServer,
) -> None:
    keys = ["jk-outage-" + secrets.token_hex(8) for _ in range(3)]
    routes = {hash_key(k): default_route() for k in keys}
    async with build_engine(routes, redis_url=own_redis.url) as engine:
        revocations = engine.app.state.revocations
        await asyncio.wait_for(revocations.subscribed.wait(), 10)
        ready = await engine.client.get("/readyz")
        assert (ready.status_code, ready.json()["status"]) == (200, "ready")
        own_redis.freeze()
        for key in keys[:2]:  # keys this engine has never seen
            resp = await engine.client.get("/v1/models", headers={"authorization": f"Bearer {key}"})
            assert resp.status_code == 200
        degraded = await engine.client.get("/readyz")
        assert degraded.status_code == 200
        body = degraded.json()
        assert body["status"] == "degraded"
        assert body["checks"]["redis"]["status"] == "down"
        assert body["checks"]["redis"]["timeouts"] == 1
        own_redis.thaw()
        for _ in range(200):
            body = (await engine.client.get("/readyz")).json()
            if body["status"] == "ready":
                break
            await asyncio.sleep(0.05)
        assert body["status"] == "ready", body
        resp = await engine.client.get("/v1/models", headers={"authorization": f"Bearer {keys[2]}"})
        assert resp.status_code == 200
        with own_redis.client() as plain:
            assert plain.exists(ROUTE_KEY_PREFIX + hash_key(keys[2]))
