"""Moving credit: charges from telemetry ingest, grants and adjustments from admins.

Every change is one ledger row plus the same change to the tenant's balance,
in the caller's transaction, so the balance is always the sum of the ledger.
A charge names its model call; the unique ``model_call_id`` makes a second
charge for the same call a no-op (``ON CONFLICT DO NOTHING``), whatever path
a replayed or overlapping delivery takes through ingest.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from junction_control import bulk
from junction_control.columns import new_id, utcnow
from junction_control.credits.models import BILLING, NOTE_CHARS, CreditAccount, LedgerEntry
from junction_control.errors import InvalidInput
from junction_control.route_changes import note_tenant_changed
from junction_control.tenants.models import Tenant

# the largest single grant or adjustment: a typo guard, not a business rule
MAX_GRANT_USD = 1_000_000_000.0

_CHARGE_COLUMNS = bulk.columns(
    "tenant_id text, amount_usd float8, model_call_id text, created_at timestamptz"
)
_CHARGE = (
    "INSERT INTO credit_ledger "
    "(id, tenant_id, kind, amount_usd, model_call_id, note, created_at, created_by) "
    "SELECT {id}, tenant_id, 'charge', amount_usd, model_call_id, '', created_at, NULL "
    "FROM batch WHERE true ON CONFLICT (model_call_id) DO NOTHING "
    "RETURNING tenant_id, amount_usd, model_call_id"
)
# PostgreSQL (13+) draws the entries' ids itself; SQLite has no UUIDs, so they come along
_CHARGE_POSTGRES = _CHARGE.format(id="CAST(gen_random_uuid() AS text)")
_CHARGE_SQLITE = _CHARGE.format(id="id")
_CHARGE_SQLITE_COLUMNS = bulk.columns("id text") + _CHARGE_COLUMNS
_BALANCE_COLUMNS = bulk.columns(
    "tenant_id text, granted float8, charged float8, moved_at timestamptz"
)
# balance = balance + delta in SQL: concurrent writers add, never overwrite; the
# granted and charged totals move with it (balance = granted - charged)
_MOVE_BALANCES = (
    "INSERT INTO credit_accounts (tenant_id, balance_usd, granted_usd, charged_usd, billing, "
    "credit_limit_usd, created_at, updated_at) "
    "SELECT tenant_id, granted - charged, granted, charged, 'postpaid', NULL, moved_at, moved_at "
    "FROM batch WHERE true ON CONFLICT (tenant_id) "
    "DO UPDATE SET balance_usd = credit_accounts.balance_usd + excluded.balance_usd, "
    "granted_usd = credit_accounts.granted_usd + excluded.granted_usd, "
    "charged_usd = credit_accounts.charged_usd + excluded.charged_usd, "
    "updated_at = excluded.updated_at"
)


@dataclass(frozen=True, slots=True)
class Charge:
    """What one finished call costs its tenant."""

    call_id: str
    tenant_id: str
    cost_usd: float


async def charge_calls(
    conn: AsyncConnection, charges: Sequence[Charge], now: datetime | None = None
) -> set[str]:
    """Charge each call once (calls charged before are skipped); the call ids charged now."""
    now = now or utcnow()
    rows: list[tuple[Any, ...]] = [
        (c.tenant_id, -float(c.cost_usd), c.call_id, now)
        # in call id order, like ingest's row locks, so overlapping batches queue
        for c in sorted(charges, key=lambda c: c.call_id)
        if c.cost_usd > 0
    ]
    if conn.dialect.name == "postgresql":
        written = await bulk.with_batch(conn, _CHARGE_COLUMNS, rows, _CHARGE_POSTGRES)
    else:
        rows = [(new_id(), *row) for row in rows]
        written = await bulk.with_batch(conn, _CHARGE_SQLITE_COLUMNS, rows, _CHARGE_SQLITE)
    costs: dict[str, float] = defaultdict(float)
    charged: set[str] = set()
    for tenant_id, amount, call_id in written:
        costs[tenant_id] -= amount  # a charge's entry is negative
        charged.add(call_id)
    await _move_balances(conn, {t: (0.0, cost) for t, cost in costs.items()}, now)
    return charged


async def _move_balances(
    conn: AsyncConnection, moves: dict[str, tuple[float, float]], now: datetime
) -> None:
    """Add (granted, charged) to each tenant's account, opening accounts that do not exist."""
    # one lock order for every writer (tenant id): no deadlocks
    rows = [(t, *moves[t], now) for t in sorted(moves)]
    await bulk.with_batch(conn, _BALANCE_COLUMNS, rows, _MOVE_BALANCES)


async def add_entry(
    session: AsyncSession,
    tenant: Tenant,
    amount_usd: float,
    *,
    kind: str = "grant",
    note: str = "",
    created_by: str | None = None,
) -> LedgerEntry:
    """Grant (positive) or adjust (either sign) a tenant's credit; the ledger row written."""
    if kind not in ("grant", "adjustment"):
        raise InvalidInput(f"kind must be grant or adjustment, got {kind!r}")
    if not math.isfinite(amount_usd) or amount_usd == 0 or abs(amount_usd) > MAX_GRANT_USD:
        raise InvalidInput(
            f"amount_usd must be a non-zero number of at most {MAX_GRANT_USD:.0f} in size"
        )
    if kind == "grant" and amount_usd < 0:
        raise InvalidInput("a grant must be positive (use an adjustment to take credit away)")
    if len(note) > NOTE_CHARS:
        raise InvalidInput(f"note must be at most {NOTE_CHARS} characters")
    now = utcnow()
    entry = LedgerEntry(
        tenant_id=tenant.id,
        kind=kind,
        amount_usd=float(amount_usd),
        note=note,
        created_at=now,
        created_by=created_by,
    )
    session.add(entry)
    await session.flush()
    await _move_balances(await session.connection(), {tenant.id: (float(amount_usd), 0.0)}, now)
    note_tenant_changed(session, tenant.id)  # engines learn the new figure at once
    return entry


async def set_billing(
    session: AsyncSession, tenant: Tenant, billing: str, credit_limit_usd: float | None
) -> CreditAccount:
    """Make the tenant prepaid or postpaid (with an optional credit limit); flushed."""
    if billing not in BILLING:
        raise InvalidInput(f"billing must be one of {', '.join(BILLING)}, got {billing!r}")
    if credit_limit_usd is not None:
        if billing != "postpaid":
            raise InvalidInput("a credit limit applies to postpaid tenants only")
        if not math.isfinite(credit_limit_usd) or not 0 <= credit_limit_usd <= MAX_GRANT_USD:
            raise InvalidInput(f"credit_limit_usd must be between 0 and {MAX_GRANT_USD:.0f}")
    account = await session.get(CreditAccount, tenant.id, populate_existing=True)
    if account is None:
        account = CreditAccount(tenant_id=tenant.id)
    account.billing = billing
    account.credit_limit_usd = credit_limit_usd
    account.updated_at = utcnow()
    session.add(account)
    await session.flush()
    note_tenant_changed(session, tenant.id)
    return account


async def account_of(session: AsyncSession, tenant_id: str) -> CreditAccount:
    """The tenant's account (a postpaid one with nothing on it before its first entry)."""
    account = await session.get(CreditAccount, tenant_id, populate_existing=True)
    return account or CreditAccount(tenant_id=tenant_id)


async def balance_of(session: AsyncSession, tenant_id: str) -> float:
    """The tenant's balance in USD (0 before its first ledger entry)."""
    account = await session.get(CreditAccount, tenant_id, populate_existing=True)
    return 0.0 if account is None else account.balance_usd


def ledger_query(tenant_id: str) -> SelectOfScalar[LedgerEntry]:
    """The tenant's ledger entries (the caller orders and pages)."""
    return select(LedgerEntry).where(col(LedgerEntry.tenant_id) == tenant_id)
