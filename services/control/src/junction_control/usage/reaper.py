"""The stuck-call reaper: a loop in the control process that closes abandoned calls.

A call stays `processing` when its engine died before sending `finished`, or
its events were lost. Every control process runs the loop; on PostgreSQL
one replica at a time makes the passes (`job_locks`), and the UPDATE is
idempotent anyway, so several processes on one database do no harm.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from junction_control.db import Database
from junction_control.errors import DatabaseUnavailable
from junction_control.job_locks import JobLock, run_pass
from junction_control.usage.service import reap_stuck_calls

log = logging.getLogger(__name__)

REAP_INTERVAL_SECONDS = 60.0


async def reap_once(database: Database, older_than: timedelta) -> int:
    """One pass in its own transaction; the number of calls marked failed."""
    async with database.session() as session:
        count = await reap_stuck_calls(session, older_than=older_than)
        await session.commit()
    if count:
        log.warning(
            "marked %d call(s) still processing after %s as failed (stuck)", count, older_than
        )
    return count


async def run_reaper(
    database: Database,
    older_than: timedelta,
    *,
    interval: float = REAP_INTERVAL_SECONDS,
    report: Callable[[str], None] = lambda _result: None,
    lock: JobLock | None = None,
) -> None:
    """Reap at start, then every `interval` seconds, until cancelled.

    A database outage skips a pass (logged) instead of ending the loop.
    `report` hears how each pass ended: ``ok``, ``database_unavailable``, or
    ``elsewhere`` when another replica holds the job's `lock`.
    """
    while True:
        try:
            ran = await run_pass(lock, lambda: reap_once(database, older_than))
        except DatabaseUnavailable as exc:
            log.warning("stuck-call reaper skipped a pass: %s", exc)
            report("database_unavailable")
        else:
            report("ok" if ran else "elsewhere")
        await asyncio.sleep(interval)
