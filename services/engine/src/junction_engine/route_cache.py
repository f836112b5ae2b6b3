"""Route lookup by key hash: in-process TTL cache, then Redis, then the control plane.

- A hit does no I/O. An entry is fresh for `ttl` seconds; then the next
  request refreshes it. (A hard age, not a sliding one: a busy key must still
  see its revocation within `ttl`.)
- Concurrent misses for one key share one control call (single flight).
- If the control plane fails, the last known route is served for up to
  `max_stale` seconds (stale-if-error); a key never seen before gets
  ControlUnavailable (503), never a 500.
- With Redis configured, replicas share what they fetched: a miss in this
  process that hits in Redis does no control call.
- Unknown keys are remembered briefly so a flood of bad keys cannot hammer
  the control plane.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cachetools import LRUCache, TTLCache

from junction_contracts import Route
from junction_engine.control_client import ControlError
from junction_engine.errors import ControlUnavailable
from junction_engine.shared_cache import SharedRouteCache

log = logging.getLogger("junction.engine.routes")

_RETRY_AFTER_FAILURE = 5.0

Resolver = Callable[[str], Awaitable[Route | None]]


@dataclass(slots=True)
class _Entry:
    route: Route
    fetched_at: float
    #: after a failed refresh, the stale route is served without asking again until then
    retry_at: float = 0.0


class RouteCache:
    def __init__(
        self,
        resolver: Resolver,
        *,
        ttl: float = 30.0,
        max_stale: float = 900.0,
        unknown_ttl: float = 5.0,
        maxsize: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedRouteCache | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._resolve = resolver
        self._shared = shared
        self._wall = wall_clock
        self._ttl = ttl
        self._max_stale = max_stale
        self._clock = clock
        self._fresh: LRUCache[str, _Entry] = LRUCache(maxsize=maxsize)
        self._unknown: TTLCache[str, bool] = TTLCache(maxsize=maxsize, ttl=unknown_ttl, timer=clock)
        self._inflight: dict[str, asyncio.Task[Route | None]] = {}
        self.control_calls = 0
        self.shared_hits = 0
        self.stale_served = 0

    async def get(self, token_hash: str) -> Route | None:
        """The route for a key hash, or None if the key is unknown."""
        entry = self._fresh.get(token_hash)
        now = self._clock()
        if entry is not None and (now - entry.fetched_at < self._ttl or now < entry.retry_at):
            return entry.route
        if token_hash in self._unknown:
            return None
        return await self._refresh(token_hash)

    @property
    def size(self) -> int:
        return len(self._fresh)

    def invalidate(self, token_hash: str) -> None:
        """Forget a key (e.g. after a revocation notice)."""
        self._fresh.pop(token_hash, None)
        self._unknown.pop(token_hash, None)

    async def _refresh(self, token_hash: str) -> Route | None:
        # The fetch runs as its own task: a caller that goes away (client
        # disconnect) does not cancel the lookup the other callers wait on.
        task = self._inflight.get(token_hash)
        if task is None:
            task = asyncio.create_task(self._fetch(token_hash))
            self._inflight[token_hash] = task
            task.add_done_callback(self._settled(token_hash))
        return await asyncio.shield(task)

    def _settled(self, token_hash: str) -> Callable[[asyncio.Task[Route | None]], None]:
        def done(task: asyncio.Task[Route | None]) -> None:
            self._inflight.pop(token_hash, None)
            if not task.cancelled():
                task.exception()  # retrieved here so an unawaited failure is not logged twice

        return done

    async def _fetch(self, token_hash: str) -> Route | None:
        stale: tuple[Route, float] | None = None  # from Redis, with its age
        if self._shared is not None:
            hit = await self._shared.get(token_hash)
            if hit is not None:
                cached, fetched_wall = hit
                age = max(self._wall() - fetched_wall, 0.0)
                if age < self._ttl:
                    self.shared_hits += 1
                    self._fresh[token_hash] = _Entry(route=cached, fetched_at=self._clock() - age)
                    return cached
                stale = (cached, age)
        self.control_calls += 1
        try:
            route = await self._resolve(token_hash)
        except ControlError as exc:
            return self._stale(token_hash, stale, exc)
        if route is None:
            self._fresh.pop(token_hash, None)
            self._unknown[token_hash] = True
            if self._shared is not None:
                await self._shared.forget(token_hash)
            return None
        self._fresh[token_hash] = _Entry(route=route, fetched_at=self._clock())
        if self._shared is not None:
            await self._shared.put(token_hash, route, self._wall())
        return route

    def _stale(
        self, token_hash: str, shared: tuple[Route, float] | None, exc: ControlError
    ) -> Route:
        """The last known route while the control plane fails, within max staleness."""
        entry = self._fresh.get(token_hash)
        now = self._clock()
        if shared is not None and (entry is None or shared[1] < now - entry.fetched_at):
            entry = _Entry(route=shared[0], fetched_at=now - shared[1])
            self._fresh[token_hash] = entry
        if entry is not None and now - entry.fetched_at < self._max_stale:
            # a hung control plane must not cost every request its timeout
            entry.retry_at = now + min(self._ttl, _RETRY_AFTER_FAILURE)
            self.stale_served += 1
            log.warning("control plane failed (%s); serving a stale route", exc)
            return entry.route
        log.error("control plane failed (%s) and no route is cached", exc)
        raise ControlUnavailable(
            "the gateway cannot verify this key right now; retry shortly"
        ) from exc
