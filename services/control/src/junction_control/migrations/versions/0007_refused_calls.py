"""Refused calls: a status of their own on model_calls, a count of their own per hour.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09 00:00:00

Written by hand with portable types only, so it runs on SQLite and PostgreSQL.
A call the engine refused before trying any provider (an operation none of
the model's providers offers) was recorded as `failed`; it is `refused` from
now on, never billed and counted apart from provider failures. Rows already
stored keep their status: nothing tells an old refusal from a failure.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHECK = "ck_model_calls_status"
_WITH_REFUSED = "status IN ('processing', 'success', 'failed', 'cancelled', 'refused')"
_WITHOUT_REFUSED = "status IN ('processing', 'success', 'failed', 'cancelled')"


def upgrade() -> None:
    # batch mode: SQLite cannot change a CHECK constraint without a table copy
    with op.batch_alter_table("model_calls") as batch:
        batch.drop_constraint(_CHECK, type_="check")
        batch.create_check_constraint(_CHECK, _WITH_REFUSED)
    with op.batch_alter_table("usage_hourly") as batch:
        batch.add_column(
            sa.Column("refused_calls", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    # the model has no server default: every insert names the value
    with op.batch_alter_table("usage_hourly") as batch:
        batch.alter_column("refused_calls", server_default=None)


def downgrade() -> None:
    # what the previous revision recorded these calls as; their hours lose the split
    op.execute("UPDATE model_calls SET status = 'failed' WHERE status = 'refused'")
    op.execute("UPDATE usage_hourly SET failed_calls = failed_calls + refused_calls")
    with op.batch_alter_table("usage_hourly") as batch:
        batch.drop_column("refused_calls")
    with op.batch_alter_table("model_calls") as batch:
        batch.drop_constraint(_CHECK, type_="check")
        batch.create_check_constraint(_CHECK, _WITHOUT_REFUSED)
