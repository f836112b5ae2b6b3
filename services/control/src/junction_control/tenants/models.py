"""The tenants table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from junction_control.columns import UtcDateTime, new_id, utcnow


class Tenant(SQLModel, table=True):
    """An organisation; names are unique across the installation."""

    __tablename__ = "tenants"
    __table_args__ = (UniqueConstraint("name", name="uq_tenants_name"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
