"""Hourly usage rollups and the retention prune of raw calls.

`rollup_hours` (re)computes `usage_hourly` from model_calls for complete UTC
hours, by the hour each call *started* in (like the usage endpoints), and
beside it `usage_hourly_routes`: the same totals split by provider and
deployment, with the sums and counts of latency and time to first token
(one grouped read of the calls feeds both, so they always agree). `calls`
counts every call, `failed_calls` the failed ones and `refused_calls`, apart
from them, those refused before any provider was tried. Cost is summed in
whole nano-USD (each call's cost rounded to 1e-9 USD first), so an hour's
total is an exact decimal and the usage readers add rollups and raw calls
to the same figure. It is idempotent: an hour's rows are upserted from the
raw rows, and rows of the hour that no longer match any call are deleted,
so re-running gives the same table.

Which hours a run rolls: every hour from the coverage mark on (`usage.coverage`:
a control plane that was down for days catches up in one run; the first
run of a database rolls every hour that has calls), the last `REROLL_HOURS`
(24) complete hours, and every hour holding a call changed since the
previous run (a call counts in its start hour, and its tokens arrive with
its `finished` event, perhaps days later from an engine's spool). With
``since``, every hour from the one holding `since` as well. The run then
moves the coverage marks on, so readers know which rollups match the calls.

Rows of an hour before the retention cut-off are never re-rolled from a
late change, and never deleted when the hour has no calls left, whatever
``since`` says: its calls were pruned, and the rollup is all that is left
of them.

`prune_calls` deletes model_calls that started before the retention cut-off
(truncated to the hour, so an hour is either wholly kept or wholly pruned);
rollups and the credit ledger stay. The background job rolls up before it
prunes, so an hour is rolled before its calls go.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Table,
    and_,
    case,
    cast,
    delete,
    func,
    literal_column,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from junction_control import bulk
from junction_control.columns import utcnow
from junction_control.usage.coverage import lock_coverage, save_coverage
from junction_control.usage.models import REFUSED, ModelCall, UsageHour, UsageRouteHour

REROLL_HOURS = 24
HOUR = timedelta(hours=1)
CHUNK = 10_000  # rollup rows per upsert statement
# hours aggregated per statement: bounds the rows a catch-up run holds at once
SPAN_HOURS = 24 * 7
NANOS_PER_USD = 1_000_000_000

_calls: Table = ModelCall.__table__  # type: ignore[attr-defined]
_hours: Table = UsageHour.__table__  # type: ignore[attr-defined]
_routes: Table = UsageRouteHour.__table__  # type: ignore[attr-defined]
_KEY = ("tenant_id", "hour", "model", "token_id")
_ROUTE_KEY = (*_KEY, "provider_id", "deployment_id")
_TOTALS = (
    "calls",
    "failed_calls",
    "refused_calls",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
)
_ROW_COLUMNS = bulk.columns(
    "tenant_id text, hour timestamptz, model text, token_id text, calls int4, "
    "failed_calls int4, refused_calls int4, input_tokens int8, output_tokens int8, "
    "cached_input_tokens int8, cost_usd float8"
)
_UPSERT = bulk.insert_sql(
    "usage_hourly",
    _ROW_COLUMNS,
    conflict="ON CONFLICT (tenant_id, hour, model, token_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in (*_TOTALS, "cost_usd")),
)
_LATENCY = ("latency_ms_sum", "latency_count", "ttft_ms_sum", "ttft_count")
_ROUTE_COLUMNS = bulk.columns(
    "tenant_id text, hour timestamptz, model text, token_id text, provider_id text, "
    "deployment_id text, calls int4, failed_calls int4, refused_calls int4, input_tokens int8, "
    "output_tokens int8, cached_input_tokens int8, cost_usd float8, latency_ms_sum float8, "
    "latency_count int4, ttft_ms_sum float8, ttft_count int4"
)
_ROUTE_UPSERT = bulk.insert_sql(
    "usage_hourly_routes",
    _ROUTE_COLUMNS,
    conflict="ON CONFLICT ("
    + ", ".join(_ROUTE_KEY)
    + ") DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in (*_TOTALS, "cost_usd", *_LATENCY)),
)


@dataclass(frozen=True, slots=True)
class RollupResult:
    """The hours rolled, ``[start, end)``, and how many rollup rows they hold.

    `start` is the first hour rolled: a run may also re-roll older hours
    whose calls changed, so not every hour of the range was necessarily rolled.
    """

    start: datetime
    end: datetime
    rows: int


def floor_hour(at: datetime) -> datetime:
    """`at` in UTC, truncated to the hour."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def nanos(cost: ColumnElement[Any]) -> ColumnElement[Any]:
    """A USD amount in whole nano-USD (an integer in SQL): costs add up exactly."""
    return cast(func.round(cost * literal_column(str(NANOS_PER_USD))), BigInteger)


def usd(total_nanos: Any) -> float:
    """A sum of `nanos` back in USD (the nearest float, whose shortest text is that decimal)."""
    return int(total_nanos or 0) / NANOS_PER_USD


async def rollup_hours(
    session: AsyncSession,
    *,
    until: datetime,
    retention: timedelta,
    since: datetime | None = None,
) -> RollupResult:
    """Recompute the rollups of the hours the run owes before `until` (not committed).

    See the module doc for which hours; an hour before the retention
    cut-off of `until` that has no calls left (`prune_calls` deleted them)
    keeps its rows as they are.
    """
    end = floor_hour(until)
    conn = await session.connection()
    coverage = await lock_coverage(conn)
    started = utcnow()  # after the lock: every change committed before it is seen
    cutoff = retention_cutoff(until, retention)
    start = await _first_hour(conn, end, None if coverage is None else coverage.rolled_until)
    if since is not None:
        start = min(start, floor_hour(since))
    hours: set[datetime] = set()
    if coverage is not None:
        owed_until = max(end, coverage.rolled_until)
        hours = {
            h
            for h in await changed_hours(conn, coverage.changes_before)
            if cutoff <= h < owed_until and not start <= h < end
        }
    rows = 0
    for span_start, span_end in _spans(start, end, hours):
        found = await _aggregate(conn, span_start, span_end)
        await _upsert(conn, found)
        await _delete_stale(conn, span_start, span_end, found, cutoff=cutoff)
        rows += len(found.hours)
    await save_coverage(conn, coverage, rolled_until=end, started=started)
    return RollupResult(min([start, *hours]), end, rows)


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


async def changed_hours(
    conn: AsyncConnection,
    changed_since: datetime,
    *,
    tenant_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> set[datetime]:
    """The start hours of the calls changed at or after `changed_since` (by ``updated_at``)."""
    hour = hour_of(conn)
    c = _calls.c
    query = select(hour).distinct().where(c.updated_at >= changed_since)
    if tenant_id is not None:
        query = query.where(c.tenant_id == tenant_id)
    if start is not None:
        query = query.where(c.started_at >= start)
    if end is not None:
        query = query.where(c.started_at < end)
    return {as_hour(h) for h in (await conn.execute(query)).scalars()}


async def _first_hour(
    conn: AsyncConnection, end: datetime, rolled_until: datetime | None
) -> datetime:
    """The re-roll window, or the coverage mark (or the first call) when that is earlier."""
    start = end - REROLL_HOURS * HOUR
    if rolled_until is not None:
        return min(start, rolled_until)
    # the first run on this schema: every hour that still has calls
    earliest = (await conn.execute(select(func.min(_calls.c.started_at)))).scalar()
    return start if earliest is None else min(start, floor_hour(_as_aware(earliest)))


def _spans(
    start: datetime, end: datetime, hours: Iterable[datetime]
) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` and the single `hours`, as ranges of at most SPAN_HOURS, in order."""
    ranges = [(h, h + HOUR) for h in sorted(hours)]
    step = SPAN_HOURS * HOUR
    at = start
    while at < end:
        ranges.append((at, min(at + step, end)))
        at += step
    return sorted(ranges)


def hour_of(conn: AsyncConnection) -> ColumnElement[Any]:
    """The UTC hour a call started in, as the dialect computes it (see `as_hour`)."""
    # constants as literals: PostgreSQL matches GROUP BY expressions by text, and a
    # bound parameter would appear as two different $n in SELECT and GROUP BY
    if conn.dialect.name == "postgresql":
        return func.date_trunc(
            literal_column("'hour'"), func.timezone(literal_column("'UTC'"), _calls.c.started_at)
        )
    # SQLite stores UTC as naive text: the hour is a prefix of it
    return func.strftime(literal_column("'%Y-%m-%d %H:00:00'"), _calls.c.started_at)


def as_hour(value: Any) -> datetime:
    """A value of `hour_of` (or of ``usage_hourly.hour`` read raw) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):  # pragma: no cover - both drivers give one of the two
        raise TypeError(f"unexpected hour value {value!r}")
    return _as_aware(value)


def _as_aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Rolled:
    """One span's rollup rows: per model and token (`usage_hourly`), and per route too."""

    hours: list[dict[str, Any]]
    routes: list[dict[str, Any]]


async def _aggregate(conn: AsyncConnection, start: datetime, end: datetime) -> Rolled:
    """The span's calls grouped by route (one query), and those groups summed per token."""
    hour = hour_of(conn).label("hour")
    c = _calls.c
    provider = func.coalesce(c.provider_id, literal_column("''"))
    deployment = func.coalesce(c.deployment_id, literal_column("''"))
    query = (
        select(
            hour,
            c.tenant_id,
            c.model,
            c.token_id,
            provider,
            deployment,
            func.count(),
            func.coalesce(func.sum(case((c.status == "failed", 1), else_=0)), 0),
            func.coalesce(func.sum(case((c.status == REFUSED, 1), else_=0)), 0),
            func.coalesce(func.sum(c.input_tokens), 0),
            func.coalesce(func.sum(c.output_tokens), 0),
            func.coalesce(func.sum(c.cached_input_tokens), 0),
            func.coalesce(func.sum(nanos(c.cost_usd)), 0),
            func.coalesce(func.sum(c.latency_ms), 0),
            func.count(c.latency_ms),
            func.coalesce(func.sum(c.ttft_ms), 0),
            func.count(c.ttft_ms),
        )
        .where(c.started_at >= start, c.started_at < end)
        .group_by(hour, c.tenant_id, c.model, c.token_id, provider, deployment)
    )
    routes: list[dict[str, Any]] = []
    # per (tenant, hour, model, token): the integer totals, cost still in nano-USD
    per_token: dict[tuple[Any, ...], list[int]] = {}
    for h, tenant_id, model, token_id, provider_id, deployment_id, *sums in (
        await conn.execute(query)
    ).all():
        totals = [int(v) for v in sums[: len(_TOTALS) + 1]]
        key = {"tenant_id": tenant_id, "hour": as_hour(h), "model": model, "token_id": token_id}
        row: dict[str, Any] = {**key, "provider_id": provider_id, "deployment_id": deployment_id}
        row.update(zip(_TOTALS, totals[:-1], strict=True))
        row["cost_usd"] = usd(totals[-1])
        latency, latency_n, ttft, ttft_n = sums[len(_TOTALS) + 1 :]
        row.update(
            latency_ms_sum=float(latency),
            latency_count=int(latency_n),
            ttft_ms_sum=float(ttft),
            ttft_count=int(ttft_n),
        )
        routes.append(row)
        summed = per_token.setdefault(tuple(key[k] for k in _KEY), [0] * len(totals))
        for i, value in enumerate(totals):
            summed[i] += value
    hours = []
    for key_values, totals in per_token.items():
        row = dict(zip(_KEY, key_values, strict=True))
        row.update(zip(_TOTALS, totals[:-1], strict=True))
        row["cost_usd"] = usd(totals[-1])
        hours.append(row)
    return Rolled(hours, routes)


async def _upsert(conn: AsyncConnection, found: Rolled) -> None:
    await _upsert_rows(conn, found.hours, _KEY, _ROW_COLUMNS, _UPSERT)
    await _upsert_rows(conn, found.routes, _ROUTE_KEY, _ROUTE_COLUMNS, _ROUTE_UPSERT)


async def _upsert_rows(
    conn: AsyncConnection,
    rows: list[dict[str, Any]],
    key: tuple[str, ...],
    cols: bulk.Columns,
    upsert: str,
) -> None:
    # in key order, as one set-based statement per chunk (no per-row SQL compiling)
    rows = sorted(rows, key=lambda r: tuple(r[k] for k in key))
    values = [tuple(r[c.name] for c in cols) for r in rows]
    for i in range(0, len(values), CHUNK):
        await bulk.with_batch(conn, cols, values[i : i + CHUNK], upsert)


async def _delete_stale(
    conn: AsyncConnection,
    start: datetime,
    end: datetime,
    found: Rolled,
    *,
    cutoff: datetime,
) -> None:
    # a call may finish under another model or token than it started with, and a
    # re-roll must then drop the group it no longer belongs to
    # before the cut-off an hour without calls was pruned, not emptied: the
    # rollup is all that is left of it. The prune takes whole hours, so an
    # hour with calls left has all of them and is re-rolled as usual.
    rolled = {r["hour"] for r in found.hours}
    for table, key, rows in ((_hours, _KEY, found.hours), (_routes, _ROUTE_KEY, found.routes)):
        keep = {tuple(r[k] for k in key) for r in rows}
        t = table.c
        existing = await conn.execute(
            select(*(t[k] for k in key)).where(t.hour >= start, t.hour < end)
        )
        for stale in [tuple(row) for row in existing.all()]:
            hour = as_hour(stale[1])
            if stale not in keep and (hour >= cutoff or hour in rolled):
                await conn.execute(
                    delete(table).where(and_(*(t[k] == v for k, v in zip(key, stale, strict=True))))
                )
