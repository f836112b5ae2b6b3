"""Requests- and tokens-per-minute limits of each client key.

A sliding-window counter: the previous minute's count, weighted by how much
of it still overlaps the last 60 seconds, plus the current minute's count.
Requests are counted when admitted (a refused request does not count);
tokens are counted when a call finishes, from the provider's own usage, and
a key over its TPM is refused until enough of the window has passed.

With Redis configured, counters live there, so every replica sees the same
numbers: one Lua script per admission checks both limits and counts the
request (one round trip, no read-then-write race). Finished calls' tokens
are sent in batches: every call that finishes while a batch is on its way
joins the next one (one pipelined round trip for all of them, no timer).
If Redis fails, the replica falls back to its own counters rather than
refusing or failing requests.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from junction_engine.redis_lane import LaneError, RedisLane

log = logging.getLogger("junction.engine.rate_limits")

WINDOW = 60.0
_PREFIX = "junction:rl:v2:"
_TTL = int(2 * WINDOW) + 1

# KEYS: requests now, requests before, tokens now, tokens before (one key's,
# in one hash slot); ARGV: rpm, tpm (-1: no limit), weight of the previous
# window, ttl. Returns {0} when admitted (the request counted), else
# {1 requests | 2 tokens, used, previous window}.
_ADMIT = """
local weight = tonumber(ARGV[3])
local tpm = tonumber(ARGV[2])
if tpm >= 0 then
  local before = tonumber(redis.call('GET', KEYS[4]) or '0')
  local used = before * weight + tonumber(redis.call('GET', KEYS[3]) or '0')
  if used >= tpm then return {2, tostring(used), tostring(before)} end
end
local rpm = tonumber(ARGV[1])
if rpm >= 0 then
  local before = tonumber(redis.call('GET', KEYS[2]) or '0')
  local used = before * weight + tonumber(redis.call('GET', KEYS[1]) or '0')
  if used + 1 > rpm then return {1, tostring(used), tostring(before)} end
  redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
return {0}
"""

Kind = Literal["requests", "tokens"]


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: float = 0.0


@dataclass(frozen=True, slots=True)
class Limited:
    """A refusal: which limit, and when to come back."""

    kind: Kind
    verdict: Verdict


def _retry_after(used: float, previous: float, cost: float, limit: int, elapsed: float) -> float:
    """Seconds until the weighted previous window has decayed enough to admit `cost`."""
    excess = used + cost - limit
    if previous <= 0 or excess > previous:
        return WINDOW - elapsed  # only the next window helps
    # previous * (1 - (elapsed + t) / WINDOW) + current <= limit - cost
    return min(max(excess / previous * WINDOW, 1.0), WINDOW - elapsed + WINDOW)


def _refusal(kind: Kind, limit: int, used: float, previous: float, elapsed: float) -> Limited:
    wait = _retry_after(used, previous, 1, limit, elapsed)
    return Limited(kind, Verdict(False, limit, 0, retry_after=wait))


def _key(key_id: str, kind: str, window: int) -> str:
    # the braces keep one key's counters in one Redis Cluster slot
    return f"{_PREFIX}{{{key_id}}}:{kind}:{window}"


class RateLimiter:
    def __init__(
        self, redis: RedisLane | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._local: dict[str, int] = {}
        self._script = redis.script(_ADMIT) if redis is not None else None
        self._unsent: dict[str, int] = {}  # key id -> tokens not yet in Redis
        self._sender: asyncio.Task[None] | None = None

    async def admit(self, key_id: str, rpm: int | None, tpm: int | None) -> Limited | None:
        """Check both limits and count the request; the refusal, or None when admitted."""
        if rpm is None and tpm is None:
            return None
        now = self._clock()
        window = math.floor(now / WINDOW)
        elapsed = now - window * WINDOW
        weight = 1.0 - elapsed / WINDOW
        if self._redis is not None and self._script is not None:
            keys = [
                _key(key_id, "req", window),
                _key(key_id, "req", window - 1),
                _key(key_id, "tok", window),
                _key(key_id, "tok", window - 1),
            ]
            args = [-1 if rpm is None else rpm, -1 if tpm is None else tpm, weight, _TTL]
            try:
                answer = await self._redis.run(self._script, keys, args)
            except LaneError as exc:
                log.warning("rate limits fall back to this replica (%s)", exc)
            else:
                code = int(answer[0])
                if code == 0:
                    return None
                used, previous = float(answer[1]), float(answer[2])
                if code == 2:
                    assert tpm is not None
                    return _refusal("tokens", tpm, used, previous, elapsed)
                assert rpm is not None
                return _refusal("requests", rpm, used, previous, elapsed)
        return self._admit_here(key_id, rpm, tpm, window, elapsed, weight)

    def _admit_here(
        self,
        key_id: str,
        rpm: int | None,
        tpm: int | None,
        window: int,
        elapsed: float,
        weight: float,
    ) -> Limited | None:
        local = self._local
        if tpm is not None:
            before = float(local.get(_key(key_id, "tok", window - 1), 0))
            used = before * weight + local.get(_key(key_id, "tok", window), 0)
            if used >= tpm:
                return _refusal("tokens", tpm, used, before, elapsed)
        if rpm is not None:
            now_key = _key(key_id, "req", window)
            before = float(local.get(_key(key_id, "req", window - 1), 0))
            used = before * weight + local.get(now_key, 0)
            if used + 1 > rpm:
                return _refusal("requests", rpm, used, before, elapsed)
            local[now_key] = local.get(now_key, 0) + 1
            self._forget_old(window)
        return None

    def add_tokens(self, key_id: str, tokens: int) -> None:
        """Count tokens a finished call used (never blocks the caller)."""
        if tokens <= 0:
            return
        if self._redis is None:
            self._add_here(key_id, tokens)
            return
        self._unsent[key_id] = self._unsent.get(key_id, 0) + tokens
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send())

    async def flush(self) -> None:
        """Wait until every token counted so far is in Redis (or counted here)."""
        while self._sender is not None:
            await asyncio.shield(self._sender)

    async def _send(self) -> None:
        assert self._redis is not None
        try:
            while self._unsent:
                batch, self._unsent = self._unsent, {}
                window = math.floor(self._clock() / WINDOW)
                commands: list[tuple[str, str, int]] = []
                for key_id, tokens in batch.items():
                    name = _key(key_id, "tok", window)
                    commands += [("INCRBY", name, tokens), ("EXPIRE", name, _TTL)]
                try:
                    await self._redis.pipeline(commands)
                except LaneError as exc:
                    log.warning("token counts fall back to this replica (%s)", exc)
                    for key_id, tokens in batch.items():
                        self._add_here(key_id, tokens)
        finally:
            self._sender = None

    def _add_here(self, key_id: str, tokens: int) -> None:
        window = math.floor(self._clock() / WINDOW)
        name = _key(key_id, "tok", window)
        self._local[name] = self._local.get(name, 0) + tokens
        self._forget_old(window)

    def _forget_old(self, window: int) -> None:
        if len(self._local) > 100_000:
            keep = (f":{window}", f":{window - 1}")
            self._local = {k: v for k, v in self._local.items() if k.endswith(keep)}
