"""Spending caps of client keys.

The route carries the key's budget and what the control plane had recorded
as spent when it resolved the route. Calls this replica finished since then
are added from its own records, so a key cannot run far past its cap while
its route is cached. Other replicas' calls arrive through the control plane
with the next route refresh: the cap is firm to within one route TTL.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable

from junction_contracts import Route

_KEEP_SECONDS = 3600.0


class SpendLedger:
    """Costs of calls finished on this replica, per key, for the last hour."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._costs: dict[str, deque[tuple[float, float]]] = defaultdict(deque)

    def add(self, token_id: str, cost_usd: float) -> None:
        if cost_usd <= 0:
            return
        now = self._clock()
        costs = self._costs[token_id]
        costs.append((now, cost_usd))
        while costs and costs[0][0] < now - _KEEP_SECONDS:
            costs.popleft()

    def since(self, token_id: str, when: float) -> float:
        costs = self._costs.get(token_id)
        if not costs:
            return 0.0
        return sum(cost for at, cost in costs if at >= when)

    def spent(self, route: Route) -> float:
        """What the key has spent: the control plane's figure plus this replica's since."""
        return route.token.spent_usd + self.since(route.token.id, route.issued_at)
