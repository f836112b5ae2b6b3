"""Stale-while-revalidate in the route cache: a slow control plane costs warm keys nothing.

The clock is injected; the control plane is a resolver that blocks until the
test releases it, so "served while the refresh is pending" is a fact the test
sees, not a timing.
"""

from __future__ import annotations

import asyncio

import pytest

from junction_contracts import Route
from junction_engine.control_client import ControlError
from junction_engine.errors import ControlUnavailable
from junction_engine.route_cache import RouteCache
from tests.support.routes import route


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Control:
    """Answers from `known`; while `held`, every call waits until `release()`."""

    def __init__(self, keys: tuple[str, ...] = ("h1",)) -> None:
        self.known: dict[str, Route] = {k: route(token_id=f"tok-{k}") for k in keys}
        self.calls: list[str] = []
        self.answered = 0
        self.fail = False
        self._open = asyncio.Event()
        self._open.set()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    @property
    def waiting(self) -> int:
        return len(self.calls) - self.answered

    async def __call__(self, token_hash: str) -> Route | None:
        self.calls.append(token_hash)
        await self._open.wait()
        self.answered += 1
        if self.fail:
            raise ControlError("down")
        return self.known.get(token_hash)


async def settle() -> None:
    """Let started tasks run up to their first real wait."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_an_expired_route_is_served_at_once_while_one_refresh_runs() -> None:
    control, clock = Control(), Clock()
    cache = RouteCache(control, ttl=30, max_stale=900, clock=clock)
    old = await cache.get("h1")
    clock.now += 31
    control.hold()
    control.known["h1"] = new = route(token_id="tok-renewed")
    served = [await cache.get("h1") for _ in range(20)]
    served += await asyncio.gather(*(cache.get("h1") for _ in range(20)))
    await settle()
    # every caller got the stale route while the control plane had not answered
    assert served == [old] * 40
    assert control.waiting == 1
    assert cache.refreshing == 1
    assert control.calls == ["h1", "h1"]
    control.release()
    await cache.drain()
    assert await cache.get("h1") == new
    assert len(control.calls) == 2
    assert cache.refreshes == 1


async def test_each_key_gets_its_own_single_refresh() -> None:
    control, clock = Control(("a", "b", "c")), Clock()
    cache = RouteCache(control, ttl=30, clock=clock)
    for key in ("a", "b", "c"):
        await cache.get(key)
    clock.now += 31
    control.hold()
    for _ in range(5):
        for key in ("a", "b", "c"):
            assert await cache.get(key) is not None
    await settle()
    assert sorted(control.calls[3:]) == ["a", "b", "c"]
    control.release()
    await cache.drain()


async def test_a_failed_refresh_keeps_the_stale_route_until_max_stale() -> None:
    control, clock = Control(), Clock()
    cache = RouteCache(control, ttl=10, max_stale=100, clock=clock)
    first = await cache.get("h1")
    control.fail = True
    clock.now += 20
    assert await cache.get("h1") == first
    await cache.drain()  # the refresh failed
    assert await cache.get("h1") == first  # still served, and not asked again at once
    await cache.drain()
    assert len(control.calls) == 2
    clock.now += 85  # 105 s old: past max staleness, so the caller waits and gets the 503
    with pytest.raises(ControlUnavailable):
        await cache.get("h1")


async def test_beyond_max_stale_the_caller_waits_for_the_control_plane() -> None:
    control, clock = Control(), Clock()
    cache = RouteCache(control, ttl=10, max_stale=100, clock=clock)
    await cache.get("h1")
    clock.now += 150
    control.hold()
    waiting = asyncio.create_task(cache.get("h1"))
    await settle()
    assert not waiting.done()
    control.known["h1"] = new = route(token_id="tok-renewed")
    control.release()
    assert await waiting == new


async def test_a_revoked_key_is_never_served_stale() -> None:
    control, clock = Control(), Clock()
    cache = RouteCache(control, ttl=30, clock=clock)
    await cache.get("h1")
    clock.now += 31  # stale: would be served at once, were it not revoked
    control.known["h1"] = revoked = route(revoked=True)
    cache.invalidate("h1")
    control.hold()
    waiting = asyncio.create_task(cache.get("h1"))
    await settle()
    assert not waiting.done()  # no stale answer: the caller waits for the new route
    control.release()
    assert await waiting == revoked


async def test_a_refresh_under_way_when_the_key_is_revoked_stores_nothing() -> None:
    control, clock = Control(), Clock()
    cache = RouteCache(control, ttl=30, clock=clock)
    before = await cache.get("h1")
    clock.now += 31
    control.hold()
    assert await cache.get("h1") == before  # the refresh now waits on the control plane
    await settle()
    cache.invalidate("h1")  # the revocation notice arrives meanwhile
    control.release()  # ... and the refresh comes back with the route from before it
    await cache.drain()
    assert cache.size == 0
    control.known["h1"] = revoked = route(revoked=True)
    assert await cache.get("h1") == revoked
    assert len(control.calls) == 3


async def test_a_key_the_refresh_finds_deleted_is_unknown_from_then_on() -> None:
    control, clock = Control(), Clock()
    cache = RouteCache(control, ttl=30, clock=clock)
    await cache.get("h1")
    clock.now += 31
    del control.known["h1"]
    assert await cache.get("h1") is not None  # stale, one last time
    await cache.drain()
    assert await cache.get("h1") is None


async def test_background_refreshes_are_capped_and_the_rest_come_later() -> None:
    keys = tuple(f"k{i}" for i in range(5))
    control, clock = Control(keys), Clock()
    cache = RouteCache(control, ttl=30, clock=clock, max_refreshes=2)
    for key in keys:
        await cache.get(key)
    clock.now += 31
    control.hold()
    for key in keys:
        assert await cache.get(key) is not None  # every key served, refreshed or not
    await settle()
    assert cache.refreshing == 2
    assert cache.refreshes_deferred == 3
    control.release()
    await cache.drain()
    for _ in range(2):  # the deferred keys are refreshed by their next callers, 2 at a time
        for key in keys:
            await cache.get(key)
        await cache.drain()
    assert sorted(control.calls[5:]) == sorted(keys)  # each key refreshed once


async def test_shutdown_cancels_refreshes_still_running() -> None:
    control, clock = Control(), Clock()
    cache = RouteCache(control, ttl=30, clock=clock)
    await cache.get("h1")
    clock.now += 31
    control.hold()
    await cache.get("h1")
    await settle()
    assert cache.refreshing == 1
    await cache.aclose()
    assert cache.refreshing == 0
    assert control.answered == 1  # the pending refresh never completed
