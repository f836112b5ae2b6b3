"""Models marked free: a model with no price is refused unless it is free on purpose.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 00:00:00

Written by hand with portable types only, so it runs on SQLite and PostgreSQL.
Existing models start as not free: those without a price are refused until
an admin prices them or marks them free (failing closed is the point).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ai_models") as batch:
        batch.add_column(sa.Column("free", sa.Boolean(), nullable=False, server_default=sa.false()))
    # the model has no server default: every insert names the value
    with op.batch_alter_table("ai_models") as batch:
        batch.alter_column("free", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("ai_models") as batch:
        batch.drop_column("free")
