"""Instant revocation: the control plane publishes changed key hashes on Redis.

Every replica listens on one channel and forgets the routes it hears about,
so a revoked or edited key is refused (or re-resolved) by every replica at
once instead of after the route TTL. Redis going away only delays that: the
listener reconnects, and the TTL still bounds how long a stale route lives.

A frozen Redis sends nothing, which looks just like a quiet channel: after
`heartbeat` seconds without a message the listener PINGs, and a PONG that
does not come within the short Redis timeout drops the connection
(`subscribed` clears, /readyz says degraded) and starts a new one.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from junction_contracts.cache import ROUTES_CHANGED_CHANNEL
from junction_engine.route_cache import RouteCache

log = logging.getLogger("junction.engine.revocations")

CHANNEL = ROUTES_CHANGED_CHANNEL


class RevocationListener:
    def __init__(
        self,
        redis: Redis,
        routes: RouteCache,
        *,
        retry_seconds: float = 1.0,
        timeout: float = 0.5,
        heartbeat_seconds: float = 5.0,
    ) -> None:
        self._redis = redis
        self._routes = routes
        self._retry = retry_seconds
        self._timeout = timeout
        self._heartbeat = heartbeat_seconds
        self._task: asyncio.Task[None] | None = None
        #: set once Redis confirmed the subscription, cleared when the connection is lost
        self.subscribed = asyncio.Event()
        self.heard = 0
        self.lost = 0

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
                    await self._listen(pubsub)
            except (RedisError, OSError) as exc:  # TimeoutError is an OSError
                if self.subscribed.is_set():
                    self.lost += 1
                    log.warning("revocation channel lost (%s); retrying", type(exc).__name__)
                self.subscribed.clear()
                await asyncio.sleep(self._retry)

    async def _listen(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self._timeout):
            await pubsub.subscribe(CHANNEL)
        asked: float | None = loop.time()  # an answer is due: the confirmation
        while True:
            if asked is None:
                wait = self._heartbeat
            else:
                wait = max(asked + self._timeout - loop.time(), 0.0)
            message = await pubsub.get_message(timeout=wait)
            if message is None:
                if asked is None:
                    async with asyncio.timeout(self._timeout):
                        await pubsub.ping()
                    asked = loop.time()
                elif loop.time() >= asked + self._timeout:
                    raise TimeoutError(f"Redis did not answer within {self._timeout:g} s")
                continue
            asked = None  # any message says the connection is alive
            kind = message.get("type")
            if kind == "subscribe":
                self.subscribed.set()
            elif kind == "message":
                data = message.get("data")
                token_hash = data.decode() if isinstance(data, bytes) else str(data)
                self._routes.invalidate(token_hash.strip())
                self.heard += 1
