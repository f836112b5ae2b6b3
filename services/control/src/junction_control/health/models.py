"""The provider_health table: the latest breaker state of each target, per engine process.

One row per (deployment or credential, engine process). Engines report a
breaker only when it changes, so a row is the last word of one engine about
one target; a reader takes the latest word across engines. The provider and
tenant are looked up when a report arrives, so a tenant's read never joins
through the routing tables, and deleting a provider deletes its rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from junction_control.columns import UtcDateTime, new_id

ENGINE_ID_CHARS = 200
TARGET_ID_CHARS = 64
ERROR_CHARS = 64


class ProviderHealth(SQLModel, table=True):
    """What one engine process last reported about one deployment's or credential's breaker."""

    __tablename__ = "provider_health"
    __table_args__ = (
        UniqueConstraint(
            "target_kind", "target_id", "engine_id", name="uq_provider_health_target_engine"
        ),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    tenant_id: str = Field(foreign_key="tenants.id", ondelete="CASCADE", index=True, max_length=36)
    provider_id: str = Field(
        foreign_key="providers.id", ondelete="CASCADE", index=True, max_length=36
    )
    target_kind: str = Field(max_length=16)  # deployment | credential
    target_id: str = Field(max_length=TARGET_ID_CHARS)
    engine_id: str = Field(max_length=ENGINE_ID_CHARS)
    state: str = Field(max_length=16)  # closed | open | invalid
    failures: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=ERROR_CHARS)
    open_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    changed_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    #: the credential's stored key envelope when reported: a new key makes the report stale
    key_nonce: str | None = Field(default=None, max_length=32)
