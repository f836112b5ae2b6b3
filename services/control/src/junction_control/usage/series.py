"""Usage series: a range's figures per time bucket and group (model, token, provider, deployment).

The range is cut into spans as for the totals (`usage.sources`): whole hours
the rollups match are read from `usage_hourly_routes` (a row per hour and
route, so 90 days read O(hours x routes) rows, never the calls), the rest
from model_calls grouped the same way. Both sides are grouped in SQL by
hour, or by UTC day when the buckets are UTC days; hour groups are then
folded into the buckets here.

Buckets are UTC hours, or days from midnight to midnight in a time zone
(IANA name; a zone whose offset is not whole hours starts its day at the UTC
hour holding local midnight, since the rollups are by UTC hour). Cost is
added in nano-USD on both sides, as in the totals, so a series sums to the
totals' figure exactly. Latency and time to first token are means (sum over
count of the calls that reported one): percentiles of hours do not combine
into percentiles of a day, and a mean does, on every database alike.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, Table, and_, case, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from junction_control.models.models import AiModel, Deployment
from junction_control.providers.models import Provider
from junction_control.tokens.models import UserToken
from junction_control.usage.models import REFUSED, ModelCall, UsageRouteHour
from junction_control.usage.rollup import HOUR, as_hour, floor_hour, nanos
from junction_control.usage.sources import Span

Bucket = Literal["hour", "day"]
Dimension = Literal["model", "token", "provider", "deployment"]
BUCKETS: tuple[Bucket, ...] = ("hour", "day")
DIMENSIONS: tuple[Dimension, ...] = ("model", "token", "provider", "deployment")
#: at most this many buckets per series: 100 days by the hour, 6 years by the day
MAX_BUCKETS = 2400
DAY = timedelta(days=1)

_calls: Table = ModelCall.__table__  # type: ignore[attr-defined]
_routes: Table = UsageRouteHour.__table__  # type: ignore[attr-defined]


@dataclass(slots=True)
class Figures:
    """What the calls of one bucket and group add up to (cost in nano-USD)."""

    requests: int = 0
    failed: int = 0
    refused: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cost_nanos: int = 0
    latency_ms_sum: float = 0.0
    latency_count: int = 0
    ttft_ms_sum: float = 0.0
    ttft_count: int = 0

    def add(self, values: Sequence[Any]) -> None:
        """Add one grouped row's sums, in field order."""
        self.requests += int(values[0])
        self.failed += int(values[1])
        self.refused += int(values[2])
        self.input_tokens += int(values[3])
        self.output_tokens += int(values[4])
        self.cached_input_tokens += int(values[5])
        self.cost_nanos += int(values[6])
        self.latency_ms_sum += float(values[7])
        self.latency_count += int(values[8])
        self.ttft_ms_sum += float(values[9])
        self.ttft_count += int(values[10])

    def merge(self, other: Figures) -> None:
        """Add another group's figures to these."""
        self.add(
            (
                other.requests,
                other.failed,
                other.refused,
                other.input_tokens,
                other.output_tokens,
                other.cached_input_tokens,
                other.cost_nanos,
                other.latency_ms_sum,
                other.latency_count,
                other.ttft_ms_sum,
                other.ttft_count,
            )
        )

    @property
    def error_rate(self) -> float | None:
        """Failed calls over all calls (refusals are not provider errors); None without calls."""
        return self.failed / self.requests if self.requests else None

    @property
    def latency_ms_mean(self) -> float | None:
        return self.latency_ms_sum / self.latency_count if self.latency_count else None

    @property
    def ttft_ms_mean(self) -> float | None:
        return self.ttft_ms_sum / self.ttft_count if self.ttft_count else None


@dataclass(slots=True)
class Group:
    """One group's figures per bucket index, and over the whole range."""

    key: str
    name: str | None = None
    points: dict[int, Figures] = field(default_factory=dict)
    total: Figures = field(default_factory=Figures)


@dataclass(frozen=True, slots=True)
class Series:
    """The bucket starts of a range and its groups, busiest (most requests) first."""

    starts: list[datetime]
    groups: list[Group]


def bucket_count(since: datetime, until: datetime, bucket: Bucket) -> int:
    """How many buckets ``[since, until)`` spans, without building them (at most one over)."""
    span = until - floor_hour(since)
    size = HOUR if bucket == "hour" else DAY
    return math.ceil(span / size) + (0 if bucket == "hour" else 1)


def bucket_starts(since: datetime, until: datetime, bucket: Bucket, tz: tzinfo) -> list[datetime]:
    """Every bucket start of ``[since, until)``, in UTC: the first holds `since`."""
    if bucket == "hour":
        at, starts = floor_hour(since), []
        while at < until:
            starts.append(at)
            at += HOUR
        return starts
    day = since.astimezone(tz).date()
    starts = []
    while True:
        # local midnight, by the zone's rules that day (DST), floored to its UTC hour
        start = floor_hour(datetime.combine(day, time(), tzinfo=tz))
        if start >= until:
            return starts
        starts.append(start)
        day += DAY


async def usage_series(
    conn: AsyncConnection,
    tenant_id: str,
    spans: Sequence[Span],
    *,
    since: datetime,
    until: datetime,
    bucket: Bucket,
    by: Dimension,
    tz: tzinfo,
) -> Series:
    """The tenant's figures over `spans` (the plan of ``[since, until)``) per bucket and `by`."""
    starts = bucket_starts(since, until, bucket, tz)
    by_utc_day = bucket == "day" and _is_utc(tz)
    groups: dict[str, Group] = {}
    for query in _queries(conn, tenant_id, spans, by, by_utc_day):
        for at, key, *values in (await conn.execute(query)).all():
            index = bisect_right(starts, as_hour(at)) - 1
            group = groups.setdefault(key, Group(key))
            group.points.setdefault(max(index, 0), Figures()).add(values)
    for group in groups.values():
        for figures in group.points.values():
            group.total.merge(figures)
    names = await _names(conn, tenant_id, by, list(groups))
    for group in groups.values():
        group.name = names.get(group.key)
    ordered = sorted(groups.values(), key=lambda g: (-g.total.requests, g.key))
    return Series(starts, ordered)


def _is_utc(tz: tzinfo) -> bool:
    return tz is UTC or getattr(tz, "key", None) in ("UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu")


def _queries(
    conn: AsyncConnection, tenant_id: str, spans: Sequence[Span], by: Dimension, utc_day: bool
) -> list[Select[Any]]:
    unit = "day" if utc_day else "hour"
    queries: list[Select[Any]] = []
    rolled = [s for s in spans if s.rolled]
    raw = [s for s in spans if not s.rolled]
    if rolled:
        h = _routes.c
        at = _truncate(conn, h.hour, unit)
        key: ColumnElement[Any] = h[_ROLLED_KEYS[by]]
        sums: list[ColumnElement[Any]] = [
            func.coalesce(func.sum(column), 0)
            for column in (
                h.calls,
                h.failed_calls,
                h.refused_calls,
                h.input_tokens,
                h.output_tokens,
                h.cached_input_tokens,
                nanos(h.cost_usd),
                h.latency_ms_sum,
                h.latency_count,
                h.ttft_ms_sum,
                h.ttft_count,
            )
        ]
        queries.append(
            select(at, key, *sums)
            .where(h.tenant_id == tenant_id, _within(h.hour, rolled))
            .group_by(at, key)
        )
    if raw:
        c = _calls.c
        at = _truncate(conn, c.started_at, unit)
        key = func.coalesce(c[_ROLLED_KEYS[by]], literal_column("''"))
        sums = [
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
        ]
        queries.append(
            select(at, key, *sums)
            .where(c.tenant_id == tenant_id, _within(c.started_at, raw))
            .group_by(at, key)
        )
    return queries


_ROLLED_KEYS: dict[Dimension, str] = {
    "model": "model",
    "token": "token_id",
    "provider": "provider_id",
    "deployment": "deployment_id",
}
_SQLITE_FORMATS = {"hour": "'%Y-%m-%d %H:00:00'", "day": "'%Y-%m-%d 00:00:00'"}


def _truncate(conn: AsyncConnection, column: Any, unit: str) -> ColumnElement[Any]:
    """`column` truncated to its UTC hour or day (literals: see `rollup.hour_of`)."""
    if conn.dialect.name == "postgresql":
        return func.date_trunc(
            literal_column(f"'{unit}'"), func.timezone(literal_column("'UTC'"), column)
        )
    return func.strftime(literal_column(_SQLITE_FORMATS[unit]), column)


def _within(column: Any, spans: Sequence[Span]) -> ColumnElement[bool]:
    return or_(*(and_(column >= s.start, column < s.end) for s in spans))


async def _names(
    conn: AsyncConnection, tenant_id: str, by: Dimension, keys: list[str]
) -> dict[str, str]:
    """What a group is called, where the id still names something (a model is its name)."""
    ids = [k for k in keys if k]
    if by == "model":
        return {k: k for k in keys}
    if not ids:
        return {}
    if by == "token":
        t = UserToken.__table__.c  # type: ignore[attr-defined]
        query = select(t.id, t.name).where(t.tenant_id == tenant_id, t.id.in_(ids))
        return {i: n for i, n in (await conn.execute(query)).all()}
    p = Provider.__table__.c  # type: ignore[attr-defined]
    if by == "provider":
        query = select(p.id, p.name).where(p.tenant_id == tenant_id, p.id.in_(ids))
        return {i: n for i, n in (await conn.execute(query)).all()}
    d = Deployment.__table__.c  # type: ignore[attr-defined]
    m = AiModel.__table__.c  # type: ignore[attr-defined]
    query = (
        select(d.id, m.name, p.name, d.upstream_model)
        .join_from(Deployment.__table__, AiModel.__table__, m.id == d.model_id)  # type: ignore[attr-defined]
        .join(Provider.__table__, p.id == d.provider_id)  # type: ignore[attr-defined]
        .where(m.tenant_id == tenant_id, d.id.in_(ids))
    )
    return {
        i: f"{model}: {provider} → {upstream}"
        for i, model, provider, upstream in (await conn.execute(query)).all()
    }
