"""What /readyz answers: whether this replica should receive traffic, and why.

- ``ready`` (200): the control plane accepts this engine's signature, and
  Redis (when configured) answers.
- ``degraded`` (200): the replica serves from what it holds: the control
  plane is unavailable but routes are cached, or Redis is down or frozen
  (routes, limits and revocations fall back to this replica). Taking every
  replica out of rotation for an outage they can carry would turn it into
  a full one, so a load balancer keeps sending traffic; the checks say what
  is wrong.
- ``not_ready`` (503): the control plane refuses the engine's signature (a
  wrong internal secret: no new key can be resolved and no usage recorded),
  has not answered yet, or is unavailable while nothing is cached.

Load balancers poll often, so a poll does no I/O of its own: the control
plane's verdict comes from the answers to the engine's signed calls, and a
signed probe is sent in the background only when nothing was heard for
`probe_every` seconds. Only the first poll waits for the first probe, and
briefly.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from junction_engine.control_client import ControlClient
from junction_engine.redis_guard import RedisGuard
from junction_engine.revocations import RevocationListener
from junction_engine.route_cache import RouteCache


@dataclass(frozen=True, slots=True)
class Report:
    status: str
    http_status: int
    checks: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return {"status": self.status, "checks": self.checks}


class Readiness:
    def __init__(
        self,
        control: ControlClient,
        routes: RouteCache,
        *,
        redis: RedisGuard | None = None,
        revocations: RevocationListener | None = None,
        probe_every: float = 10.0,
        probe_timeout: float = 2.0,
        first_wait: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._control = control
        self._routes = routes
        self._redis = redis
        self._revocations = revocations
        self._probe_every = probe_every
        self._probe_timeout = probe_timeout
        self._first_wait = first_wait
        self._clock = clock
        self._probe: asyncio.Task[None] | None = None
        self.probes = 0

    async def report(self) -> Report:
        self._probe_if_due()
        health = self._control.health
        if health.available is None and self._probe is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._probe), self._first_wait)
        control = self._control_status()
        checks: dict[str, Any] = {
            "control_plane": {
                "status": control,
                "checked_seconds_ago": (
                    None
                    if health.checked_at is None
                    else round(max(self._clock() - health.checked_at, 0.0), 3)
                ),
            },
            "routes": {"cached": self._routes.size, "refreshing": self._routes.refreshing},
        }
        degraded = control == "unavailable"
        if self._redis is not None:
            checks["redis"] = self._redis.check()
            degraded = degraded or checks["redis"]["status"] != "ok"
        if self._revocations is not None:
            subscribed = self._revocations.subscribed.is_set()
            checks["revocations"] = {"status": "subscribed" if subscribed else "lost"}
            degraded = degraded or not subscribed
        if control in ("refused", "unknown") or (
            control == "unavailable" and not self._routes.size
        ):
            return Report("not_ready", 503, checks)
        return Report("degraded" if degraded else "ready", 200, checks)

    async def aclose(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            await asyncio.gather(self._probe, return_exceptions=True)
            self._probe = None

    def _control_status(self) -> str:
        health = self._control.health
        if health.signature == "refused":
            return "refused"
        if health.available is False:
            return "unavailable"
        if health.available and health.signature == "accepted":
            return "ok"
        return "unknown"

    def _probe_if_due(self) -> None:
        if self._probe is not None:
            return
        checked = self._control.health.checked_at
        if checked is not None and self._clock() - checked < self._probe_every:
            return
        self.probes += 1
        self._probe = asyncio.get_running_loop().create_task(self._run_probe(), name="ready-probe")

    async def _run_probe(self) -> None:
        try:
            await self._control.probe(within=self._probe_timeout)
        finally:
            self._probe = None
