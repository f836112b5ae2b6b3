"""The replay cache every control replica shares: signed calls' nonces, in Redis.

Each process's verifier remembers the nonces it saw; a second replica
behind the same engines does not see them, so with ``JUNCTION_REDIS_URL``
set a nonce is also claimed in Redis (``SET NX`` with an expiry that
outlives the signature window). A nonce already there is a replay, whichever
replica saw it first.

While Redis cannot answer, signed calls are refused (503
``replay_check_unavailable``) rather than let through on one replica's
memory: a replica cannot tell a call its sibling already served. The
engines ride it out as they ride out a control-plane outage (routes they
hold stay served, telemetry waits in their spool). After a failure Redis is
left alone for `BACKOFF_SECONDS`, so a frozen Redis costs one timeout, not
one per call. Without ``JUNCTION_REDIS_URL`` the control plane is one
process and its own memory is the whole cache.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

NONCE_KEY_PREFIX = "junction:nonce:v1:"
#: how long one Redis command may take before the check counts as unavailable
REDIS_TIMEOUT_SECONDS = 0.5
#: after a failure, calls are refused at once for this long before Redis is tried again
BACKOFF_SECONDS = 1.0


class ReplayCheckUnavailable(Exception):
    """The shared replay cache cannot answer: the call cannot be told from a replay."""


class SharedReplays:
    """Nonces claimed by any replica; `claim` is true for the first one to see a nonce."""

    def __init__(
        self,
        redis: Redis,
        window_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        # a timestamp may be a window ahead of now and is then valid for two windows
        self._keep = math.ceil(2 * window_seconds) + 1
        self._clock = clock
        self._quiet_until = 0.0

    @classmethod
    def from_url(cls, redis_url: str, window_seconds: float) -> SharedReplays:
        """A cache on the Redis at `redis_url` (connected on first use)."""
        redis = Redis.from_url(
            redis_url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        return cls(redis, window_seconds)

    async def claim(self, nonce: str) -> bool:
        """True if no replica claimed `nonce` before; ReplayCheckUnavailable if Redis fails."""
        if self._clock() < self._quiet_until:
            raise ReplayCheckUnavailable("the shared replay cache failed a moment ago")
        try:
            fresh = await self._redis.set(NONCE_KEY_PREFIX + nonce, b"1", nx=True, ex=self._keep)
        except (RedisError, OSError) as exc:
            self._quiet_until = self._clock() + BACKOFF_SECONDS
            log.warning(
                "the shared replay cache (Redis) failed: %s; signed calls are refused until it "
                "answers",
                type(exc).__name__,
            )
            raise ReplayCheckUnavailable("the shared replay cache cannot be reached") from exc
        return bool(fresh)

    async def close(self) -> None:
        """Close the Redis connections."""
        await self._redis.aclose()
