"""Requests- and tokens-per-minute limits of each client key.

A sliding-window counter: the previous minute's count, weighted by how much
of it still overlaps the last 60 seconds, plus the current minute's count.
Requests are counted when admitted (a refused request does not count);
tokens are counted when a call finishes, from the provider's own usage, and
a key over its TPM is refused until enough of the window has passed.

With Redis configured, counters live there (one Lua script per check, so
every replica sees the same numbers); if Redis fails, the replica falls back
to its own counters rather than refusing or failing requests.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("junction.engine.rate_limits")

WINDOW = 60.0
_PREFIX = "junction:rl:v1:"

# KEYS: current window, previous window; ARGV: limit, cost, weight of previous, ttl
_CHECK_AND_ADD = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local used = previous * tonumber(ARGV[3]) + current
if used + tonumber(ARGV[2]) > tonumber(ARGV[1]) then
  return {0, tostring(used), tostring(previous)}
end
if tonumber(ARGV[2]) > 0 then
  redis.call('INCRBY', KEYS[1], ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
return {1, tostring(used), tostring(previous)}
"""


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: float = 0.0


def _retry_after(used: float, previous: float, cost: float, limit: int, elapsed: float) -> float:
    """Seconds until the weighted previous window has decayed enough to admit `cost`."""
    excess = used + cost - limit
    if previous <= 0 or excess > previous:
        return WINDOW - elapsed  # only the next window helps
    # previous * (1 - (elapsed + t) / WINDOW) + current <= limit - cost
    return min(max(excess / previous * WINDOW, 1.0), WINDOW - elapsed + WINDOW)


class RateLimiter:
    def __init__(
        self, redis: Redis | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._local: dict[str, int] = {}
        self._script = redis.register_script(_CHECK_AND_ADD) if redis is not None else None
        self._pending: set[asyncio.Task[None]] = set()

    async def admit_request(self, key_id: str, rpm: int | None) -> Verdict | None:
        """Count one request against `rpm`; None when the key has no limit."""
        if rpm is None:
            return None
        return await self._check(f"req:{key_id}", rpm, 1)

    async def check_tokens(self, key_id: str, tpm: int | None) -> Verdict | None:
        """Whether the key still has tokens left this minute (counts nothing)."""
        if tpm is None:
            return None
        return await self._check(f"tok:{key_id}", tpm, 0, strict=True)

    def add_tokens(self, key_id: str, tokens: int) -> None:
        """Count tokens a finished call used (never blocks the caller)."""
        if tokens <= 0:
            return
        task = asyncio.get_running_loop().create_task(self._add(f"tok:{key_id}", tokens))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _add(self, name: str, tokens: int) -> None:
        await self._check(name, 2**62, tokens)

    async def _check(self, name: str, limit: int, cost: int, *, strict: bool = False) -> Verdict:
        now = self._clock()
        window = math.floor(now / WINDOW)
        elapsed = now - window * WINDOW
        weight = 1.0 - elapsed / WINDOW
        current_key, previous_key = f"{name}:{window}", f"{name}:{window - 1}"
        if self._script is not None:
            try:
                ok, used_s, prev_s = await self._script(
                    keys=[_PREFIX + current_key, _PREFIX + previous_key],
                    args=[limit, cost, weight, int(2 * WINDOW) + 1],
                )
                used, previous = float(used_s), float(prev_s)
                return self._verdict(bool(ok), used, previous, cost, limit, elapsed, strict)
            except (RedisError, OSError) as exc:
                log.warning("rate limits fall back to this replica (%s)", type(exc).__name__)
        previous = float(self._local.get(previous_key, 0))
        used = previous * weight + self._local.get(current_key, 0)
        ok = used + cost <= limit and not (strict and used >= limit)
        if ok and cost:
            self._local[current_key] = self._local.get(current_key, 0) + cost
            self._forget_old(window)
        return self._verdict(ok, used, previous, cost, limit, elapsed, strict)

    def _verdict(
        self,
        ok: bool,
        used: float,
        previous: float,
        cost: int,
        limit: int,
        elapsed: float,
        strict: bool,
    ) -> Verdict:
        if strict and used >= limit:
            ok = False
        remaining = max(int(limit - used - (cost if ok else 0)), 0)
        if ok:
            return Verdict(True, limit, remaining)
        wait = _retry_after(used, previous, max(cost, 1), limit, elapsed)
        return Verdict(False, limit, 0, retry_after=wait)

    def _forget_old(self, window: int) -> None:
        if len(self._local) > 100_000:
            keep = (f":{window}", f":{window - 1}")
            self._local = {k: v for k, v in self._local.items() if k.endswith(keep)}
