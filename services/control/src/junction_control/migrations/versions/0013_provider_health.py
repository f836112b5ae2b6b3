"""Provider health: the breaker states engines report, per target and engine process.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 00:00:00

Written by hand with portable types only, so it runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_health",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.String(36),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "provider_id",
            sa.String(36),
            sa.ForeignKey("providers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(64), nullable=False),
        sa.Column("engine_id", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(64), nullable=True),
        sa.Column("open_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_nonce", sa.String(32), nullable=True),
        sa.UniqueConstraint(
            "target_kind", "target_id", "engine_id", name="uq_provider_health_target_engine"
        ),
    )
    op.create_index("ix_provider_health_tenant_id", "provider_health", ["tenant_id"])
    op.create_index("ix_provider_health_provider_id", "provider_health", ["provider_id"])


def downgrade() -> None:
    op.drop_index("ix_provider_health_provider_id", table_name="provider_health")
    op.drop_index("ix_provider_health_tenant_id", table_name="provider_health")
    op.drop_table("provider_health")
