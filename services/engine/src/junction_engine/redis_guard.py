"""A short leash on the engine's Redis client: one timeout, then a back-off.

Redis is an accelerator (the second-level route cache), never a dependency,
so a frozen server must cost a request at most one short timeout, not one
per command. Every command sent through the guard is bounded by
``timeout`` (pool wait, connect, write and read together). After a command
times out or fails, Redis is skipped for ``backoff`` seconds: each command
fails at once with ``RedisSkipped`` and the caller falls back to what this
replica knows. Then one PING, sent in the background (no request waits for
it), finds out whether Redis is back.

A command cut short by the timeout leaves nothing behind: redis-py closes a
connection whose read was interrupted before it returns to the pool, so a
thawed Redis is met with fresh connections and no reply meant for another
command.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeout

__all__ = ["RedisGuard", "RedisSkipped"]

log = logging.getLogger("junction.engine.redis")

T = TypeVar("T")


class RedisSkipped(Exception):
    """Redis timed out or failed just now, or is being skipped after a recent failure."""


class RedisGuard:
    """See the module docstring; ``run`` one command, ``check`` for readiness."""

    def __init__(
        self,
        redis: Redis,
        *,
        timeout: float,
        backoff: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.timeout = timeout
        self.backoff = backoff
        self._clock = clock
        self._down = False
        self._retry_at = 0.0
        self._probe: asyncio.Task[None] | None = None
        #: commands that waited the whole timeout (what a frozen Redis cost callers)
        self.timeouts = 0
        #: commands that failed at once (refused connection, error reply, ...)
        self.errors = 0
        #: background PINGs that found Redis still away
        self.probe_failures = 0
        self.last_failure: str | None = None

    @property
    def healthy(self) -> bool:
        return not self._down

    async def run(self, command: Callable[[], Awaitable[T]]) -> T:
        """The result of `command`, or ``RedisSkipped`` within ``timeout`` seconds."""
        if self._down:
            self.probe_if_due()
            raise RedisSkipped("Redis failed a moment ago; not asking it yet")
        try:
            async with asyncio.timeout(self.timeout):
                return await command()
        except (TimeoutError, RedisTimeout):
            self.timeouts += 1
            self._trip(f"did not answer within {self.timeout:g} s")
        except (RedisError, OSError) as exc:
            self.errors += 1
            self._trip(f"failed ({type(exc).__name__})")
        raise RedisSkipped(f"Redis {self.last_failure}")

    def probe_if_due(self) -> None:
        """Start one background PING when Redis is skipped and its back-off is over."""
        if not self._down or self._probe is not None or self._clock() < self._retry_at:
            return
        self._probe = asyncio.get_running_loop().create_task(self._ping(), name="redis-probe")

    def check(self) -> dict[str, Any]:
        """What /readyz shows of Redis (it also lets a due probe start)."""
        self.probe_if_due()
        return {
            "status": "ok" if not self._down else "down",
            "timeouts": self.timeouts,
            "errors": self.errors,
            "last_failure": self.last_failure,
        }

    async def aclose(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            await asyncio.gather(self._probe, return_exceptions=True)
            self._probe = None

    def _trip(self, reason: str) -> None:
        if not self._down:
            log.warning("Redis %s; skipping it for %g s", reason, self.backoff)
        self._down = True
        self._retry_at = self._clock() + self.backoff
        self.last_failure = reason

    async def _ping(self) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await self.redis.ping()
        except (RedisError, OSError) as exc:  # TimeoutError is an OSError
            self.probe_failures += 1
            self._retry_at = self._clock() + self.backoff
            self.last_failure = f"still away ({type(exc).__name__})"
        else:
            self._down = False
            log.warning("Redis answers again")
        finally:
            self._probe = None
