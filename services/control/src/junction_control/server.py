"""Serving both APIs from one process: two uvicorn servers on one event loop.

Migrations run first (unless JUNCTION_MIGRATE_ON_START is off: then the
schema must already be current); both apps share one `Database`, and so does the
stuck-call reaper, the usage upkeep (hourly rollups, retention prune), the
budget job (budget periods, threshold alerts) and the alert deliveries,
which run beside them (on PostgreSQL in one replica at a time, see
`job_locks`). SIGINT/SIGTERM stop
both servers gracefully (uvicorn's own per-server signal capture is turned
off so neither server steals the signal from the other).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Generator
from datetime import timedelta
from functools import partial

import uvicorn
from sqlalchemy.exc import InterfaceError, OperationalError

from junction_control import migrations
from junction_control.alerts.delivery import Deliverer
from junction_control.alerts.job import run_budget_job, run_deliveries
from junction_control.app import create_admin_app, create_internal_app
from junction_control.db import Database
from junction_control.errors import ConfigError, DatabaseUnavailable
from junction_control.job_locks import JobLocks
from junction_control.metrics import ControlMetrics
from junction_control.providers.headers import seal_plain_headers_at_start
from junction_control.settings import ControlSettings
from junction_control.usage.reaper import run_reaper
from junction_control.usage.upkeep import run_upkeep

log = logging.getLogger("junction_control")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # signals are handled once for both servers in `serve`
        yield


async def serve(settings: ControlSettings) -> None:
    """Run the admin and internal APIs until SIGINT or SIGTERM."""
    database = Database(settings.database_url)
    try:
        await _migrate_or_check(database, settings.migrate_on_start)
        # a migration has no master key: header values from before 0012 are sealed here
        await seal_plain_headers_at_start(database, settings.keyring)
        # one registry for the process: the internal API serves it
        metrics = ControlMetrics()
        apps = (
            (create_admin_app(settings, database=database, metrics=metrics), settings.admin_port),
            (
                create_internal_app(settings, database=database, metrics=metrics),
                settings.internal_port,
            ),
        )
        servers = [
            _Server(
                uvicorn.Config(
                    app,
                    host=settings.host,
                    port=port,
                    log_level=settings.log_level,
                    # uvicorn's lines go through the root logger, in JUNCTION_LOG_FORMAT
                    log_config=None,
                    lifespan="on",
                    server_header=False,
                )
            )
            for app, port in apps
        ]
        loop = asyncio.get_running_loop()

        def stop() -> None:
            for server in servers:
                server.should_exit = True

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        log.info(
            "control plane: admin API on %s:%d, internal API on %s:%d",
            settings.host,
            settings.admin_port,
            settings.host,
            settings.internal_port,
        )
        # on PostgreSQL one replica at a time runs each job (`job_locks`)
        locks = JobLocks(database)
        reaper = asyncio.create_task(
            run_reaper(
                database,
                timedelta(minutes=settings.stuck_call_minutes),
                report=partial(metrics.job_ran, "reaper"),
                lock=locks.lock("reaper"),
            ),
            name="stuck-call-reaper",
        )
        upkeep = asyncio.create_task(
            run_upkeep(
                database,
                timedelta(days=settings.call_retention_days),
                report=partial(metrics.job_ran, "rollup"),
                lock=locks.lock("rollup"),
            ),
            name="usage-upkeep",
        )
        deliverer = Deliverer(database, settings.keyring, settings.egress, settings.alerts)
        budgets = asyncio.create_task(
            run_budget_job(database, settings.alerts, lock=locks.lock("budgets")),
            name="budget-job",
        )
        deliveries = asyncio.create_task(
            run_deliveries(deliverer, lock=locks.lock("deliveries")), name="alert-deliveries"
        )
        jobs = (reaper, upkeep, budgets, deliveries)
        for job in jobs:
            job.add_done_callback(_report_crash)
        try:
            await asyncio.gather(*(server.serve() for server in servers))
        finally:
            for job in jobs:
                job.cancel()
            await asyncio.wait(jobs)  # a crash was logged already; never raised here
            await locks.close()  # another replica takes the jobs over at once
            await deliverer.aclose()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    finally:
        await database.dispose()


async def _migrate_or_check(database: Database, migrate: bool) -> None:
    """Apply pending migrations, or (JUNCTION_MIGRATE_ON_START off) refuse a stale schema.

    With several replicas and a rolling update, migrating in every `serve`
    runs two migrations at once; the shipped manifests run `migrate` once,
    as its own step, and each server only checks it found the schema it
    was built for (a missed step is a clear error, not a crash later).
    """
    if migrate:
        await database.migrate()
        return
    try:
        current = await migrations.current_revision(database.engine)
    except (OperationalError, InterfaceError, OSError) as exc:
        raise DatabaseUnavailable("the database cannot be reached") from exc
    head = migrations.head_revision()
    if current != head:
        raise ConfigError(
            f"the database schema is at revision {current or 'none'}, this release needs {head}:"
            " run `junction-control migrate` first (or set JUNCTION_MIGRATE_ON_START=true)"
        )


def _report_crash(task: asyncio.Task[None]) -> None:
    # the APIs keep serving without the job, but nobody should miss that it stopped
    if not task.cancelled() and task.exception() is not None:
        log.error("background job %s stopped", task.get_name(), exc_info=task.exception())
