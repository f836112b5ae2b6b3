"""Breaker changes reported to the control plane, batched: never one call per request.

A change waits in a small map (the latest per breaker wins) and goes out
with the next batch, every few seconds. While the control plane is away the
map keeps the latest state of each breaker (bounded), so what admins read
catches up once it is back; a batch it refuses as malformed is dropped.
Only what this engine saw is reported: a state learned from another replica
is that replica's to report.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from junction_contracts.health import MAX_REPORTS, BreakerReport, ReportedState
from junction_engine.breakers import Change, State
from junction_engine.control_client import ControlError, RejectedBatch

log = logging.getLogger("junction.engine.health")

Post = Callable[[list[BreakerReport]], Awaitable[None]]
# half-open is not reported: a reader derives it from open_until
_REPORTED: dict[State, ReportedState] = {
    "closed": "closed",
    "open": "open",
    "half_open": "open",
    "invalid": "invalid",
}


class HealthReporter:
    """Collects breaker changes (`listen`) and posts them in batches (`start`, `flush`)."""

    def __init__(
        self,
        post: Post,
        *,
        engine_id: str,
        clock: Callable[[], float],
        interval: float = 2.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._post = post
        self._engine_id = engine_id
        self._clock = clock
        self._wall = wall
        self._interval = interval
        self._pending: dict[str, BreakerReport] = {}
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    def listen(self, change: Change) -> None:
        """A board listener: keep the latest local change of each breaker."""
        if change.origin != "local":
            return
        now, wall = self._clock(), self._wall()
        report = BreakerReport(
            kind=change.kind,
            target_id=change.key,
            state=_REPORTED[change.state],
            failures=change.failures,
            last_error=change.last_error,
            changed_at=wall,
            open_until=None if change.open_until is None else wall + change.open_until - now,
            engine_id=self._engine_id,
        )
        self._pending.pop(change.key, None)  # re-inserted last: the map stays oldest first
        self._pending[change.key] = report
        while len(self._pending) > MAX_REPORTS:
            del self._pending[next(iter(self._pending))]

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> None:
        """Send what is pending; on a transient failure it stays for the next try."""
        if not self._pending:
            return
        batch, self._pending = list(self._pending.values()), {}
        try:
            await self._post(batch)
        except RejectedBatch as exc:
            log.warning("the control plane refused %d breaker reports: %s", len(batch), exc)
        except ControlError as exc:
            log.info("breaker reports wait for the control plane (%s)", exc)
            for report in batch:  # newer changes of the same breaker win
                self._pending.setdefault(report.target_id, report)
        else:
            self.sent += len(batch)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="health-reports")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()
