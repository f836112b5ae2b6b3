"""Usage totals over the spans of a range: per model, or per hour, model and token.

Each span is read from its source (`usage.sources`): `usage_hourly` rows, or
the raw calls grouped the way the rollup groups them. Cost is added in whole
nano-USD on both sides (`rollup.nanos`), so rollups and raw calls give the
same figure to the last digit, and it converts to an exact decimal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, case, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from junction_control.usage.models import REFUSED, ModelCall, UsageHour
from junction_control.usage.rollup import HOUR, as_hour, hour_of, nanos
from junction_control.usage.sources import Span

PAGE_ROWS = 1000
# raw spans are grouped a day at a time, so an export holds one day's groups at most
RAW_STEP = 24 * HOUR

_calls: Table = ModelCall.__table__  # type: ignore[attr-defined]
_hours: Table = UsageHour.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Totals:
    """What a group of calls adds up to; cost in nano-USD (1e-9 USD)."""

    calls: int
    failed_calls: int
    refused_calls: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cost_nanos: int

    def __add__(self, other: Totals) -> Totals:
        return Totals(*(a + b for a, b in zip(_values(self), _values(other), strict=True)))


@dataclass(frozen=True, slots=True)
class HourRow:
    """One hour's totals of one model and token (only the part of the hour in the range)."""

    hour: datetime
    model: str
    token_id: str
    totals: Totals


def _values(t: Totals) -> tuple[int, ...]:
    return (
        t.calls,
        t.failed_calls,
        t.refused_calls,
        t.input_tokens,
        t.output_tokens,
        t.cached_input_tokens,
        t.cost_nanos,
    )


def _rolled_sums() -> list[ColumnElement[Any]]:
    h = _hours.c
    return [
        func.coalesce(func.sum(col), 0)
        for col in (
            h.calls,
            h.failed_calls,
            h.refused_calls,
            h.input_tokens,
            h.output_tokens,
            h.cached_input_tokens,
            nanos(h.cost_usd),
        )
    ]


def _raw_sums() -> list[ColumnElement[Any]]:
    c = _calls.c
    return [
        func.count(),
        func.coalesce(func.sum(case((c.status == "failed", 1), else_=0)), 0),
        func.coalesce(func.sum(case((c.status == REFUSED, 1), else_=0)), 0),
        func.coalesce(func.sum(c.input_tokens), 0),
        func.coalesce(func.sum(c.output_tokens), 0),
        func.coalesce(func.sum(c.cached_input_tokens), 0),
        func.coalesce(func.sum(nanos(c.cost_usd)), 0),
    ]


def _totals(values: Sequence[Any]) -> Totals:
    return Totals(*(int(v) for v in values))


def _within(column: Any, spans: Sequence[Span]) -> ColumnElement[bool]:
    return or_(*(and_(column >= s.start, column < s.end) for s in spans))


async def totals_by_model(
    conn: AsyncConnection, tenant_id: str, spans: Sequence[Span]
) -> dict[str, Totals]:
    """Per-model totals of the tenant over `spans` (one query per source)."""
    found: dict[str, Totals] = {}
    rolled = [s for s in spans if s.rolled]
    raw = [s for s in spans if not s.rolled]
    queries: list[Select[Any]] = []
    if rolled:
        h = _hours.c
        queries.append(
            select(h.model, *_rolled_sums())
            .where(h.tenant_id == tenant_id, _within(h.hour, rolled))
            .group_by(h.model)
        )
    if raw:
        c = _calls.c
        queries.append(
            select(c.model, *_raw_sums())
            .where(c.tenant_id == tenant_id, _within(c.started_at, raw))
            .group_by(c.model)
        )
    for query in queries:
        for model, *values in (await conn.execute(query)).all():
            totals = _totals(values)
            found[model] = found[model] + totals if model in found else totals
    return dict(sorted(found.items()))


async def hourly_rows(
    conn: AsyncConnection, tenant_id: str, spans: Sequence[Span]
) -> AsyncIterator[list[HourRow]]:
    """The tenant's rows per hour, model and token over `spans`, in that order, page by page."""
    for span in spans:
        if span.rolled:
            async for page in _rolled_pages(conn, tenant_id, span):
                yield page
            continue
        at = span.start
        while at < span.end:
            step_end = min(at + RAW_STEP, span.end)
            page = await _raw_rows(conn, tenant_id, Span(at, step_end, rolled=False))
            if page:
                yield page
            at = step_end


async def _rolled_pages(
    conn: AsyncConnection, tenant_id: str, span: Span
) -> AsyncIterator[list[HourRow]]:
    h = _hours.c
    columns = (
        h.hour,
        h.model,
        h.token_id,
        h.calls,
        h.failed_calls,
        h.refused_calls,
        h.input_tokens,
        h.output_tokens,
        h.cached_input_tokens,
        nanos(h.cost_usd),
    )
    query = (
        select(*columns)
        .where(h.tenant_id == tenant_id, h.hour >= span.start, h.hour < span.end)
        .order_by(h.hour, h.model, h.token_id)
        .limit(PAGE_ROWS)
    )
    after: tuple[datetime, str, str] | None = None
    while True:
        page_query = query
        if after is not None:
            page_query = query.where(tuple_(h.hour, h.model, h.token_id) > tuple_(*after))
        rows = (await conn.execute(page_query)).all()
        if not rows:
            return
        page = [HourRow(as_hour(r[0]), r[1], r[2], _totals(r[3:])) for r in rows]
        yield page
        if len(rows) < PAGE_ROWS:
            return
        last = page[-1]
        after = (last.hour, last.model, last.token_id)


async def _raw_rows(conn: AsyncConnection, tenant_id: str, span: Span) -> list[HourRow]:
    c = _calls.c
    hour = hour_of(conn).label("hour")
    query = (
        select(hour, c.model, c.token_id, *_raw_sums())
        .where(c.tenant_id == tenant_id, c.started_at >= span.start, c.started_at < span.end)
        .group_by(hour, c.model, c.token_id)
        .order_by(hour, c.model, c.token_id)
    )
    rows = (await conn.execute(query)).all()
    return [HourRow(as_hour(r[0]), r[1], r[2], _totals(r[3:])) for r in rows]
