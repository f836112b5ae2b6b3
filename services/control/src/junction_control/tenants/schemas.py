"""Request and response bodies of the tenant endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from junction_control.admin.schemas import Input, Money, Page, Slug
from junction_control.budgets.schemas import BudgetPeriod, TimeZone
from junction_control.budgets.spend import PeriodSpend
from junction_control.tenants.models import Tenant, TenantBudget
from junction_control.users.schemas import Email


class TenantIn(Input):
    """A new tenant and its first owner: an existing user, by default the caller."""

    name: Slug
    owner_email: Email | None = None


class TenantPatch(Input):
    name: Slug | None = None


class TenantOut(BaseModel):
    id: str
    name: str
    created_at: datetime

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        return cls(id=tenant.id, name=tenant.name, created_at=tenant.created_at)


TenantPage = Page[TenantOut]


class TenantBudgetIn(Input):
    """A spending cap over all the tenant's keys, over its life or per period."""

    limit_usd: Money
    period: BudgetPeriod = "lifetime"
    timezone: TimeZone = "UTC"


class TenantBudgetOut(BaseModel):
    limit_usd: float
    period: str
    timezone: str
    #: what every key of the tenant spent in the current period (or ever, lifetime)
    spent_usd: float
    period_start: datetime | None
    resets_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, budget: TenantBudget, spend: PeriodSpend) -> TenantBudgetOut:
        return cls(
            limit_usd=budget.limit_usd,
            period=budget.period,
            timezone=budget.timezone,
            spent_usd=spend.spent_usd,
            period_start=spend.period_start,
            resets_at=spend.resets_at,
            updated_at=budget.updated_at,
        )
