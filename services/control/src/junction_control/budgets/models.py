"""The budget_states table: where each period budget's current period stands."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from junction_control.columns import UtcDateTime, utcnow

BudgetKind = Literal["key", "tenant"]
BUDGET_KINDS: tuple[BudgetKind, ...] = ("key", "tenant")


class BudgetState(SQLModel, table=True):
    """One period budget's current period, and the base its spend is read from.

    What the budget spent in the period is its lifetime figure (a key's
    ``spent_usd``, a tenant's ``charged_usd``, both kept by telemetry ingest)
    minus `base_usd`, so reading it costs one row whatever the period holds
    (see `budgets.spend`). `budget_id` is the key's id or the tenant's.
    """

    __tablename__ = "budget_states"
    __table_args__ = (CheckConstraint("kind IN ('key', 'tenant')", name="ck_budget_states_kind"),)

    kind: str = Field(primary_key=True, max_length=16)
    budget_id: str = Field(primary_key=True, max_length=36)
    tenant_id: str = Field(foreign_key="tenants.id", ondelete="CASCADE", index=True, max_length=36)
    period_start: datetime = Field(sa_type=UtcDateTime, nullable=False)
    base_usd: float = Field(default=0.0)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
