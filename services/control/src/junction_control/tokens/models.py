"""The user_tokens table: only a hash and a visible prefix of each token are kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from junction_control.columns import UtcDateTime, new_id, utcnow


class UserToken(SQLModel, table=True):
    """A client key of one tenant, with its limits."""

    __tablename__ = "user_tokens"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name", name="uq_user_tokens_tenant_name"),
        CheckConstraint(
            "budget_period IN ('lifetime', 'daily', 'weekly', 'monthly')",
            name="ck_user_tokens_budget_period",
        ),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    tenant_id: str = Field(foreign_key="tenants.id", ondelete="CASCADE", index=True, max_length=36)
    name: str = Field(max_length=100)
    # who created it through the admin API (None: the CLI or the declarative file)
    owner_user_id: str | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL", index=True, max_length=36
    )
    prefix: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    # None: every model of the tenant; a list: only these models, by id (ai_models.id),
    # so a rename keeps them allowed and a new model under an old name is not
    allowed_model_ids: list[str] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )
    rpm: int | None = Field(default=None)
    tpm: int | None = Field(default=None)
    budget_usd: float | None = Field(default=None)
    # cost of every call of the token so far, kept by telemetry ingest: the
    # budget must not come back when old model_calls rows are pruned
    spent_usd: float = Field(default=0.0, nullable=False)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    last_used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # when the budget starts again: never ('lifetime'), or at midnight in
    # budget_timezone (an IANA name) every day, Monday or first of the month
    budget_period: str = Field(default="lifetime", max_length=16, nullable=False)
    budget_timezone: str = Field(default="UTC", max_length=64, nullable=False)
