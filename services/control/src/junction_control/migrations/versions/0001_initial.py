"""Initial schema: tenants, user tokens, providers, credentials, models, deployments.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00

Written by hand with portable types only, so it runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(36), primary_key=True)


def _created_at() -> sa.Column[object]:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def _tenant_fk() -> sa.Column[str]:
    return sa.Column(
        "tenant_id",
        sa.String(36),
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "tenants",
        _id(),
        sa.Column("name", sa.String(100), nullable=False),
        _created_at(),
        sa.UniqueConstraint("name", name="uq_tenants_name"),
    )

    op.create_table(
        "user_tokens",
        _id(),
        _tenant_fk(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("allowed_models", sa.JSON(), nullable=True),
        sa.Column("rpm", sa.Integer(), nullable=True),
        sa.Column("tpm", sa.Integer(), nullable=True),
        sa.Column("budget_usd", sa.Float(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        _created_at(),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("tenant_id", "name", name="uq_user_tokens_tenant_name"),
    )
    op.create_index("ix_user_tokens_token_hash", "user_tokens", ["token_hash"], unique=True)
    op.create_index("ix_user_tokens_tenant_id", "user_tokens", ["tenant_id"])

    op.create_table(
        "providers",
        _id(),
        _tenant_fk(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("base_url", sa.String(2000), nullable=False),
        sa.Column("extra_headers", sa.JSON(), nullable=False),
        _created_at(),
        sa.UniqueConstraint("tenant_id", "name", name="uq_providers_tenant_name"),
    )
    op.create_index("ix_providers_tenant_id", "providers", ["tenant_id"])

    op.create_table(
        "credentials",
        _id(),
        sa.Column(
            "provider_id",
            sa.String(36),
            sa.ForeignKey("providers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("key_ciphertext", sa.Text(), nullable=False),
        sa.Column("key_nonce", sa.String(32), nullable=False),
        sa.Column("wrapped_data_key", sa.String(128), nullable=False),
        sa.Column("key_version", sa.String(16), nullable=False),
        sa.Column("key_last4", sa.String(4), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _created_at(),
        sa.UniqueConstraint("provider_id", "name", name="uq_credentials_provider_name"),
    )
    op.create_index("ix_credentials_provider_id", "credentials", ["provider_id"])
    op.create_index("ix_credentials_key_version", "credentials", ["key_version"])

    op.create_table(
        "ai_models",
        _id(),
        _tenant_fk(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("input_price_per_mtok", sa.Float(), nullable=False),
        sa.Column("output_price_per_mtok", sa.Float(), nullable=False),
        sa.Column("cached_input_price_per_mtok", sa.Float(), nullable=False),
        _created_at(),
        sa.UniqueConstraint("tenant_id", "name", name="uq_ai_models_tenant_name"),
    )
    op.create_index("ix_ai_models_tenant_id", "ai_models", ["tenant_id"])

    op.create_table(
        "deployments",
        _id(),
        sa.Column(
            "model_id",
            sa.String(36),
            sa.ForeignKey("ai_models.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "provider_id",
            sa.String(36),
            sa.ForeignKey("providers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("upstream_model", sa.String(200), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _created_at(),
        sa.UniqueConstraint(
            "model_id", "provider_id", "upstream_model", name="uq_deployments_target"
        ),
    )
    op.create_index("ix_deployments_model_id", "deployments", ["model_id"])
    op.create_index("ix_deployments_provider_id", "deployments", ["provider_id"])


def downgrade() -> None:
    op.drop_table("deployments")
    op.drop_table("ai_models")
    op.drop_table("credentials")
    op.drop_table("providers")
    op.drop_table("user_tokens")
    op.drop_table("tenants")
