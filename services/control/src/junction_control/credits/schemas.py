"""Bodies of the credit endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from junction_control.admin.schemas import Input, printable
from junction_control.credits.models import NOTE_CHARS, LedgerEntry
from junction_control.credits.service import MAX_GRANT_USD


class GrantIn(Input):
    """Credit to add (a grant, positive) or correct (an adjustment, either sign)."""

    amount_usd: float = Field(ge=-MAX_GRANT_USD, le=MAX_GRANT_USD)
    note: Annotated[str, Field(max_length=NOTE_CHARS), printable] = ""
    kind: Literal["grant", "adjustment"] = "grant"


class LedgerEntryOut(BaseModel):
    id: str
    kind: str
    amount_usd: float
    model_call_id: str | None
    note: str
    created_at: datetime
    created_by: str | None

    @classmethod
    def of(cls, entry: LedgerEntry) -> LedgerEntryOut:
        return cls.model_validate(entry, from_attributes=True)


class BillingIn(Input):
    """Prepaid: calls the balance cannot cover are refused; postpaid: served on credit."""

    billing: Literal["prepaid", "postpaid"]
    #: postpaid only: how far below zero the balance may go (null: no limit)
    credit_limit_usd: float | None = Field(default=None, ge=0, le=MAX_GRANT_USD)


class BillingOut(BaseModel):
    billing: str
    credit_limit_usd: float | None
    balance_usd: float


class CreditsOut(BaseModel):
    """The balance and one page of the ledger, newest first."""

    balance_usd: float
    billing: str = "postpaid"
    credit_limit_usd: float | None = None
    entries: list[LedgerEntryOut]
    next_cursor: str | None = None


class GrantOut(BaseModel):
    """The entry written and the balance after it."""

    entry: LedgerEntryOut
    balance_usd: float
