"""The Redis second-level route cache, against a real Redis."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from junction_engine.client_keys import hash_key
from junction_engine.control_client import ControlError
from junction_engine.errors import ControlUnavailable
from junction_engine.route_cache import RouteCache
from junction_engine.shared_cache import SharedRouteCache
from tests.engine.conftest import build_engine, default_route
from tests.support.routes import deployment, model_route, route

pytestmark = pytest.mark.redis

PROVIDER_KEY = "sk-never-in-redis-" + "x" * 16


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


class Control:
    def __init__(self) -> None:
        self.calls = 0
        self.down = False
        self.route = route(model_route(name="m", deployments=(deployment("up", key=PROVIDER_KEY),)))

    async def __call__(self, token_hash: str):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.down:
            raise ControlError("down")
        return self.route


async def test_a_second_replica_gets_the_route_from_redis(redis: Redis) -> None:
    control = Control()
    key = secrets.token_hex(16)
    first = RouteCache(control, shared=SharedRouteCache(redis, keep_seconds=60))
    second = RouteCache(control, shared=SharedRouteCache(redis, keep_seconds=60))
    assert await first.get(key) == control.route
    assert await second.get(key) == control.route
    assert control.calls == 1
    assert second.shared_hits == 1


async def test_redis_holds_only_sealed_keys(redis: Redis) -> None:
    key = secrets.token_hex(16)
    await RouteCache(Control(), shared=SharedRouteCache(redis, keep_seconds=60)).get(key)
    raw = await redis.get("junction:route:v1:" + key)
    assert raw is not None
    assert PROVIDER_KEY.encode() not in raw
    assert b"sealed.v1." in raw


async def test_stale_route_in_redis_carries_a_control_outage(redis: Redis) -> None:
    control = Control()
    key = secrets.token_hex(16)
    await RouteCache(control, shared=SharedRouteCache(redis, keep_seconds=600)).get(key)
    control.down = True
    now = [0.0]
    later = RouteCache(
        control,
        ttl=1,
        max_stale=600,
        shared=SharedRouteCache(redis, keep_seconds=600),
        wall_clock=lambda: now[0],
    )
    now[0] = time.time() + 120  # two minutes on: stale, but within max staleness
    assert await later.get(key) == control.route
    assert later.stale_served == 1
    now[0] = time.time() + 1200  # past it
    with pytest.raises(ControlUnavailable):
        await RouteCache(
            control,
            ttl=1,
            max_stale=600,
            shared=SharedRouteCache(redis, keep_seconds=600),
            wall_clock=lambda: now[0],
        ).get(key)


async def test_redis_down_is_only_a_miss() -> None:
    control = Control()
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        cache = RouteCache(control, shared=SharedRouteCache(dead, keep_seconds=60))
        assert await cache.get("k") == control.route
        assert control.calls == 1
    finally:
        await dead.aclose()


async def test_two_engines_share_one_control_lookup(redis_url: str) -> None:
    token = "jk-shared-" + secrets.token_hex(8)
    routes = {hash_key(token): default_route()}
    async with (
        build_engine(routes, redis_url=redis_url) as a,
        build_engine(routes, redis_url=redis_url) as b,
    ):
        for engine in (a, b):
            resp = await engine.client.get(
                "/v1/models", headers={"authorization": f"Bearer {token}"}
            )
            assert resp.status_code == 200
        assert a.control.calls + b.control.calls == 1


async def test_a_route_sealed_under_another_secret_is_a_miss(redis: Redis) -> None:
    from junction_contracts.sealing import derive_sealing_key
    from junction_engine.app import route_opens

    control = Control()
    key = secrets.token_hex(16)
    # another deployment (or a rotated secret) wrote this route to the shared Redis
    await SharedRouteCache(redis, keep_seconds=60).put(key, control.route)
    ours = derive_sealing_key(b"a-different-internal-secret-of-32+bytes")
    cache = RouteCache(
        control,
        shared=SharedRouteCache(redis, keep_seconds=60, opens=lambda r: route_opens(r, ours)),
    )
    assert await cache.get(key) == control.route
    assert cache.shared_hits == 0
    assert control.calls == 1  # fetched from the control plane instead


async def test_a_published_change_reaches_every_replica_at_once(redis_url: str) -> None:
    from junction_contracts.cache import ROUTES_CHANGED_CHANNEL

    token = "jk-revoke-" + secrets.token_hex(8)
    token_hash = hash_key(token)
    routes = {token_hash: default_route()}
    async with (
        build_engine(routes, redis_url=redis_url) as a,
        build_engine(routes, redis_url=redis_url) as b,
    ):
        headers = {"authorization": f"Bearer {token}"}
        for engine in (a, b):
            assert (await engine.client.get("/v1/models", headers=headers)).status_code == 200
            await asyncio.wait_for(engine.app.state.revocations.subscribed.wait(), 5)
        # the control plane revokes the key: new route, old cache entries dropped
        revoked = route(*default_route().models, revoked=True)
        a.control.routes[token_hash] = revoked
        b.control.routes[token_hash] = revoked
        publisher = Redis.from_url(redis_url)
        try:
            await publisher.delete("junction:route:v1:" + token_hash)
            await publisher.publish(ROUTES_CHANGED_CHANNEL, token_hash)
        finally:
            await publisher.aclose()
        for engine in (a, b):
            for _ in range(50):
                if engine.app.state.revocations.heard:
                    break
                await asyncio.sleep(0.02)
            resp = await engine.client.get("/v1/models", headers=headers)
            assert resp.status_code == 401
            assert resp.json()["error"]["code"] == "revoked_api_key"


async def test_a_stale_route_in_redis_is_served_at_once_and_refreshed_behind(
    redis: Redis,
) -> None:
    control = Control()
    key = secrets.token_hex(16)
    written_at = time.time() - 120  # another replica fetched it two minutes ago
    await SharedRouteCache(redis, keep_seconds=600).put(key, control.route, written_at)
    held = asyncio.Event()
    asked: list[str] = []

    async def slow_control(token_hash: str):  # type: ignore[no-untyped-def]
        asked.append(token_hash)
        await held.wait()
        return control.route

    cache = RouteCache(
        slow_control, ttl=30, max_stale=600, shared=SharedRouteCache(redis, keep_seconds=600)
    )
    assert await cache.get(key) == control.route  # before the control plane was even asked
    for _ in range(200):  # the refresh reads Redis first, then asks the control plane
        if asked:
            break
        await asyncio.sleep(0.01)
    assert asked == [key]
    assert cache.refreshing == 1
    held.set()
    await cache.drain()
    hit = await SharedRouteCache(redis, keep_seconds=600).get(key)
    assert hit is not None
    assert hit[1] > written_at  # the refresh wrote the new route back for the other replicas
