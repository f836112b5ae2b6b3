"""The usage upkeep loop: roll usage up per hour, then prune calls past retention.

Every control process runs it, like the stuck-call reaper; on PostgreSQL
one replica at a time makes the passes (`job_locks`), and both steps are
idempotent anyway (upserts and a DELETE by age), so several processes on
one database do no harm.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from junction_control.columns import utcnow
from junction_control.db import Database
from junction_control.errors import DatabaseUnavailable
from junction_control.job_locks import JobLock, run_pass
from junction_control.usage.rollup import RollupResult, prune_calls, rollup_hours

log = logging.getLogger(__name__)

UPKEEP_INTERVAL_SECONDS = 300.0


async def upkeep_once(
    database: Database, retention: timedelta, *, now: datetime | None = None
) -> tuple[RollupResult, int]:
    """Roll up (one transaction), then prune (another); the rollup and the calls pruned.

    The prune only runs once the rollup committed, so calls are never deleted
    before their hour is rolled.
    """
    now = now or utcnow()
    async with database.session() as session:
        rolled = await rollup_hours(session, until=now, retention=retention)
        await session.commit()
    async with database.session() as session:
        pruned = await prune_calls(session, retention=retention, now=now)
        await session.commit()
    if pruned:
        log.info("pruned %d call(s) older than %s (their rollups stay)", pruned, retention)
    return rolled, pruned


async def run_upkeep(
    database: Database,
    retention: timedelta,
    *,
    interval: float = UPKEEP_INTERVAL_SECONDS,
    report: Callable[[str], None] = lambda _result: None,
    lock: JobLock | None = None,
) -> None:
    """Run upkeep at start, then every `interval` seconds, until cancelled.

    A database outage skips a pass (logged) instead of ending the loop.
    `report` hears how each pass ended: ``ok``, ``database_unavailable``, or
    ``elsewhere`` when another replica holds the job's `lock`.
    """
    while True:
        try:
            ran = await run_pass(lock, lambda: upkeep_once(database, retention))
        except DatabaseUnavailable as exc:
            log.warning("usage upkeep skipped a pass: %s", exc)
            report("database_unavailable")
        else:
            report("ok" if ran else "elsewhere")
        await asyncio.sleep(interval)
