"""Prepaid and postpaid tenants: billing mode, credit limit, and running totals.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:00:00

Written by hand with portable types only, so it runs on SQLite and PostgreSQL.
The engine holds a call's worst case against what a tenant was granted minus
what it was charged, so both totals are kept beside the balance; they start
from the ledger. Existing tenants stay postpaid (served as before).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("credit_accounts") as batch:
        batch.add_column(
            sa.Column("granted_usd", sa.Float(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(
            sa.Column("charged_usd", sa.Float(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(
            sa.Column("billing", sa.String(length=16), nullable=False, server_default="postpaid")
        )
        batch.add_column(sa.Column("credit_limit_usd", sa.Float(), nullable=True))
        batch.create_check_constraint(
            "ck_credit_accounts_billing", "billing IN ('prepaid', 'postpaid')"
        )
    op.execute(
        "UPDATE credit_accounts SET "
        "granted_usd = COALESCE((SELECT SUM(amount_usd) FROM credit_ledger WHERE "
        "credit_ledger.tenant_id = credit_accounts.tenant_id AND kind <> 'charge'), 0), "
        "charged_usd = COALESCE((SELECT -SUM(amount_usd) FROM credit_ledger WHERE "
        "credit_ledger.tenant_id = credit_accounts.tenant_id AND kind = 'charge'), 0)"
    )
    # the model has no server defaults: every insert names the values
    with op.batch_alter_table("credit_accounts") as batch:
        batch.alter_column("granted_usd", server_default=None)
        batch.alter_column("charged_usd", server_default=None)
        batch.alter_column("billing", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("credit_accounts") as batch:
        batch.drop_constraint("ck_credit_accounts_billing", type_="check")
        batch.drop_column("credit_limit_usd")
        batch.drop_column("billing")
        batch.drop_column("charged_usd")
        batch.drop_column("granted_usd")
