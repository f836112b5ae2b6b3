"""Rollup coverage: which hourly rollups match the calls, and an index on call changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 00:00:00

Written by hand with portable types only, so it runs on SQLite and PostgreSQL.
The usage endpoints read whole hours from `usage_hourly` and the rest from
model_calls; `usage_rollup_coverage` (one row, written by the rollup job)
says up to where the rollups were rolled and since when calls changed, and
`ix_model_calls_updated` finds the calls changed since then. The table starts
empty: until the first rollup after this revision (which re-rolls every hour
that still has calls) the endpoints read the raw calls, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_rollup_coverage",
        sa.Column("scope", sa.String(16), primary_key=True),
        sa.Column("rolled_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changes_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_model_calls_updated", "model_calls", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_model_calls_updated", table_name="model_calls")
    op.drop_table("usage_rollup_coverage")
