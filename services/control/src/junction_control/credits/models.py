"""The credit_accounts and credit_ledger tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from junction_control.columns import UtcDateTime, new_id, utcnow

KINDS: tuple[str, ...] = ("grant", "charge", "adjustment")
#: prepaid: refused when the balance cannot cover a call; postpaid: served, the
#: balance may go negative (down to minus the credit limit, when one is set)
BILLING: tuple[str, ...] = ("prepaid", "postpaid")
NOTE_CHARS = 500


class CreditAccount(SQLModel, table=True):
    """A tenant's balance: the sum of its ledger, kept up to date in the same transactions.

    USD as a float, like the costs it is charged from: sums agree with the
    ledger to float precision, not to the last cent.
    """

    __tablename__ = "credit_accounts"
    __table_args__ = (
        CheckConstraint("billing IN ('prepaid', 'postpaid')", name="ck_credit_accounts_billing"),
    )

    tenant_id: str = Field(
        primary_key=True, foreign_key="tenants.id", ondelete="CASCADE", max_length=36
    )
    balance_usd: float = Field(default=0.0)
    #: every grant and adjustment summed, and every charge: balance = granted - charged
    granted_usd: float = Field(default=0.0)
    charged_usd: float = Field(default=0.0)
    billing: str = Field(default="postpaid", max_length=16)
    #: postpaid only: how far below zero the balance may go (None: no limit)
    credit_limit_usd: float | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class LedgerEntry(SQLModel, table=True):
    """One change of a balance: a grant, a charge (negative) or an adjustment.

    `model_call_id` is unique: a call is charged at most once, however often its
    telemetry is delivered. It is a plain string, not a foreign key, because
    model_calls rows are pruned after the retention period while the ledger
    stays; `created_by` is a plain string for the same reason (users go, the
    trail stays).
    """

    __tablename__ = "credit_ledger"
    __table_args__ = (
        UniqueConstraint("model_call_id", name="uq_credit_ledger_model_call_id"),
        # a tenant's entries, newest first
        Index("ix_credit_ledger_tenant_created", "tenant_id", "created_at"),
        CheckConstraint("kind IN ('grant', 'charge', 'adjustment')", name="ck_credit_ledger_kind"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    tenant_id: str = Field(foreign_key="tenants.id", ondelete="CASCADE", max_length=36)
    kind: str = Field(max_length=16)
    amount_usd: float
    model_call_id: str | None = Field(default=None, max_length=64)
    note: str = Field(default="", max_length=NOTE_CHARS)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    created_by: str | None = Field(default=None, max_length=36)
