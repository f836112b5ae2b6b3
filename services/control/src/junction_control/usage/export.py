"""The usage CSV: one row per hour, model and token over a range, streamed page by page.

The rows are those the per-model totals are made of (`usage.totals`): whole
hours from the rollups, the rest from the calls, so a column's sum over the
rows of a model is that model's figure in the JSON totals. An edge hour
counts only the part of it inside the range.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from junction_control.admin.export import Cell, nanos_cell, text_cell, time_cell
from junction_control.db import Database
from junction_control.tokens.models import UserToken
from junction_control.usage.sources import Span
from junction_control.usage.totals import HourRow, hourly_rows

HEADER = (
    "hour",
    "model",
    "token_id",
    "token_name",
    "calls",
    "failed_calls",
    "refused_calls",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cost_usd",
)


def filename(tenant_name: str, since: datetime, until: datetime) -> str:
    """``usage-<tenant>-<since>-<until>.csv`` (the tenant name is a slug: safe in a header)."""
    return f"usage-{tenant_name}-{_stamp(since)}-{_stamp(until)}.csv"


async def usage_pages(
    database: Database, tenant_id: str, spans: Sequence[Span]
) -> AsyncIterator[list[list[Cell]]]:
    """The CSV rows of `spans`, a page at a time, read on a connection of their own."""
    async with database.reader() as conn:
        names = await _token_names(conn, tenant_id)
        async for page in hourly_rows(conn, tenant_id, spans):
            yield [_cells(row, names) for row in page]


def _cells(row: HourRow, names: dict[str, str]) -> list[Cell]:
    t = row.totals
    return [
        time_cell(row.hour),
        text_cell(row.model),
        text_cell(row.token_id),
        text_cell(names.get(row.token_id)),  # empty once the token is deleted
        t.calls,
        t.failed_calls,
        t.refused_calls,
        t.input_tokens,
        t.output_tokens,
        t.cached_input_tokens,
        nanos_cell(t.cost_nanos),
    ]


async def _token_names(conn: AsyncConnection, tenant_id: str) -> dict[str, str]:
    tokens = UserToken.__table__  # type: ignore[attr-defined]
    rows = await conn.execute(
        select(tokens.c.id, tokens.c.name).where(tokens.c.tenant_id == tenant_id)
    )
    return {token_id: name for token_id, name in rows.all()}


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
