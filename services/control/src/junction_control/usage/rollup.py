"""Hourly usage rollups and the retention prune of raw calls.

`rollup_hours` (re)computes `usage_hourly` from model_calls for complete UTC
hours, by the hour each call *started* in (like `usage_summary`). `calls`
counts every call, `failed_calls` the failed ones and `refused_calls`, apart
from them, those refused before any provider was tried. It is
idempotent: an hour's rows are upserted from the raw rows, and rows of the
hour that no longer match any call are deleted, so re-running gives the same
table. Each run re-rolls the last `REROLL_HOURS` (24) complete hours, which
picks up calls that finished late (a call counts in its start hour, and its
tokens arrive with its `finished` event) and events that waited in an
engine's spool; anything that changes an hour more than 24 hours after it
ended is not reflected until the hour is rolled explicitly (``since``).
Hours after the newest rolled hour are always included, so a control plane
that was down for days catches up in one run. Rows of an hour before the
retention cut-off that has no calls left are never deleted, whatever
``since`` says: its calls were pruned, and the rollup is all that is left of
them.

`prune_calls` deletes model_calls that started before the retention cut-off
(truncated to the hour, so an hour is either wholly kept or wholly pruned);
rollups and the credit ledger stay. The background job rolls up before it
prunes, so an hour is rolled before its calls go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, case, delete, func, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from junction_control.usage.models import REFUSED, ModelCall, UsageHour

REROLL_HOURS = 24
HOUR = timedelta(hours=1)
CHUNK = 500

_calls: Table = ModelCall.__table__  # type: ignore[attr-defined]
_hours: Table = UsageHour.__table__  # type: ignore[attr-defined]
_KEY = ("tenant_id", "hour", "model", "token_id")
_TOTALS = (
    "calls",
    "failed_calls",
    "refused_calls",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
)


@dataclass(frozen=True, slots=True)
class RollupResult:
    """The hours rolled, ``[start, end)``, and how many rollup rows they hold."""

    start: datetime
    end: datetime
    rows: int


def floor_hour(at: datetime) -> datetime:
    """`at` in UTC, truncated to the hour."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


async def rollup_hours(
    session: AsyncSession,
    *,
    until: datetime,
    retention: timedelta,
    since: datetime | None = None,
) -> RollupResult:
    """Recompute the rollups of the complete hours before `until` (not committed).

    Without `since`: the last REROLL_HOURS hours, plus every hour since the
    newest rolled one. With `since`: every hour from the one holding `since`.
    An hour before the retention cut-off of `until` that has no calls left
    (`prune_calls` deleted them) keeps its rows as they are.
    """
    end = floor_hour(until)
    conn = await session.connection()
    start = floor_hour(since) if since is not None else await _default_start(conn, end)
    if start >= end:
        return RollupResult(start, end, 0)
    rows = await _aggregate(conn, start, end)
    await _upsert(conn, rows)
    await _delete_stale(conn, start, end, rows, cutoff=retention_cutoff(until, retention))
    return RollupResult(start, end, len(rows))


def retention_cutoff(now: datetime, retention: timedelta) -> datetime:
    """The start of the oldest hour whose calls the prune keeps at `now`."""
    try:
        return floor_hour(now - retention)
    except OverflowError:
        # a retention longer than the calendar: nothing is ever pruned
        return datetime.min.replace(tzinfo=UTC)


async def prune_calls(session: AsyncSession, *, retention: timedelta, now: datetime) -> int:
    """Delete the calls that started before the retention cut-off; how many (not committed)."""
    cutoff = retention_cutoff(now, retention)
    conn = await session.connection()
    result = await conn.execute(delete(_calls).where(_calls.c.started_at < cutoff))
    return int(result.rowcount)


async def _default_start(conn: AsyncConnection, end: datetime) -> datetime:
    start = end - REROLL_HOURS * HOUR
    newest = (await conn.execute(select(func.max(_hours.c.hour)))).scalar()
    query = select(func.min(_calls.c.started_at)).where(_calls.c.started_at < start)
    if newest is not None:
        query = query.where(_calls.c.started_at >= newest + HOUR)
    earliest = (await conn.execute(query)).scalar()
    return start if earliest is None else min(start, floor_hour(earliest))


def _hour_of(conn: AsyncConnection) -> ColumnElement[Any]:
    # constants as literals: PostgreSQL matches GROUP BY expressions by text, and a
    # bound parameter would appear as two different $n in SELECT and GROUP BY
    if conn.dialect.name == "postgresql":
        return func.date_trunc(
            literal_column("'hour'"), func.timezone(literal_column("'UTC'"), _calls.c.started_at)
        )
    # SQLite stores UTC as naive text: the hour is a prefix of it
    return func.strftime(literal_column("'%Y-%m-%d %H:00:00'"), _calls.c.started_at)


def _as_hour(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):  # pragma: no cover - both drivers give one of the two
        raise TypeError(f"unexpected hour value {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def _aggregate(conn: AsyncConnection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    hour = _hour_of(conn).label("hour")
    c = _calls.c
    query = (
        select(
            hour,
            c.tenant_id,
            c.model,
            c.token_id,
            func.count(),
            func.coalesce(func.sum(case((c.status == "failed", 1), else_=0)), 0),
            func.coalesce(func.sum(case((c.status == REFUSED, 1), else_=0)), 0),
            func.coalesce(func.sum(c.input_tokens), 0),
            func.coalesce(func.sum(c.output_tokens), 0),
            func.coalesce(func.sum(c.cached_input_tokens), 0),
            func.coalesce(func.sum(c.cost_usd), 0.0),
        )
        .where(c.started_at >= start, c.started_at < end)
        .group_by(hour, c.tenant_id, c.model, c.token_id)
    )
    rows = []
    for h, tenant_id, model, token_id, *totals in (await conn.execute(query)).all():
        row: dict[str, Any] = {
            "tenant_id": tenant_id,
            "hour": _as_hour(h),
            "model": model,
            "token_id": token_id,
        }
        row.update({name: int(v) for name, v in zip(_TOTALS, totals[:-1], strict=True)})
        row["cost_usd"] = float(totals[-1])
        rows.append(row)
    return rows


async def _upsert(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    # in key order: concurrent runs (every control process has the job) queue, not deadlock
    rows = sorted(rows, key=lambda r: tuple(r[k] for k in _KEY))
    for i in range(0, len(rows), CHUNK):
        statement = insert(_hours).values(rows[i : i + CHUNK])
        statement = statement.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={name: statement.excluded[name] for name in (*_TOTALS, "cost_usd")},
        )
        await conn.execute(statement)


async def _delete_stale(
    conn: AsyncConnection,
    start: datetime,
    end: datetime,
    rows: list[dict[str, Any]],
    *,
    cutoff: datetime,
) -> None:
    # a call may finish under another model or token than it started with, and a
    # re-roll must then drop the group it no longer belongs to
    keep = {tuple(r[k] for k in _KEY) for r in rows}
    # before the cut-off an hour without calls was pruned, not emptied: the
    # rollup is all that is left of it. The prune takes whole hours, so an
    # hour with calls left has all of them and is re-rolled as usual.
    rolled = {r["hour"] for r in rows}
    h = _hours.c
    existing = await conn.execute(
        select(h.tenant_id, h.hour, h.model, h.token_id).where(h.hour >= start, h.hour < end)
    )
    for key in [tuple(row) for row in existing.all()]:
        hour = _as_hour(key[1])
        if key not in keep and (hour >= cutoff or hour in rolled):
            await conn.execute(
                delete(_hours).where(and_(*(h[k] == v for k, v in zip(_KEY, key, strict=True))))
            )
