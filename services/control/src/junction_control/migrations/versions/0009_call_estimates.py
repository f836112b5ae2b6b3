"""Calls whose usage was estimated, and calls whose answer was cut.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 00:00:00

Written by hand with portable types only, so it runs on SQLite and PostgreSQL.
A call the provider reported no usage for (the client left mid-stream, the
stream broke off, the provider sends none) is billed from the engine's
estimate; the call record says so. Existing calls were billed as reported.
The columns keep their server default (false), so no table is copied on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FLAGS = ("usage_estimated", "partial")


def upgrade() -> None:
    with op.batch_alter_table("model_calls") as batch:
        for name in _FLAGS:
            batch.add_column(
                sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())
            )


def downgrade() -> None:
    with op.batch_alter_table("model_calls") as batch:
        for name in _FLAGS:
            batch.drop_column(name)
