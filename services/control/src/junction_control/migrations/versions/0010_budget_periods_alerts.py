"""Budget periods, tenant budgets and budget alert webhooks.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:00:00

Written by hand with portable types only, so it runs on SQLite and PostgreSQL.
Key budgets gain a period (existing ones stay lifetime budgets in UTC, as
before); tenants may have a budget over all their keys; a period budget's
state row makes its spend in the current period one read; alerts have a
webhook per tenant, an event per threshold crossing (unique) and a log of
delivery attempts.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PERIODS = "('lifetime', 'daily', 'weekly', 'monthly')"


def _tenant_fk(*, primary_key: bool = False) -> sa.Column[str]:
    return sa.Column(
        "tenant_id",
        sa.String(36),
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # batch mode: SQLite cannot drop the server defaults later without a table copy
    with op.batch_alter_table("user_tokens") as batch:
        batch.add_column(
            sa.Column("budget_period", sa.String(16), nullable=False, server_default="lifetime")
        )
        batch.add_column(
            sa.Column("budget_timezone", sa.String(64), nullable=False, server_default="UTC")
        )
        batch.create_check_constraint(
            "ck_user_tokens_budget_period", f"budget_period IN {_PERIODS}"
        )
    # the model has no server defaults: every insert names the values
    with op.batch_alter_table("user_tokens") as batch:
        batch.alter_column("budget_period", server_default=None)
        batch.alter_column("budget_timezone", server_default=None)

    op.create_table(
        "tenant_budgets",
        _tenant_fk(primary_key=True),
        sa.Column("limit_usd", sa.Float(), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.CheckConstraint(f"period IN {_PERIODS}", name="ck_tenant_budgets_period"),
    )

    op.create_table(
        "budget_states",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("budget_id", sa.String(36), primary_key=True),
        _tenant_fk(),
        _at("period_start"),
        sa.Column("base_usd", sa.Float(), nullable=False),
        _at("updated_at"),
        sa.CheckConstraint("kind IN ('key', 'tenant')", name="ck_budget_states_kind"),
    )
    op.create_index("ix_budget_states_tenant_id", "budget_states", ["tenant_id"])

    op.create_table(
        "alert_webhooks",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant_fk(),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("secret_nonce", sa.String(32), nullable=False),
        sa.Column("wrapped_data_key", sa.String(128), nullable=False),
        sa.Column("key_version", sa.String(16), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.UniqueConstraint("tenant_id", name="uq_alert_webhooks_tenant"),
    )

    op.create_table(
        "alert_events",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant_fk(),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("budget_kind", sa.String(16), nullable=True),
        sa.Column("budget_id", sa.String(36), nullable=True),
        _at("period_start", nullable=True),
        sa.Column("threshold", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("next_attempt_at", nullable=True),
        _at("created_at"),
        _at("finished_at", nullable=True),
        sa.UniqueConstraint(
            "budget_kind", "budget_id", "period_start", "threshold", name="uq_alert_events_crossing"
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed', 'cancelled')",
            name="ck_alert_events_status",
        ),
    )
    op.create_index("ix_alert_events_due", "alert_events", ["status", "next_attempt_at"])
    op.create_index("ix_alert_events_tenant_created", "alert_events", ["tenant_id", "created_at"])

    op.create_table(
        "alert_attempts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "event_id",
            sa.String(36),
            sa.ForeignKey("alert_events.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        _at("at"),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(32), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        _at("next_attempt_at", nullable=True),
        sa.UniqueConstraint("event_id", "number", name="uq_alert_attempts_event_number"),
    )


def downgrade() -> None:
    op.drop_table("alert_attempts")
    op.drop_index("ix_alert_events_tenant_created", table_name="alert_events")
    op.drop_index("ix_alert_events_due", table_name="alert_events")
    op.drop_table("alert_events")
    op.drop_table("alert_webhooks")
    op.drop_index("ix_budget_states_tenant_id", table_name="budget_states")
    op.drop_table("budget_states")
    op.drop_table("tenant_budgets")
    with op.batch_alter_table("user_tokens") as batch:
        batch.drop_constraint("ck_user_tokens_budget_period", type_="check")
        batch.drop_column("budget_timezone")
        batch.drop_column("budget_period")
