"""Reading model calls (list, per-model totals) and closing calls stuck in `processing`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import case, func, or_, update
from sqlalchemy import select as sql_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from junction_control.columns import utcnow
from junction_control.errors import InvalidInput
from junction_control.usage.models import PROCESSING, REFUSED, STUCK, ModelCall

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
    """

    model: str
    calls: int
    failed_calls: int
    refused_calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


async def list_calls(
    session: AsyncSession,
    tenant_id: str,
    *,
    limit: int = 50,
    before: CallCursor | None = None,
) -> Sequence[ModelCall]:
    """The tenant's calls, newest first; `before` continues after a previous page.

    The cursor holds the id as well as the start time, so calls that started
    in the same instant are neither skipped nor repeated between pages.
    """
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}")
    query = select(ModelCall).where(ModelCall.tenant_id == tenant_id)
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


async def usage_summary(
    session: AsyncSession, tenant_id: str, since: datetime, until: datetime
) -> list[ModelUsage]:
    """Per-model totals of the tenant's calls that started in ``[since, until)``.

    Every call counts, whatever its status; tokens and cost are what the
    finished calls reported (a call still processing adds none yet).
    """
    status = col(ModelCall.status)
    # seven columns: more than sqlmodel's typed select takes, so plain SQLAlchemy
    query = (
        sql_select(
            col(ModelCall.model),
            func.count(),
            func.coalesce(func.sum(case((status == "failed", 1), else_=0)), 0),
            func.coalesce(func.sum(case((status == REFUSED, 1), else_=0)), 0),
            func.coalesce(func.sum(ModelCall.input_tokens), 0),
            func.coalesce(func.sum(ModelCall.output_tokens), 0),
            func.coalesce(func.sum(ModelCall.cost_usd), 0.0),
        )
        .where(
            col(ModelCall.tenant_id) == tenant_id,
            col(ModelCall.started_at) >= since,
            col(ModelCall.started_at) < until,
        )
        .group_by(col(ModelCall.model))
        .order_by(col(ModelCall.model))
    )
    conn = await session.connection()
    rows = (await conn.execute(query)).all()
    return [
        ModelUsage(
            model=model,
            calls=int(calls),
            failed_calls=int(failed),
            refused_calls=int(refused),
            input_tokens=int(input_tokens),
            output_tokens=int(output_tokens),
            cost_usd=float(cost),
        )
        for model, calls, failed, refused, input_tokens, output_tokens, cost in rows
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
