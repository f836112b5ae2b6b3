"""A tenant's budget: a spending cap over all its keys, set, changed or lifted.

Every change is audited and announced to the engines in the caller's unit
of work, so the admin API, the CLI and ``apply -f`` all get both.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from junction_contracts.periods import PERIODS, check_timezone
from junction_control.audit.actor import Actor as Actor  # re-exported: callers name budgets.Actor
from junction_control.audit.service import record_by
from junction_control.budgets.spend import PeriodSpend, reset_state, tenant_spend, window_of
from junction_control.columns import utcnow
from junction_control.errors import InvalidInput
from junction_control.route_changes import note_tenant_changed
from junction_control.tenants.models import Tenant, TenantBudget

# the largest budget: a typo guard, like the largest grant
MAX_BUDGET_USD = 1e12


@dataclass(frozen=True, slots=True)
class BudgetSpec:
    """What a tenant's budget should be; checked on construction."""

    limit_usd: float
    period: str = "lifetime"
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if not math.isfinite(self.limit_usd) or not 0 <= self.limit_usd <= MAX_BUDGET_USD:
            raise InvalidInput(f"limit_usd must be between 0 and {MAX_BUDGET_USD:.0f}")
        if self.period not in PERIODS:
            raise InvalidInput(f"period must be one of {', '.join(PERIODS)}, got {self.period!r}")
        try:
            check_timezone(self.timezone)
        except ValueError as exc:
            raise InvalidInput(f"timezone: {exc}") from None


async def get_budget(session: AsyncSession, tenant_id: str) -> TenantBudget | None:
    """The tenant's budget, if it has one."""
    return await session.get(TenantBudget, tenant_id, populate_existing=True)


def spec_of(budget: TenantBudget) -> BudgetSpec:
    """The spec a stored budget matches."""
    return BudgetSpec(budget.limit_usd, budget.period, budget.timezone)


async def set_budget(
    session: AsyncSession, tenant: Tenant, spec: BudgetSpec, actor: Actor
) -> TenantBudget:
    """Give the tenant this budget (created or replaced; flushed), audited and announced."""
    budget = await get_budget(session, tenant.id)
    moved = budget is None or (budget.period, budget.timezone) != (spec.period, spec.timezone)
    if budget is None:
        budget = TenantBudget(tenant_id=tenant.id, limit_usd=spec.limit_usd)
    budget.limit_usd = spec.limit_usd
    budget.period = spec.period
    budget.timezone = spec.timezone
    budget.updated_at = utcnow()
    session.add(budget)
    await session.flush()
    if moved:
        now = time.time()
        window = window_of(spec.period, spec.timezone, now)
        conn = await session.connection()
        await reset_state(conn, "tenant", tenant.id, tenant.id, window, now)
    await _audit(
        session,
        tenant,
        actor,
        "tenant.budget.set",
        limit_usd=spec.limit_usd,
        period=spec.period,
        timezone=spec.timezone,
    )
    note_tenant_changed(session, tenant.id)
    return budget


async def remove_budget(session: AsyncSession, tenant: Tenant, actor: Actor) -> bool:
    """Lift the tenant's budget (flushed); False when it had none."""
    budget = await get_budget(session, tenant.id)
    if budget is None:
        return False
    await session.delete(budget)
    await session.flush()
    await reset_state(await session.connection(), "tenant", tenant.id, tenant.id, None, 0.0)
    await _audit(session, tenant, actor, "tenant.budget.delete")
    note_tenant_changed(session, tenant.id)
    return True


async def spend_of(session: AsyncSession, budget: TenantBudget) -> PeriodSpend:
    """What the tenant's keys spent in the budget's current period (or ever)."""
    return await tenant_spend(await session.connection(), budget, time.time())


async def _audit(
    session: AsyncSession, tenant: Tenant, actor: Actor, action: str, **details: object
) -> None:
    await record_by(
        session,
        actor,
        tenant_id=tenant.id,
        action=action,
        object_type="tenant_budget",
        object_id=tenant.id,
        **details,
    )
