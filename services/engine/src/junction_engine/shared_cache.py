"""The second-level route cache in Redis, shared by every engine replica.

Routes hold provider keys only in sealed form, so Redis never sees a plain
key. Redis is an accelerator, never a dependency: any Redis error reads as a
miss (and is logged), and the request goes on to the control plane.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from junction_contracts import ContractError, Route
from junction_contracts.cache import ROUTE_KEY_PREFIX

log = logging.getLogger("junction.engine.shared_cache")

_PREFIX = ROUTE_KEY_PREFIX


class SharedRouteCache:
    def __init__(
        self,
        redis: Redis,
        *,
        keep_seconds: float,
        opens: Callable[[Route], bool] | None = None,
    ) -> None:
        self._redis = redis
        # a route sealed under another secret (rotation, another deployment
        # sharing this Redis) is useless here: treated as a miss
        self._opens = opens
        # entries outlive their freshness so a replica can serve them stale
        self._keep = max(int(keep_seconds), 1)

    async def get(self, token_hash: str) -> tuple[Route, float] | None:
        """The cached route and the wall-clock time it was fetched, or None."""
        try:
            raw = await self._redis.get(_PREFIX + token_hash)
        except (RedisError, OSError) as exc:
            log.warning("redis read failed (%s); asking the control plane", type(exc).__name__)
            return None
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
        try:
            await self._redis.set(_PREFIX + token_hash, payload, ex=self._keep)
        except (RedisError, OSError) as exc:
            log.warning("redis write failed (%s)", type(exc).__name__)

    async def forget(self, token_hash: str) -> None:
        try:
            await self._redis.delete(_PREFIX + token_hash)
        except (RedisError, OSError) as exc:
            log.warning("redis delete failed (%s)", type(exc).__name__)
