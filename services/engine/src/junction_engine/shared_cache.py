"""The second-level route cache in Redis, shared by every engine replica.

Routes hold provider keys only in sealed form, so Redis never sees a plain
key. Redis is an accelerator, never a dependency: every command goes
through a ``RedisGuard`` (one short timeout, then Redis is skipped for a
back-off), and any Redis trouble reads as a miss: the request goes on to
the control plane. A frozen Redis thus costs a new key one short timeout at
most, and the keys after it nothing.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable

from redis.asyncio import Redis

from junction_contracts import ContractError, Route
from junction_contracts.cache import ROUTE_KEY_PREFIX
from junction_engine.redis_guard import RedisGuard, RedisSkipped

_PREFIX = ROUTE_KEY_PREFIX
#: the guard's timeout when the caller hands in a bare client
DEFAULT_TIMEOUT = 0.1


class SharedRouteCache:
    def __init__(
        self,
        redis: Redis | RedisGuard,
        *,
        keep_seconds: float,
        opens: Callable[[Route], bool] | None = None,
    ) -> None:
        # the app factory hands in the guard it shares with /readyz
        self._guard = (
            redis if isinstance(redis, RedisGuard) else RedisGuard(redis, timeout=DEFAULT_TIMEOUT)
        )
        self._redis = self._guard.redis
        # a route sealed under another secret (rotation, another deployment
        # sharing this Redis) is useless here: treated as a miss
        self._opens = opens
        # entries outlive their freshness so a replica can serve them stale
        self._keep = max(int(keep_seconds), 1)

    @property
    def guard(self) -> RedisGuard:
        return self._guard

    async def get(self, token_hash: str) -> tuple[Route, float] | None:
        """The cached route and the wall-clock time it was fetched, or None."""
        try:
            raw = await self._guard.run(lambda: self._redis.get(_PREFIX + token_hash))
        except RedisSkipped:
            return None  # the guard logged the failure once; ask the control plane
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            route, fetched_at = Route.from_dict(data["route"]), float(data["fetched_at"])
        except (ValueError, KeyError, TypeError, ContractError):
            return None  # an older schema or garbage: refetch and overwrite
        if self._opens is not None and not self._opens(route):
            return None
        return route, fetched_at

    async def put(self, token_hash: str, route: Route, fetched_at: float | None = None) -> None:
        payload = json.dumps(
            {"route": route.to_dict(), "fetched_at": fetched_at or time.time()},
            separators=(",", ":"),
        )
        # skipped: other replicas ask the control plane themselves
        with contextlib.suppress(RedisSkipped):
            await self._guard.run(
                lambda: self._redis.set(_PREFIX + token_hash, payload, ex=self._keep)
            )

    async def forget(self, token_hash: str) -> None:
        with contextlib.suppress(RedisSkipped):
            await self._guard.run(lambda: self._redis.delete(_PREFIX + token_hash))
