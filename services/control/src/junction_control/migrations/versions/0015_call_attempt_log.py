"""Each call's upstream attempts, for its detail page.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 00:00:00

Written by hand with portable types only, so it runs on SQLite and PostgreSQL.
The log is a JSON array of the engine's attempt notes (deployment, provider,
credential, outcome, HTTP status, error code, duration), kept on the call's
row: it is only read with its call, never searched. Calls from before this
revision have none. The column is nullable with no default, so no table is
copied on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_calls") as batch:
        batch.add_column(sa.Column("attempt_log", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_calls") as batch:
        batch.drop_column("attempt_log")
