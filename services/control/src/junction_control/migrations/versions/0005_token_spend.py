"""A running total of each token's spend, kept apart from the prunable model_calls.

Revision ID: 0005
Revises: 0004
Create Date: 2025-01-05 00:00:00

Written by hand with portable types only, so it runs on SQLite and PostgreSQL.
The total starts from the calls still stored (those already pruned are gone).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite cannot drop the server default later without a table copy
    with op.batch_alter_table("user_tokens") as batch:
        batch.add_column(
            sa.Column("spent_usd", sa.Float(), nullable=False, server_default=sa.text("0"))
        )
    op.execute(
        "UPDATE user_tokens SET spent_usd = COALESCE("
        "(SELECT SUM(cost_usd) FROM model_calls WHERE model_calls.token_id = user_tokens.id), 0)"
    )
    # the model has no server default: every insert names the value
    with op.batch_alter_table("user_tokens") as batch:
        batch.alter_column("spent_usd", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("user_tokens") as batch:
        batch.drop_column("spent_usd")
