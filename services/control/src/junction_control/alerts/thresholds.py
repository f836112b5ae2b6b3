"""Finding budgets past their tenant's thresholds, and making each crossing one event.

Run by the budget job after it rolled the budgets' periods over
(`budgets.spend.refresh_states`), so each budget's spend in its current
period is one row's arithmetic. Only tenants with an enabled webhook are
looked at. A crossing is (budget, period, threshold); the unique constraint
on those columns of alert_events makes it one event, however often the job
sees it and however many control processes run the job at once: the insert
of a crossing that exists already does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from junction_contracts.periods import BudgetWindow
from junction_control.alerts.events import Crossing, threshold_body
from junction_control.alerts.models import THRESHOLD_EVENT, AlertEvent, AlertWebhook
from junction_control.budgets.models import BudgetKind, BudgetState
from junction_control.budgets.spend import money, spent_in, summed_since, window_of
from junction_control.columns import new_id
from junction_control.credits.models import CreditAccount
from junction_control.tenants.models import TenantBudget
from junction_control.tokens.models import UserToken

NANO = 1_000_000_000

_events: Table = AlertEvent.__table__  # type: ignore[attr-defined]
_webhooks: Table = AlertWebhook.__table__  # type: ignore[attr-defined]
_states: Table = BudgetState.__table__  # type: ignore[attr-defined]
_tokens: Table = UserToken.__table__  # type: ignore[attr-defined]
_budgets: Table = TenantBudget.__table__  # type: ignore[attr-defined]
_accounts: Table = CreditAccount.__table__  # type: ignore[attr-defined]
_e, _w, _s, _t, _b, _a = (t.c for t in (_events, _webhooks, _states, _tokens, _budgets, _accounts))


def crossed(limit_usd: float, spent_usd: float, thresholds: Sequence[int]) -> list[int]:
    """The thresholds (percent of the limit) the spend has reached, on the nano-dollar grid."""
    limit, spent = round(limit_usd * NANO), round(spent_usd * NANO)
    if limit <= 0:
        return []
    return [t for t in thresholds if spent * 100 >= limit * t]


async def find_crossings(conn: AsyncConnection, now: float) -> list[Crossing]:
    """Every budget at or past a threshold of its tenant's enabled webhook, in its period."""
    return [*await _key_crossings(conn, now), *await _tenant_crossings(conn, now)]


async def _key_crossings(conn: AsyncConnection, now: float) -> list[Crossing]:
    hooked = and_(_w.tenant_id == _t.tenant_id, _w.enabled.is_(True))
    keys = await conn.execute(
        select(
            _t.id,
            _t.tenant_id,
            _t.budget_usd,
            _t.spent_usd,
            _t.budget_period,
            _t.budget_timezone,
            _s.period_start,
            _s.base_usd,
            _w.thresholds,
        )
        .select_from(
            _tokens.join(_webhooks, hooked).outerjoin(
                _states, and_(_s.kind == "key", _s.budget_id == _t.id)
            )
        )
        .where(_t.budget_usd.is_not(None), _t.revoked_at.is_(None))
    )
    found: list[Crossing] = []
    for row in keys.all():
        window = window_of(row.budget_period, row.budget_timezone, now)
        spent = await _spent(conn, row, window, row.spent_usd, row.id)
        found += _crossings(row.tenant_id, "key", row.id, row.budget_usd, spent, window, row)
    return found


async def _tenant_crossings(conn: AsyncConnection, now: float) -> list[Crossing]:
    tenants = await conn.execute(
        select(
            _b.tenant_id,
            _b.limit_usd,
            _b.period,
            _b.timezone,
            _a.charged_usd,
            _s.period_start,
            _s.base_usd,
            _w.thresholds,
        ).select_from(
            _budgets.join(_webhooks, and_(_w.tenant_id == _b.tenant_id, _w.enabled.is_(True)))
            .outerjoin(_accounts, _a.tenant_id == _b.tenant_id)
            .outerjoin(_states, and_(_s.kind == "tenant", _s.budget_id == _b.tenant_id))
        )
    )
    found: list[Crossing] = []
    for row in tenants.all():
        window = window_of(row.period, row.timezone, now)
        spent = await _spent(conn, row, window, row.charged_usd or 0.0, None)
        found += _crossings(
            row.tenant_id, "tenant", row.tenant_id, row.limit_usd, spent, window, row
        )
    return found


async def record_crossings(
    conn: AsyncConnection, crossings: Sequence[Crossing], at: datetime
) -> list[str]:
    """Make an event of each crossing not made one yet; the ids of the events made now."""
    fresh = await _unrecorded(conn, crossings)
    if not fresh:
        return []
    rows = []
    # in key order: processes inserting the same crossings queue, never deadlock
    for crossing in sorted(fresh, key=lambda c: (c.kind, c.budget_id, c.threshold)):
        event_id = new_id()
        rows.append(
            {
                "id": event_id,
                "tenant_id": crossing.tenant_id,
                "type": THRESHOLD_EVENT,
                "budget_kind": crossing.kind,
                "budget_id": crossing.budget_id,
                "period_start": crossing.period_start,
                "threshold": crossing.threshold,
                "body": threshold_body(event_id, crossing, at),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
                "finished_at": None,
            }
        )
    insert: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    # another control process may have made some of them meanwhile: those do nothing
    statement = insert(_events).values(rows).on_conflict_do_nothing().returning(_e.id)
    return [event_id for (event_id,) in (await conn.execute(statement)).all()]


async def _spent(
    conn: AsyncConnection, row: Any, window: BudgetWindow | None, lifetime: float, key: str | None
) -> float:
    if window is None:
        return money(lifetime)
    spent = spent_in(window, lifetime, row.period_start, row.base_usd)
    if spent is None:  # no state for this period yet (another process's clock is behind ours)
        spent = await summed_since(conn, row.tenant_id, window.start, key)
    return spent


def _crossings(
    tenant_id: str,
    kind: BudgetKind,
    budget_id: str,
    limit_usd: float,
    spent_usd: float,
    window: BudgetWindow | None,
    row: Any,
) -> list[Crossing]:
    thresholds = [int(t) for t in row.thresholds]
    return [
        Crossing(tenant_id, kind, budget_id, limit_usd, spent_usd, window, t)
        for t in crossed(limit_usd, spent_usd, thresholds)
    ]


async def _unrecorded(conn: AsyncConnection, crossings: Sequence[Crossing]) -> list[Crossing]:
    """The crossings with no event yet (most seen by a pass were recorded by an earlier one)."""
    if not crossings:
        return []
    budget_ids = sorted({c.budget_id for c in crossings})
    starts = sorted({c.period_start for c in crossings})
    rows = await conn.execute(
        select(_e.budget_kind, _e.budget_id, _e.period_start, _e.threshold).where(
            _e.type == THRESHOLD_EVENT,
            _e.budget_id.in_(budget_ids),
            _e.period_start.in_(starts),
        )
    )
    known = {(k, b, p.timestamp(), t) for k, b, p, t in rows.all()}
    return [
        c
        for c in crossings
        if (c.kind, c.budget_id, c.period_start.timestamp(), c.threshold) not in known
    ]
