"""Credits (accounts and ledger), hourly usage rollups, a start-time index on calls.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04 00:00:00

Written by hand with portable types only, so it runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tenant_fk(*, primary_key: bool = False) -> sa.Column[str]:
    return sa.Column(
        "tenant_id",
        sa.String(36),
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "credit_accounts",
        _tenant_fk(primary_key=True),
        sa.Column("balance_usd", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "credit_ledger",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant_fk(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount_usd", sa.Float(), nullable=False),
        sa.Column("model_call_id", sa.String(64), nullable=True),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(36), nullable=True),
        sa.UniqueConstraint("model_call_id", name="uq_credit_ledger_model_call_id"),
        sa.CheckConstraint(
            "kind IN ('grant', 'charge', 'adjustment')", name="ck_credit_ledger_kind"
        ),
    )
    op.create_index("ix_credit_ledger_tenant_created", "credit_ledger", ["tenant_id", "created_at"])

    op.create_table(
        "usage_hourly",
        _tenant_fk(primary_key=True),
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("token_id", sa.String(64), primary_key=True),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("failed_calls", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
    )

    op.create_index("ix_model_calls_started", "model_calls", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_model_calls_started", table_name="model_calls")
    op.drop_table("usage_hourly")
    op.drop_table("credit_ledger")
    op.drop_table("credit_accounts")
