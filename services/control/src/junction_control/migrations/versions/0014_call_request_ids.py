"""The x-request-id of each call, so a client's or a log line's id finds its call.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 00:00:00

Written by hand with portable types only, so it runs on SQLite and PostgreSQL.
Calls from before this revision have none. The column is nullable with no
default, so no table is copied on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_calls") as batch:
        batch.add_column(sa.Column("request_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_calls") as batch:
        batch.drop_column("request_id")
