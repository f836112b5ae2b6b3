"""What this engine's finished calls cost, per account, for the last hour.

Without Redis, an account's spend is the control plane's figure (read when
the route was resolved) plus what this engine's calls cost since then:
``SpendLedger.since(account, route.issued_at)``. That runs on every
admission of a budgeted key, so it must not cost more as the key's history
grows: each account keeps a running total with the times at which it grew,
and "spent since t" is the total minus the running sum just before t, found
by bisection.

A budget with a period has one account per period (see `reservations`), so
accounts go idle for good at each boundary: those with nothing in the keep
window are forgotten now and then, and memory stays bounded by the accounts
active within the last hour.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field

_KEEP_SECONDS = 3600.0
_SWEEP_SECONDS = 600.0  # how often idle accounts are looked for


@dataclass(slots=True)
class _Spend:
    """One key's finished calls: times, and the running total after each."""

    times: list[float] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)
    dropped: int = 0  # entries at the front that are past the keep window

    def total(self) -> float:
        return self.totals[-1] if self.totals else 0.0


class SpendLedger:
    """Costs of calls finished on this replica, per account, for the last hour."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._keys: dict[str, _Spend] = {}
        self._next_sweep = clock() + _SWEEP_SECONDS

    def add(self, token_id: str, cost_usd: float) -> None:
        if cost_usd <= 0:
            return
        now = self._clock()
        spend = self._keys.get(token_id)
        if spend is None:
            spend = self._keys[token_id] = _Spend()
        spend.times.append(now)
        spend.totals.append(spend.total() + cost_usd)
        self._prune(spend, now)
        if now >= self._next_sweep:
            self._sweep(now)

    def since(self, token_id: str, when: float) -> float:
        """What the key spent on this replica at or after `when` (within the keep window)."""
        spend = self._keys.get(token_id)
        if spend is None or not spend.times:
            return 0.0
        i = bisect_left(spend.times, when, lo=spend.dropped)
        if i >= len(spend.times):
            return 0.0
        before = spend.totals[i - 1] if i > spend.dropped else _base(spend)
        return spend.total() - before

    def __len__(self) -> int:
        """Accounts with figures kept."""
        return len(self._keys)

    def _sweep(self, now: float) -> None:
        """Forget the accounts whose last call ended before the keep window."""
        self._next_sweep = now + _SWEEP_SECONDS
        cut = now - _KEEP_SECONDS
        idle = [k for k, spend in self._keys.items() if not spend.times or spend.times[-1] < cut]
        for account in idle:
            del self._keys[account]

    @staticmethod
    def _prune(spend: _Spend, now: float) -> None:
        """Forget entries past the keep window, compacting the lists now and then."""
        cut = bisect_left(spend.times, now - _KEEP_SECONDS, lo=spend.dropped)
        spend.dropped = cut
        if cut > 1024 and cut * 2 > len(spend.times):
            base = spend.totals[cut - 1]
            del spend.times[:cut], spend.totals[:cut]
            spend.totals = [t - base for t in spend.totals]
            spend.dropped = 0


def _base(spend: _Spend) -> float:
    """The running total just before the first entry still kept."""
    return spend.totals[spend.dropped - 1] if spend.dropped else 0.0
