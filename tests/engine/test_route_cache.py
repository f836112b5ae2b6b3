from __future__ import annotations

import asyncio

import pytest

from junction_engine.control_client import ControlError
from junction_engine.errors import ControlUnavailable
from junction_engine.route_cache import RouteCache
from tests.support.routes import route


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Resolver:
    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.known = {"h1": route()}
        self.gate: asyncio.Event | None = None

    async def __call__(self, token_hash: str):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise ControlError("down")
        return self.known.get(token_hash)


async def test_a_hit_does_not_call_the_control_plane() -> None:
    resolver, clock = Resolver(), Clock()
    cache = RouteCache(resolver, ttl=30, clock=clock)
    assert await cache.get("h1") is not None
    clock.now += 29
    assert await cache.get("h1") is not None
    assert resolver.calls == 1
    clock.now += 2
    await cache.get("h1")  # stale: served, and refreshed in the background
    await cache.drain()
    assert resolver.calls == 2


async def test_concurrent_misses_make_one_call() -> None:
    resolver = Resolver()
    resolver.gate = asyncio.Event()
    cache = RouteCache(resolver)
    waiters = [asyncio.create_task(cache.get("h1")) for _ in range(50)]
    await asyncio.sleep(0)
    resolver.gate.set()
    results = await asyncio.gather(*waiters)
    assert all(r is not None for r in results)
    assert resolver.calls == 1


async def test_a_cancelled_caller_does_not_cancel_the_shared_lookup() -> None:
    resolver = Resolver()
    resolver.gate = asyncio.Event()
    cache = RouteCache(resolver)
    first = asyncio.create_task(cache.get("h1"))
    second = asyncio.create_task(cache.get("h1"))
    await asyncio.sleep(0)
    first.cancel()
    resolver.gate.set()
    assert await second is not None
    assert resolver.calls == 1


async def test_stale_route_is_served_while_the_control_plane_is_down() -> None:
    resolver, clock = Resolver(), Clock()
    cache = RouteCache(resolver, ttl=10, max_stale=100, clock=clock)
    await cache.get("h1")
    resolver.fail = True
    clock.now += 50
    assert await cache.get("h1") is not None
    assert cache.stale_served == 1
    clock.now += 60  # past max staleness
    with pytest.raises(ControlUnavailable):
        await cache.get("h1")


async def test_unknown_key_with_control_down_is_503_not_500() -> None:
    resolver = Resolver()
    resolver.fail = True
    with pytest.raises(ControlUnavailable) as info:
        await RouteCache(resolver).get("never-seen")
    assert info.value.status == 503


async def test_unknown_keys_are_remembered_briefly() -> None:
    resolver, clock = Resolver(), Clock()
    cache = RouteCache(resolver, unknown_ttl=5, clock=clock)
    for _ in range(10):
        assert await cache.get("nope") is None
    assert resolver.calls == 1
    clock.now += 6
    await cache.get("nope")
    assert resolver.calls == 2


async def test_a_failing_control_plane_is_not_asked_again_for_every_request() -> None:
    resolver, clock = Resolver(), Clock()
    cache = RouteCache(resolver, ttl=10, max_stale=100, clock=clock)
    await cache.get("h1")
    resolver.fail = True
    clock.now += 20
    for _ in range(10):
        assert await cache.get("h1") is not None
        await cache.drain()
    assert resolver.calls == 2  # one failed refresh, then the stale route for a while
    clock.now += 6
    await cache.get("h1")
    await cache.drain()
    assert resolver.calls == 3
