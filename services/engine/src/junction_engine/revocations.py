"""Instant revocation: the control plane publishes changed key hashes on Redis.

Every replica listens on one channel and forgets the routes it hears about,
so a revoked or edited key is refused (or re-resolved) by every replica at
once instead of after the route TTL. Redis going away only delays that: the
listener reconnects, and the TTL still bounds how long a stale route lives.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from junction_contracts.cache import ROUTES_CHANGED_CHANNEL
from junction_engine.route_cache import RouteCache

log = logging.getLogger("junction.engine.revocations")

CHANNEL = ROUTES_CHANGED_CHANNEL


class RevocationListener:
    def __init__(self, redis: Redis, routes: RouteCache, *, retry_seconds: float = 1.0) -> None:
        self._redis = redis
        self._routes = routes
        self._retry = retry_seconds
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()
        self.heard = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="revocation-listener")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self.subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        data = message.get("data")
                        token_hash = data.decode() if isinstance(data, bytes) else str(data)
                        self._routes.invalidate(token_hash.strip())
                        self.heard += 1
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                log.warning("revocation channel lost (%s); retrying", type(exc).__name__)
                await asyncio.sleep(self._retry)
