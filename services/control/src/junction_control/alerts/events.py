"""What an alert says: the JSON body of each event, fixed when the event is made.

A threshold event::

    {"type": "budget.threshold", "id": "<event id>", "tenant_id": "...",
     "budget": {"kind": "key" | "tenant", "id": "...", "period": "daily",
                "limit_usd": 10.0, "spent_usd": 8.1,
                "period_start": "2026-01-02T05:00:00Z", "resets_at": "2026-01-03T05:00:00Z"},
     "threshold": 80, "at": "2026-01-02T17:31:08Z"}

``period_start`` and ``resets_at`` are null for a lifetime budget. A test
event is ``{"type": "webhook.test", "id", "tenant_id", "at"}``. The body is
stored as the bytes sent, so every retry is signed over the same text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from junction_contracts.periods import BudgetWindow
from junction_control.alerts.models import TEST_EVENT, THRESHOLD_EVENT
from junction_control.budgets.models import BudgetKind

# the only period of a lifetime budget, as the crossing's unique key names it
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Crossing:
    """A budget at or past one of its tenant's thresholds in its current period."""

    tenant_id: str
    kind: BudgetKind
    budget_id: str
    limit_usd: float
    spent_usd: float
    window: BudgetWindow | None  # None: a lifetime budget
    threshold: int

    @property
    def period_start(self) -> datetime:
        """The period's start; the epoch for a lifetime budget's one period."""
        return EPOCH if self.window is None else _at(self.window.start)


def threshold_body(event_id: str, crossing: Crossing, at: datetime) -> str:
    """The body of a threshold event."""
    window = crossing.window
    budget = {
        "kind": crossing.kind,
        "id": crossing.budget_id,
        "period": "lifetime" if window is None else window.period,
        "limit_usd": crossing.limit_usd,
        "spent_usd": crossing.spent_usd,
        "period_start": None if window is None else iso(_at(window.start)),
        "resets_at": None if window is None else iso(_at(window.end)),
    }
    return _dump(
        {
            "type": THRESHOLD_EVENT,
            "id": event_id,
            "tenant_id": crossing.tenant_id,
            "budget": budget,
            "threshold": crossing.threshold,
            "at": iso(at),
        }
    )


def body_of_test_event(event_id: str, tenant_id: str, at: datetime) -> str:
    """The body of a test event."""
    return _dump({"type": TEST_EVENT, "id": event_id, "tenant_id": tenant_id, "at": iso(at)})


def iso(at: datetime) -> str:
    """UTC, to the second, with a Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _dump(payload: dict[str, object]) -> str:
    return json.dumps(payload, separators=(",", ":"))
