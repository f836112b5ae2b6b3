"""Route lookup by key hash: in-process TTL cache, then Redis, then the control plane.

- A hit does no I/O. An entry is fresh for `ttl` seconds. (A hard age, not a
  sliding one: a busy key must still see its revocation within `ttl`.)
- Stale-while-revalidate: an entry past `ttl` but within `max_stale` is
  served at once, and one background refresh per key asks for the new route
  (a slow control plane costs the callers nothing). A failed refresh keeps
  the stale route and is not retried for a few seconds; the route stops
  being served once it is `max_stale` old.
- A key with no entry, or one past `max_stale`, waits for the lookup inline;
  concurrent callers of one key share one control call (single flight). If
  the control plane fails, a route Redis still holds is served (within
  `max_stale`); a key never seen before gets ControlUnavailable (503), never
  a 500.
- A revocation notice (`invalidate`) wins at once: the entry is dropped, so
  the key is never served stale, and a lookup already on its way when the
  notice arrived does not write its older answer back.
- With Redis configured, replicas share what they fetched: a miss in this
  process that hits in Redis does no control call.
- Unknown keys are remembered briefly so a flood of bad keys cannot hammer
  the control plane.
- Background refreshes are capped (`max_refreshes`): past the cap, a stale
  key is served and refreshed by a later request. `aclose` cancels them.
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
_Lookup = asyncio.Task[Route | None]


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
        # below the control client's 50 connections: inline lookups keep room
        max_refreshes: int = 32,
    ) -> None:
        self._resolve = resolver
        self._shared = shared
        self._wall = wall_clock
        self._ttl = ttl
        self._max_stale = max_stale
        self._clock = clock
        self._max_refreshes = max_refreshes
        self._fresh: LRUCache[str, _Entry] = LRUCache(maxsize=maxsize)
        self._unknown: TTLCache[str, bool] = TTLCache(maxsize=maxsize, ttl=unknown_ttl, timer=clock)
        #: the lookup whose answer will be stored, per key
        self._inflight: dict[str, _Lookup] = {}
        #: every lookup task still running (with those a revocation detached)
        self._tasks: set[_Lookup] = set()
        self._background: set[_Lookup] = set()
        #: L1 lookups: fresh hits, misses (gone to Redis or control), known-unknown keys
        self.hits = self.misses = self.unknown_hits = 0
        self.control_calls = 0
        self.shared_hits = 0
        self.stale_served = 0
        #: background refreshes started, and those the cap put off
        self.refreshes = 0
        self.refreshes_deferred = 0

    async def get(self, token_hash: str) -> Route | None:
        """The route for a key hash, or None if the key is unknown."""
        entry = self._fresh.get(token_hash)
        if entry is not None:
            now = self._clock()
            age = now - entry.fetched_at
            if age < self._ttl:
                self.hits += 1
                return entry.route
            if age < self._max_stale:
                self.stale_served += 1
                if now >= entry.retry_at:
                    self._revalidate(token_hash)
                return entry.route
        if token_hash in self._unknown:
            self.unknown_hits += 1
            return None
        self.misses += 1
        route = await self._lookup(token_hash)
        entry = self._fresh.get(token_hash)
        if entry is not None:  # a stale route from Redis: refresh it behind the caller
            now = self._clock()
            if now - entry.fetched_at >= self._ttl and now >= entry.retry_at:
                self._revalidate(token_hash)
        return route

    @property
    def size(self) -> int:
        return len(self._fresh)

    @property
    def refreshing(self) -> int:
        """Background refreshes running now."""
        return len(self._background)

    def invalidate(self, token_hash: str) -> None:
        """Forget a key (e.g. after a revocation notice)."""
        self._fresh.pop(token_hash, None)
        self._unknown.pop(token_hash, None)
        # a lookup on its way may carry the route from before the notice:
        # detached, it still answers its callers but stores nothing
        self._inflight.pop(token_hash, None)

    async def drain(self) -> None:
        """Wait until the background refreshes started so far are done."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel every lookup still running (shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _lookup(self, token_hash: str) -> Route | None:
        # The fetch runs as its own task: a caller that goes away (client
        # disconnect) does not cancel the lookup the other callers wait on.
        task = self._inflight.get(token_hash)
        if task is None or task.done():
            task = self._start(token_hash, revalidating=False)
        return await asyncio.shield(task)

    def _revalidate(self, token_hash: str) -> None:
        """Start one background refresh of a stale key, unless one runs or the cap is hit."""
        task = self._inflight.get(token_hash)
        if task is not None and not task.done():
            return
        if len(self._background) >= self._max_refreshes:
            self.refreshes_deferred += 1
            return
        self.refreshes += 1
        self._background.add(self._start(token_hash, revalidating=True))

    def _start(self, token_hash: str, *, revalidating: bool) -> _Lookup:
        task = asyncio.get_running_loop().create_task(
            self._fetch(token_hash, revalidating=revalidating)
        )
        self._inflight[token_hash] = task
        self._tasks.add(task)
        task.add_done_callback(self._settled(token_hash))
        return task

    def _settled(self, token_hash: str) -> Callable[[_Lookup], None]:
        def done(task: _Lookup) -> None:
            if self._inflight.get(token_hash) is task:
                del self._inflight[token_hash]
            self._tasks.discard(task)
            background = task in self._background
            self._background.discard(task)
            if task.cancelled():
                return
            exc = task.exception()  # retrieved here so an unawaited failure is not logged twice
            if background and exc is not None and not isinstance(exc, ControlUnavailable):
                log.error("a background route refresh failed", exc_info=exc)

        return done

    def _owns(self, token_hash: str) -> bool:
        """Whether the running lookup may store its answer (no revocation since it began)."""
        return self._inflight.get(token_hash) is asyncio.current_task()

    async def _fetch(self, token_hash: str, *, revalidating: bool) -> Route | None:
        stale: tuple[Route, float] | None = None  # from Redis, with its age
        if self._shared is not None:
            hit = await self._shared.get(token_hash)
            if hit is not None:
                cached, fetched_wall = hit
                age = max(self._wall() - fetched_wall, 0.0)
                # a caller waiting inline takes a stale route too (and a
                # background refresh follows); a refresh wants a fresh one
                if age < self._ttl or (not revalidating and age < self._max_stale):
                    if age < self._ttl:
                        self.shared_hits += 1
                    else:
                        self.stale_served += 1
                    if self._owns(token_hash):
                        self._fresh[token_hash] = _Entry(cached, fetched_at=self._clock() - age)
                    return cached
                stale = (cached, age)
        self.control_calls += 1
        try:
            route = await self._resolve(token_hash)
        except ControlError as exc:
            return self._stale(token_hash, stale, exc, revalidating=revalidating)
        if not self._owns(token_hash):
            return route  # revoked or changed meanwhile: answer, but store nothing
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
        self,
        token_hash: str,
        shared: tuple[Route, float] | None,
        exc: ControlError,
        *,
        revalidating: bool,
    ) -> Route:
        """The last known route while the control plane fails, within max staleness."""
        owned = self._owns(token_hash)
        entry = self._fresh.get(token_hash) if owned else None
        now = self._clock()
        if owned and shared is not None and (entry is None or shared[1] < now - entry.fetched_at):
            entry = _Entry(route=shared[0], fetched_at=now - shared[1])
            self._fresh[token_hash] = entry
        if entry is not None and now - entry.fetched_at < self._max_stale:
            # a hung control plane must not cost every request its timeout
            entry.retry_at = now + min(self._ttl, _RETRY_AFTER_FAILURE)
            if not revalidating:
                self.stale_served += 1
            log.warning("control plane failed (%s); serving a stale route", exc)
            return entry.route
        log.error("control plane failed (%s) and no route is cached", exc)
        raise ControlUnavailable(
            "the gateway cannot verify this key right now; retry shortly"
        ) from exc
