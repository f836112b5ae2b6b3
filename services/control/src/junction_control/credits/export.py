"""The ledger CSV: every entry of a tenant (or those of a time range), oldest first, streamed.

Entries are read in pages by (created_at, id) on a connection of their own,
each page a statement of its own: the ledger is append-only, so an entry
written meanwhile is never repeated nor does it shift a page. Amounts are
exact decimals to the nano-USD (`admin.export.usd_cell`); charges are
negative numbers, not text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Table, select, tuple_

from junction_control.admin.export import Cell, text_cell, time_cell, usd_cell
from junction_control.credits.models import LedgerEntry
from junction_control.db import Database
from junction_control.usage.schemas import TimeOrDate

PAGE_ROWS = 1000
HEADER = ("id", "created_at", "kind", "amount_usd", "model_call_id", "note", "created_by")

_ledger: Table = LedgerEntry.__table__  # type: ignore[attr-defined]


class LedgerQuery(BaseModel):
    """``?since=&until=`` on the entries' time (times with a zone, or plain dates); optional."""

    model_config = ConfigDict(extra="ignore")

    since: TimeOrDate | None = None
    until: TimeOrDate | None = None


def filename(tenant_name: str) -> str:
    """``ledger-<tenant>.csv`` (the tenant name is a slug: safe in a header)."""
    return f"ledger-{tenant_name}.csv"


async def ledger_pages(
    database: Database, tenant_id: str, since: datetime | None, until: datetime | None
) -> AsyncIterator[list[list[Cell]]]:
    """The CSV rows of the tenant's entries created in ``[since, until)``, a page at a time."""
    e = _ledger.c
    query = select(
        e.id, e.created_at, e.kind, e.amount_usd, e.model_call_id, e.note, e.created_by
    ).where(e.tenant_id == tenant_id)
    if since is not None:
        query = query.where(e.created_at >= since)
    if until is not None:
        query = query.where(e.created_at < until)
    query = query.order_by(e.created_at, e.id).limit(PAGE_ROWS)
    after: tuple[datetime, str] | None = None
    async with database.reader() as conn:
        while True:
            page = query if after is None else query.where(tuple_(e.created_at, e.id) > after)
            rows = (await conn.execute(page)).all()
            if rows:
                yield [
                    [
                        text_cell(r.id),
                        time_cell(r.created_at, "microseconds"),
                        text_cell(r.kind),
                        usd_cell(r.amount_usd),
                        text_cell(r.model_call_id),
                        text_cell(r.note),
                        text_cell(r.created_by),
                    ]
                    for r in rows
                ]
            if len(rows) < PAGE_ROWS:
                return
            after = (rows[-1].created_at, rows[-1].id)
