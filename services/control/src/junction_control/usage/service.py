"""Reading model calls (list, per-model totals) and closing calls stuck in `processing`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from junction_control.columns import utcnow
from junction_control.errors import InvalidInput
from junction_control.usage.models import PROCESSING, STUCK, ModelCall
from junction_control.usage.rollup import usd
from junction_control.usage.sources import Span, plan_range
from junction_control.usage.totals import Totals, totals_by_model

MAX_LIST_LIMIT = 500


class CallCursor(NamedTuple):
    """Where a page of `list_calls` ended: the last call's start and id."""

    started_at: datetime
    id: str

    @classmethod
    def after(cls, call: ModelCall) -> CallCursor:
        """The cursor that continues the listing after `call`."""
        return cls(call.started_at, call.id)


@dataclass(frozen=True, slots=True)
class ModelUsage:
    """Totals of one model over a time range.

    `calls` counts every call; `failed_calls` and `refused_calls` are part of
    it, apart from each other: a refused call never reached a provider, so it
    says nothing of the providers' health (leave it out of an error rate).
    `cost_usd` is exact to the nano-USD: each call's cost is rounded to
    1e-9 USD before adding, so the float's shortest text is that decimal.
    """

    model: str
    calls: int
    failed_calls: int
    refused_calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class CallFilter:
    """Which calls a listing keeps: every given field must match exactly (AND)."""

    status: str | None = None
    model: str | None = None
    token_id: str | None = None
    deployment_id: str | None = None
    request_id: str | None = None
    #: the call started in [since, until)
    since: datetime | None = None
    until: datetime | None = None


async def list_calls(
    session: AsyncSession,
    tenant_id: str,
    *,
    limit: int = 50,
    before: CallCursor | None = None,
    where: CallFilter | None = None,
) -> Sequence[ModelCall]:
    """The tenant's calls, newest first; `before` continues after a previous page.

    The cursor holds the id as well as the start time, so calls that started
    in the same instant are neither skipped nor repeated between pages.
    """
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}")
    query = select(ModelCall).where(ModelCall.tenant_id == tenant_id)
    if where is not None:
        for name in ("status", "model", "token_id", "deployment_id", "request_id"):
            value = getattr(where, name)
            if value is not None:
                query = query.where(getattr(ModelCall, name) == value)
        if where.since is not None:
            query = query.where(col(ModelCall.started_at) >= where.since)
        if where.until is not None:
            query = query.where(col(ModelCall.started_at) < where.until)
    if before is not None:
        query = query.where(
            or_(
                col(ModelCall.started_at) < before.started_at,
                (col(ModelCall.started_at) == before.started_at) & (col(ModelCall.id) < before.id),
            )
        )
    query = query.order_by(col(ModelCall.started_at).desc(), col(ModelCall.id).desc())
    result = await session.exec(query.limit(limit))
    return result.all()


async def get_call(session: AsyncSession, tenant_id: str, call_id: str) -> ModelCall | None:
    """One of the tenant's calls by its id (another tenant's is not found)."""
    call = await session.get(ModelCall, call_id)
    return call if call is not None and call.tenant_id == tenant_id else None


async def usage_totals(
    session: AsyncSession,
    tenant_id: str,
    since: datetime,
    until: datetime,
    *,
    retention: timedelta,
    now: datetime | None = None,
) -> list[ModelUsage]:
    """Per-model totals of the tenant's calls that started in ``[since, until)``.

    Whole hours come from the hourly rollups where they are known to match
    the calls, the rest from the calls themselves (`usage.sources`): the
    same figures as `usage_summary` wherever calls are kept, in O(hours)
    rows; hours before the retention cut-off count from their rollups.
    """
    spans = await usage_spans(session, tenant_id, since, until, retention=retention, now=now)
    return _by_model(await totals_by_model(await session.connection(), tenant_id, spans))


async def usage_spans(
    session: AsyncSession,
    tenant_id: str,
    since: datetime,
    until: datetime,
    *,
    retention: timedelta,
    now: datetime | None = None,
) -> list[Span]:
    """Where each part of ``[since, until)`` is read from (rollups or calls), in order."""
    conn = await session.connection()
    return await plan_range(conn, tenant_id, since, until, now=now or utcnow(), retention=retention)


async def usage_summary(
    session: AsyncSession, tenant_id: str, since: datetime, until: datetime
) -> list[ModelUsage]:
    """Per-model totals of the tenant's calls that started in ``[since, until)``, from the calls.

    Every call counts, whatever its status; tokens and cost are what the
    finished calls reported (a call still processing adds none yet). Cost
    is added in whole nano-USD, as the rollups add it.
    """
    conn = await session.connection()
    spans = [Span(since, until, rolled=False)]
    return _by_model(await totals_by_model(conn, tenant_id, spans))


def _by_model(found: dict[str, Totals]) -> list[ModelUsage]:
    return [
        ModelUsage(
            model=model,
            calls=t.calls,
            failed_calls=t.failed_calls,
            refused_calls=t.refused_calls,
            input_tokens=t.input_tokens,
            output_tokens=t.output_tokens,
            cost_usd=usd(t.cost_nanos),
        )
        for model, t in found.items()
    ]


async def reap_stuck_calls(
    session: AsyncSession, *, older_than: timedelta, now: datetime | None = None
) -> int:
    """Mark calls `processing` for longer than `older_than` as failed/stuck; how many.

    The engine may still report such a call later (it was slow, or its events
    waited in a spool): ingest treats a failed/stuck row as open, so that
    `finished` event replaces the guess.
    """
    now = now or utcnow()
    conn = await session.connection()
    result = await conn.execute(
        update(ModelCall)
        .where(
            col(ModelCall.status) == PROCESSING,
            col(ModelCall.started_at) < now - older_than,
        )
        .values(status="failed", error_code=STUCK, finished_at=now, updated_at=now)
    )
    return int(result.rowcount)
