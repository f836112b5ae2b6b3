"""What a budget spent in its current period, read from one row.

A budget's lifetime spend is kept by telemetry ingest, in the transaction
that records each call: a key's in ``user_tokens.spent_usd``, a tenant's in
``credit_accounts.charged_usd``. A period budget counts the calls that
*started* in its current period (as the hourly rollups count a call in its
start hour, and as the engine counts a call in the period that admitted
it). Summing those calls on every route resolve would cost more as the
period fills, so each period budget has a row in ``budget_states``: the
period's start and a *base*, the lifetime figure minus the period's spend,
both read by one statement (one snapshot). The period's spend is then the
lifetime figure minus the base, whatever ingest added since.

A call that started before a boundary may be reported after it; its cost
belongs to the old period. For ``settle`` seconds after each boundary the
budget job (`refresh_states`) computes the base again, which takes such
late costs back out of the new period. A cost reported later still counts
in the new period: the figure can err towards more spend, never less.

Without a row for the current period (just after a boundary, before the job
ran; a budget just given a period) the spend is summed from model_calls
directly: exact, and cheap while the period is young.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from junction_contracts.periods import BudgetWindow, check_period, window_at
from junction_control.budgets.models import BudgetKind, BudgetState
from junction_control.credits.models import CreditAccount
from junction_control.tenants.models import TenantBudget
from junction_control.tokens.models import UserToken
from junction_control.usage.models import ModelCall

log = logging.getLogger(__name__)

_states: Table = BudgetState.__table__  # type: ignore[attr-defined]
_tokens: Table = UserToken.__table__  # type: ignore[attr-defined]
_budgets: Table = TenantBudget.__table__  # type: ignore[attr-defined]
_accounts: Table = CreditAccount.__table__  # type: ignore[attr-defined]
_calls: Table = ModelCall.__table__  # type: ignore[attr-defined]
_s, _t, _b, _a, _c = _states.c, _tokens.c, _budgets.c, _accounts.c, _calls.c

# token ids per statement of the job
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class PeriodSpend:
    """What a budget spent: in `window`, or over its life when `window` is None."""

    spent_usd: float
    window: BudgetWindow | None = None

    @property
    def period_start(self) -> datetime | None:
        return None if self.window is None else _utc(self.window.start)

    @property
    def resets_at(self) -> datetime | None:
        return None if self.window is None else _utc(self.window.end)


def window_of(period: str, timezone: str, now: float) -> BudgetWindow | None:
    """The current period of a budget (None: a lifetime budget).

    A zone that was valid when saved but that this machine does not know (an
    older time zone database) is read as UTC, with a warning.
    """
    if period == "lifetime":
        return None
    try:
        return window_at(check_period(period), timezone, now)
    except ValueError as exc:
        log.warning("budget period read in UTC: %s", exc)
        return window_at(check_period(period), "UTC", now)


def spent_in(
    window: BudgetWindow, lifetime_usd: float, state_start: datetime | None, base: float | None
) -> float | None:
    """The period's spend from its state row; None when the row is not for this period."""
    if state_start is None or base is None or state_start.timestamp() != window.start:
        return None
    return money(lifetime_usd - base)


def money(usd: float) -> float:
    """A difference of float sums, rounded to nano-dollars (never below zero)."""
    return max(0.0, round(usd, 9))


async def summed_since(
    conn: AsyncConnection, tenant_id: str, start: float, token_id: str | None = None
) -> float:
    """What the calls of a tenant (of one of its keys) that started at or after `start` cost."""
    query = select(func.coalesce(func.sum(_c.cost_usd), 0.0)).where(
        _c.tenant_id == tenant_id, _c.started_at >= _utc(start)
    )
    if token_id is not None:
        query = query.where(_c.token_id == token_id)
    return money(float((await conn.execute(query)).scalar() or 0.0))


async def key_spends(
    conn: AsyncConnection, tokens: Sequence[UserToken], now: float
) -> dict[str, PeriodSpend]:
    """Each token's spend in its budget's current period (or over its life), by id."""
    # a period counts only for a key with a budget
    windows = {
        t.id: None if t.budget_usd is None else window_of(t.budget_period, t.budget_timezone, now)
        for t in tokens
    }
    states = await _read_states(conn, "key", [t.id for t in tokens if windows[t.id] is not None])
    found: dict[str, PeriodSpend] = {}
    for token in tokens:
        window = windows[token.id]
        if window is None:
            found[token.id] = PeriodSpend(money(token.spent_usd))
            continue
        spent = spent_in(window, token.spent_usd, *states.get(token.id, (None, None)))
        if spent is None:
            spent = await summed_since(conn, token.tenant_id, window.start, token.id)
        found[token.id] = PeriodSpend(spent, window)
    return found


async def tenant_spend(conn: AsyncConnection, budget: TenantBudget, now: float) -> PeriodSpend:
    """What every key of the tenant spent in its budget's current period (or ever)."""
    charged = (
        await conn.execute(select(_a.charged_usd).where(_a.tenant_id == budget.tenant_id))
    ).scalar()
    lifetime = float(charged or 0.0)
    window = window_of(budget.period, budget.timezone, now)
    if window is None:
        return PeriodSpend(money(lifetime))
    states = await _read_states(conn, "tenant", [budget.tenant_id])
    spent = spent_in(window, lifetime, *states.get(budget.tenant_id, (None, None)))
    if spent is None:
        spent = await summed_since(conn, budget.tenant_id, window.start)
    return PeriodSpend(spent, window)


async def reset_state(
    conn: AsyncConnection,
    kind: BudgetKind,
    budget_id: str,
    tenant_id: str,
    window: BudgetWindow | None,
    now: float,
) -> None:
    """After a budget's period changed: drop its state, and write it for `window` if any."""
    await conn.execute(delete(_states).where(_s.kind == kind, _s.budget_id == budget_id))
    if window is None:
        return
    if kind == "key":
        bases = await _key_bases(conn, tenant_id, window.start, [budget_id])
    else:
        bases = {tenant_id: await _tenant_base(conn, tenant_id, window.start)}
    await _upsert(conn, kind, window.start, {budget_id: (tenant_id, bases[budget_id])}, now)


async def refresh_states(conn: AsyncConnection, *, now: float, settle: float) -> int:
    """Write the state of every period budget whose period began, or began under `settle` ago.

    Returns how many rows were written. Several control processes may run it
    at once: a row never moves back to an earlier period (a process whose
    clock lags cannot undo a newer one's roll).
    """
    windows: dict[tuple[str, str], BudgetWindow | None] = {}

    def current(period: str, timezone: str) -> BudgetWindow | None:
        key = (period, timezone)
        if key not in windows:
            windows[key] = window_of(period, timezone, now)
        return windows[key]

    key_rows = await conn.execute(
        select(_t.id, _t.tenant_id, _t.budget_period, _t.budget_timezone, _s.period_start)
        .select_from(_tokens.outerjoin(_states, and_(_s.kind == "key", _s.budget_id == _t.id)))
        .where(_t.budget_usd.is_not(None), _t.budget_period != "lifetime")
    )
    due_keys: dict[tuple[str, float], list[str]] = defaultdict(list)
    for token_id, tenant_id, period, timezone, state_start in key_rows.all():
        window = current(period, timezone)
        if window is not None and _due(state_start, window, now, settle):
            due_keys[(tenant_id, window.start)].append(token_id)
    tenant_rows = await conn.execute(
        select(_b.tenant_id, _b.period, _b.timezone, _s.period_start)
        .select_from(
            _budgets.outerjoin(_states, and_(_s.kind == "tenant", _s.budget_id == _b.tenant_id))
        )
        .where(_b.period != "lifetime")
    )
    due_tenants: list[tuple[str, float]] = []
    for tenant_id, period, timezone, state_start in tenant_rows.all():
        window = current(period, timezone)
        if window is not None and _due(state_start, window, now, settle):
            due_tenants.append((tenant_id, window.start))

    written = 0
    for (tenant_id, start), ids in sorted(due_keys.items()):
        for i in range(0, len(ids), _CHUNK):
            chunk = sorted(ids)[i : i + _CHUNK]
            bases = await _key_bases(conn, tenant_id, start, chunk)
            await _upsert(conn, "key", start, {k: (tenant_id, v) for k, v in bases.items()}, now)
            written += len(bases)
    for tenant_id, start in sorted(due_tenants):
        base = await _tenant_base(conn, tenant_id, start)
        await _upsert(conn, "tenant", start, {tenant_id: (tenant_id, base)}, now)
        written += 1
    return written


def _due(state_start: datetime | None, window: BudgetWindow, now: float, settle: float) -> bool:
    if state_start is None:
        return True
    start = state_start.timestamp()
    if start != window.start:
        return start < window.start  # a later period (a clock ahead of ours) is left alone
    return now < window.start + settle


async def _read_states(
    conn: AsyncConnection, kind: BudgetKind, ids: Sequence[str]
) -> dict[str, tuple[datetime, float]]:
    if not ids:
        return {}
    rows = await conn.execute(
        select(_s.budget_id, _s.period_start, _s.base_usd).where(
            _s.kind == kind, _s.budget_id.in_(sorted(ids))
        )
    )
    return {budget_id: (start, base) for budget_id, start, base in rows.all()}


async def _key_bases(
    conn: AsyncConnection, tenant_id: str, start: float, token_ids: Sequence[str]
) -> dict[str, float]:
    """Each key's lifetime spend minus what its calls since `start` cost: one snapshot."""
    since = (
        select(_c.token_id, func.sum(_c.cost_usd).label("total"))
        .where(_c.tenant_id == tenant_id, _c.started_at >= _utc(start))
        .group_by(_c.token_id)
        .subquery()
    )
    rows = await conn.execute(
        select(_t.id, _t.spent_usd - func.coalesce(since.c.total, 0.0))
        .select_from(_tokens.outerjoin(since, since.c.token_id == _t.id))
        .where(_t.id.in_(list(token_ids)))
    )
    return {token_id: float(base) for token_id, base in rows.all()}


async def _tenant_base(conn: AsyncConnection, tenant_id: str, start: float) -> float:
    """The tenant's lifetime charges minus what its calls since `start` cost: one snapshot."""
    charged = select(_a.charged_usd).where(_a.tenant_id == tenant_id).scalar_subquery()
    since = (
        select(func.coalesce(func.sum(_c.cost_usd), 0.0))
        .where(_c.tenant_id == tenant_id, _c.started_at >= _utc(start))
        .scalar_subquery()
    )
    base = (await conn.execute(select(func.coalesce(charged, 0.0) - since))).scalar()
    return float(base or 0.0)


async def _upsert(
    conn: AsyncConnection,
    kind: BudgetKind,
    start: float,
    bases: dict[str, tuple[str, float]],
    now: float,
) -> None:
    if not bases:
        return
    insert: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    rows = [
        {
            "kind": kind,
            "budget_id": budget_id,
            "tenant_id": tenant_id,
            "period_start": _utc(start),
            "base_usd": base,
            "updated_at": _utc(now),
        }
        for budget_id, (tenant_id, base) in sorted(bases.items())  # one lock order
    ]
    statement = insert(_states).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["kind", "budget_id"],
        set_={
            name: statement.excluded[name] for name in ("period_start", "base_usd", "updated_at")
        },
        where=_s.period_start <= statement.excluded.period_start,
    )
    await conn.execute(statement)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
