"""The retry budget: how many upstream attempts beyond the first the engine may make.

Failover is what a gateway is for, but when every provider is down each
client request turning into several upstream attempts only multiplies the
load on providers that are already failing (a retry storm). A retry is
allowed while the retries of the last `window` seconds stay within `ratio`
of the first attempts of the same window, plus a small `floor` so a quiet
engine can still fail over. When everything is down, upstream attempts per
client request stay at most ``1 + ratio`` on average (plus the floor over
the window), whatever `max_attempts` says.

Each engine process keeps its own budget: it bounds the attempts that
process makes, and N replicas together make at most N times the floor more.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from junction_engine.rolling_window import RollingWindow


class RetryBudget:
    """First attempts deposit `ratio` of a retry; each retry spends one."""

    def __init__(
        self,
        *,
        ratio: float = 0.2,
        floor: int = 3,
        window: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ratio = ratio
        self.floor = floor
        self._clock = clock
        self._counts = RollingWindow(window)  # a: first attempts, b: retries

    def first(self) -> None:
        """A client request made its first upstream attempt."""
        self._counts.add(self._clock(), a=1)

    def can_retry(self) -> bool:
        """Whether one more attempt for a request that already made one fits the budget."""
        firsts, retries = self._counts.totals(self._clock())
        return retries < self.floor + self.ratio * firsts

    def retry(self) -> None:
        """A retry was made (after `can_retry` said it may)."""
        self._counts.add(self._clock(), b=1)
