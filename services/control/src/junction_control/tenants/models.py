"""The tenants table, and each tenant's budget."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from junction_control.columns import UtcDateTime, new_id, utcnow


class Tenant(SQLModel, table=True):
    """An organisation; names are unique across the installation."""

    __tablename__ = "tenants"
    __table_args__ = (UniqueConstraint("name", name="uq_tenants_name"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class TenantBudget(SQLModel, table=True):
    """A spending cap over all of a tenant's keys, apart from its credit.

    Checked by the engine like a key's budget (the same admission script),
    against what every key of the tenant spent: over the tenant's life, or
    since the current period began (midnight in `timezone`).
    """

    __tablename__ = "tenant_budgets"
    __table_args__ = (
        CheckConstraint(
            "period IN ('lifetime', 'daily', 'weekly', 'monthly')",
            name="ck_tenant_budgets_period",
        ),
    )

    tenant_id: str = Field(
        primary_key=True, foreign_key="tenants.id", ondelete="CASCADE", max_length=36
    )
    limit_usd: float
    period: str = Field(default="lifetime", max_length=16)
    timezone: str = Field(default="UTC", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
