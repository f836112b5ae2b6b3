"""Where each part of a usage range is read from: the hourly rollups, or the raw calls.

A range ``[since, until)`` is cut into spans, in time order, that cover it
exactly once:

- whole hours the rollups are known to match (`usage.coverage`: rolled, and
  none of their calls changed since) come from `usage_hourly`, so a range of
  months reads O(hours) rows, not O(calls);
- the partial hours at either edge, the hours not rolled yet (from the
  coverage mark to `until`) and the rolled hours with a call changed since
  come from model_calls (the tenant's start-time index serves those reads);
- rolled hours before the retention cut-off come from the rollups even when
  a call of theirs changed: their calls were pruned, or are about to be, the
  rollup job leaves their rows alone, and the rollup is the record. A
  partial edge hour there counts only the calls still kept (none, once
  pruned).

Before the first rollup of the schema, every part is read from the calls.
So the totals are those of the raw calls wherever raw calls are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from junction_control.usage.coverage import read_coverage
from junction_control.usage.rollup import HOUR, changed_hours, floor_hour, retention_cutoff


@dataclass(frozen=True, slots=True)
class Span:
    """``[start, end)`` of a range, read from the rollups (`rolled`) or from the calls."""

    start: datetime
    end: datetime
    rolled: bool


async def plan_range(
    conn: AsyncConnection,
    tenant_id: str,
    since: datetime,
    until: datetime,
    *,
    now: datetime,
    retention: timedelta,
) -> list[Span]:
    """The spans of ``[since, until)`` for `tenant_id`, in order (see the module doc)."""
    try:
        first = floor_hour(since) if since == floor_hour(since) else floor_hour(since) + HOUR
    except OverflowError:
        # since is in the calendar's last hour: nothing whole to roll
        return [Span(since, until, rolled=False)]
    last = floor_hour(until)
    if first >= last:
        return [Span(since, until, rolled=False)]
    coverage = await read_coverage(conn)
    if coverage is None:
        return [Span(since, until, rolled=False)]
    rolled_end = min(max(coverage.rolled_until, first), last)
    changed: set[datetime] = set()
    checked_from = max(first, retention_cutoff(now, retention))
    if checked_from < rolled_end:
        changed = await changed_hours(
            conn,
            coverage.changes_before,
            tenant_id=tenant_id,
            start=checked_from,
            end=rolled_end,
        )
    spans = [Span(since, first, rolled=False)]
    at = first
    for hour in sorted(changed):
        spans += [Span(at, hour, rolled=True), Span(hour, hour + HOUR, rolled=False)]
        at = hour + HOUR
    spans += [Span(at, rolled_end, rolled=True), Span(rolled_end, until, rolled=False)]
    return _merged(spans)


def _merged(spans: list[Span]) -> list[Span]:
    """`spans` without empty ones, neighbours of the same source joined."""
    out: list[Span] = []
    for span in spans:
        if span.start >= span.end:
            continue
        if out and out[-1].rolled == span.rolled and out[-1].end == span.start:
            out[-1] = Span(out[-1].start, span.end, span.rolled)
        else:
            out.append(span)
    return out
