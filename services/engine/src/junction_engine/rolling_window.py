"""Two counts over a rolling time window, kept in a few buckets.

A breaker's failure rate and the retry budget both ask "how many of each,
over the last N seconds?". Exact timestamps would cost a list entry per
call; buckets cost a fixed ring of pairs, and the window slides one bucket
at a time (a tenth of the window by default), which is as precise as
either use needs.
"""

from __future__ import annotations


class RollingWindow:
    """Counts of `a` and `b` events over the last `seconds`, by the caller's clock."""

    __slots__ = ("_a", "_b", "_buckets", "_span", "_start")

    def __init__(self, seconds: float, *, buckets: int = 10) -> None:
        self._span = seconds / buckets
        self._buckets = buckets
        self._a = [0] * buckets
        self._b = [0] * buckets
        # index of the bucket that began at this span number (time // span)
        self._start = 0

    def _roll(self, now: float) -> int:
        span = int(now // self._span)
        gap = span - self._start
        if gap >= self._buckets:
            self._a = [0] * self._buckets
            self._b = [0] * self._buckets
        elif gap > 0:
            for i in range(self._start + 1, span + 1):
                self._a[i % self._buckets] = 0
                self._b[i % self._buckets] = 0
        if gap > 0:
            self._start = span
        return self._start % self._buckets

    def add(self, now: float, *, a: int = 0, b: int = 0) -> None:
        i = self._roll(now)
        self._a[i] += a
        self._b[i] += b

    def totals(self, now: float) -> tuple[int, int]:
        """(a, b) over the window ending at `now`."""
        self._roll(now)
        return sum(self._a), sum(self._b)

    def clear(self) -> None:
        self._a = [0] * self._buckets
        self._b = [0] * self._buckets
