"""The ai_models and deployments tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from junction_control.columns import UtcDateTime, new_id, utcnow


class AiModel(SQLModel, table=True):
    """A model under its public name, with prices in USD per million tokens."""

    __tablename__ = "ai_models"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_ai_models_tenant_name"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    tenant_id: str = Field(foreign_key="tenants.id", ondelete="CASCADE", index=True, max_length=36)
    name: str = Field(max_length=200)
    input_price_per_mtok: float = Field(default=0.0)
    output_price_per_mtok: float = Field(default=0.0)
    cached_input_price_per_mtok: float = Field(default=0.0)
    #: served at no cost on purpose; a model with no price and not free is refused
    free: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class Deployment(SQLModel, table=True):
    """Where a model runs: a provider and the upstream model name there."""

    __tablename__ = "deployments"
    __table_args__ = (
        UniqueConstraint("model_id", "provider_id", "upstream_model", name="uq_deployments_target"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    model_id: str = Field(foreign_key="ai_models.id", ondelete="CASCADE", index=True, max_length=36)
    provider_id: str = Field(
        foreign_key="providers.id", ondelete="CASCADE", index=True, max_length=36
    )
    upstream_model: str = Field(max_length=200)
    priority: int = Field(default=0)
    weight: int = Field(default=1)
    enabled: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
