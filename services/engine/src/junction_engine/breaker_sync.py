"""Breaker states shared by every engine replica through Redis (when configured).

One hash holds every breaker that some replica opened or marked invalid:
field = deployment or credential id, value = a small JSON (state, open-until
as unix seconds, opens in a row, key fingerprint). A replica writes a field
when one of its breakers opens or is marked invalid, and deletes it when one
closes (a probe succeeded); a small script keeps a newer open from being
overwritten by an older one.

Nothing of this is on the request path: a background task writes the
changes and reads the whole hash every `interval` (250 ms by default) into
the local board, so a replica skips a deployment another one found dead
without trying it first, at the cost of one small read per interval. When
an open breaker's time passes, each replica that sees it half-open lets its
own single probe through; the first probe that succeeds closes it
everywhere.

Without Redis, or while Redis fails, each engine process keeps its own
breakers and learns an outage from its own attempts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from junction_engine.breakers import Change, Kind, State
from junction_engine.redis_lane import LaneError, RedisLane
from junction_engine.routing import HealthBoard

log = logging.getLogger("junction.engine.breakers")

BREAKERS_KEY = "junction:breakers:v1"
#: the hash lives a day past its last write: fields of deployments long gone go with it
_TTL_SECONDS = 86_400

# KEYS[1] the hash; ARGV: id, payload ("" deletes), open-until, state, ttl
_WRITE = """
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local ok, old = pcall(cjson.decode, cur)
  if ok and type(old) == 'table' and old['s'] == ARGV[4]
      and (tonumber(old['u']) or 0) > tonumber(ARGV[3]) then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class SharedBreakers:
    """Publishes this replica's breaker changes and adopts the other replicas' ones."""

    def __init__(
        self,
        lane: RedisLane,
        board: HealthBoard,
        *,
        interval: float = 0.25,
        wall: Callable[[], float] = time.time,
        key: str = BREAKERS_KEY,
    ) -> None:
        self._lane = lane
        self._board = board
        self._interval = interval
        self._wall = wall
        self._key = key
        self._sha = lane.script(_WRITE)
        self._pending: dict[str, Change] = {}
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        #: completed syncs (tests wait on it)
        self.synced = 0

    def listen(self, change: Change) -> None:
        """A board listener: what this replica saw is published with the next sync."""
        if change.origin == "local":
            self._pending[change.key] = change

    async def sync(self) -> None:
        """Write the pending changes, then read every shared breaker into the board."""
        try:
            await self._write()
            fields = await self._lane.call("HGETALL", self._key)
        except LaneError as exc:
            if not self._failing:
                log.warning("shared breakers unavailable (%s); using this replica's own", exc)
            self._failing = True
            return
        self._failing = False
        self._adopt(fields or [])
        self.synced += 1

    async def _write(self) -> None:
        while self._pending:
            key, change = next(iter(self._pending.items()))
            now, wall = self._board.clock(), self._wall()
            if change.state == "closed":
                payload, until = "", 0.0
            else:
                until = wall + max((change.open_until or now) - now, 0.0)
                payload = json.dumps(
                    {
                        "k": change.kind,
                        "s": "invalid" if change.state == "invalid" else "open",
                        "u": until,
                        "o": change.opens,
                        "f": change.fingerprint,
                    },
                    separators=(",", ":"),
                )
            state = "invalid" if change.state == "invalid" else "open"
            await self._lane.run(
                self._sha, [self._key], [key, payload, repr(until), state, _TTL_SECONDS]
            )
            if self._pending.get(key) is change:
                del self._pending[key]
            breaker = self._board.breakers.get(key)
            if breaker is not None and payload:
                breaker.shared = True

    def _adopt(self, fields: list[Any]) -> None:
        now, wall = self._board.clock(), self._wall()
        present: set[str] = set()
        for i in range(0, len(fields) - 1, 2):
            key = _text(fields[i])
            present.add(key)
            if key in self._pending:
                continue  # this replica's newer word is still on its way
            try:
                value = json.loads(_text(fields[i + 1]))
                kind: Kind = "credential" if value.get("k") == "credential" else "deployment"
                until = now + float(value.get("u", 0.0)) - wall
                opens = int(value.get("o", 0))
                fingerprint = value.get("f")
            except (ValueError, TypeError, AttributeError):
                continue  # not ours to read: left alone
            state: State = "invalid" if value.get("s") == "invalid" else "open"
            self._board.adopt(
                key,
                kind,
                state,
                until,
                opens,
                fingerprint if isinstance(fingerprint, str) else None,
            )
        self._board.forget_shared(present | set(self._pending))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="breaker-sync")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await self.sync()
            await asyncio.sleep(self._interval)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
