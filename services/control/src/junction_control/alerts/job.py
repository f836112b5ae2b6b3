"""The budget job and the delivery loop, run by every control process.

The budget job rolls period budgets over (`budgets.spend.refresh_states`,
one transaction), then makes an event of each new threshold crossing
(`alerts.thresholds`, another). The delivery loop makes the attempts that
are due (`alerts.delivery`). On PostgreSQL one replica at a time runs each
(`job_locks`); both are safe to run in several processes on one database
anyway: state rows never move back, crossings are unique, and each attempt
is claimed by one process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from junction_control.alerts.delivery import BATCH, Deliverer
from junction_control.alerts.settings import AlertSettings
from junction_control.alerts.thresholds import find_crossings, record_crossings
from junction_control.budgets.spend import refresh_states
from junction_control.db import Database
from junction_control.errors import DatabaseUnavailable
from junction_control.job_locks import JobLock, run_pass

log = logging.getLogger(__name__)

DELIVERY_POLL_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class BudgetPass:
    """What one pass of the budget job did."""

    states: int  # period state rows written
    events: list[str]  # threshold events made


async def check_budgets_once(
    database: Database, settings: AlertSettings, *, now: float | None = None
) -> BudgetPass:
    """Roll budgets' periods over, then record new threshold crossings."""
    at = time.time() if now is None else now
    async with database.session() as session:
        states = await refresh_states(
            await session.connection(), now=at, settle=settings.settle_seconds
        )
        await session.commit()
    async with database.session() as session:
        conn = await session.connection()
        crossings = await find_crossings(conn, at)
        events = await record_crossings(conn, crossings, datetime.fromtimestamp(at, UTC))
        await session.commit()
    if events:
        log.info("%d budget threshold alert(s) to deliver", len(events))
    return BudgetPass(states, events)


async def run_budget_job(
    database: Database, settings: AlertSettings, *, lock: JobLock | None = None
) -> None:
    """Check budgets at start, then every `check_seconds`, until cancelled.

    A database outage skips a pass (logged) instead of ending the loop; so
    does a `lock` another replica holds.
    """
    while True:
        try:
            await run_pass(lock, lambda: check_budgets_once(database, settings))
        except DatabaseUnavailable as exc:
            log.warning("budget job skipped a pass: %s", exc)
        await asyncio.sleep(settings.check_seconds)


async def run_deliveries(
    deliverer: Deliverer,
    *,
    interval: float = DELIVERY_POLL_SECONDS,
    lock: JobLock | None = None,
) -> None:
    """Make due delivery attempts every `interval` seconds, until cancelled.

    A pass is skipped while another replica holds `lock`.
    """

    async def deliver() -> None:
        while await deliverer.deliver_due() >= BATCH:
            pass  # a full batch: more may be due

    while True:
        try:
            await run_pass(lock, deliver)
        except DatabaseUnavailable as exc:
            log.warning("alert deliveries skipped a pass: %s", exc)
        await asyncio.sleep(interval)
