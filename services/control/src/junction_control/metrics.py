"""The control process's Prometheus metrics: one registry shared by both APIs and the jobs.

The internal API serves it at ``/metrics`` (the admin API is public through
Caddy and serves none). Beside the internal API's own families
(`internal.metrics`) it counts admin API requests by route template,
reads the database pool when scraped, and records the background jobs'
runs. Labels are route templates (``/tenants/{tenant_id}/calls``), never
the path a caller sent, so their number is bounded by the code.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import (
    GC_COLLECTOR,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.pool import QueuePool
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from junction_control.db import Database
from junction_control.internal.metrics import InternalMetrics

ADMIN_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
POOL_WAIT_BUCKETS = (0.001, 0.005, 0.025, 0.1, 0.5, 2, 10)
#: the route label of a request that matched no route (a 404 or 405 of the router)
UNMATCHED = "unmatched"
#: the background jobs whose runs are counted, and how a run ends
JOBS = ("reaper", "rollup")
#: (``elsewhere``: another control replica holds the job's lock and made the pass)
JOB_RESULTS = ("ok", "database_unavailable", "elsewhere")
#: methods counted by name; any other (a client may send anything) is counted as ``other``
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class ControlMetrics(InternalMetrics):
    """Every family of the control process (the internal API's, and the rest)."""

    def __init__(self) -> None:
        super().__init__()
        self.admin_requests = Counter(
            "junction_control_admin_requests",
            "Admin API requests by route template, method and HTTP status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.admin_latency = Histogram(
            "junction_control_admin_request_seconds",
            "Admin API latency by route template and method",
            ["route", "method"],
            buckets=ADMIN_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.pool_wait = Histogram(
            "junction_control_db_pool_wait_seconds",
            "Seconds a database connection checkout took (waiting on a full pool included)",
            buckets=POOL_WAIT_BUCKETS,
            registry=self.registry,
        )
        self.job_runs = Counter(
            "junction_control_job_runs",
            "Background job passes by task (reaper: stuck calls; rollup: hourly usage, "
            "then the retention prune) and result",
            # not `job`: Prometheus sets that label on every series it scrapes
            ["task", "result"],
            registry=self.registry,
        )
        self.job_last_run = Gauge(
            "junction_control_job_last_run_timestamp_seconds",
            "Unix time a background job last finished a pass, by task and result",
            ["task", "result"],
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        if GC_COLLECTOR is not None:
            GCCollector(registry=self.registry)
        self._watched: Database | None = None

    def watch_database(self, database: Database) -> None:
        """Expose `database`'s pool (read when scraped) and time its checkouts."""
        if self._watched is not None:
            return  # one process, one database: the first app to ask wins
        self._watched = database
        database.watch_pool_waits(self.pool_wait.observe)
        self.registry.register(_PoolStats(database))

    def job_ran(self, task: str, result: str) -> None:
        """A background job (`JOBS`) finished one pass."""
        self.job_runs.labels(task, result).inc()
        self.job_last_run.labels(task, result).set(time.time())


class _PoolStats(Collector):
    """The database pool as it stands: its size, connections in use, idle and beyond it."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def collect(self) -> Iterator[Metric]:
        # read each time: a disposed engine gets a new pool
        pool = self._database.engine.sync_engine.pool
        if isinstance(pool, QueuePool):
            size, in_use, idle = pool.size(), pool.checkedout(), pool.checkedin()
            overflow = max(pool.overflow(), 0)
        else:  # SQLite in memory, or another pool: no fixed size to report
            size, in_use, idle, overflow = 0, 0, 0, 0
        for name, doc, value in (
            ("junction_control_db_pool_size", "Connections the pool keeps open", size),
            ("junction_control_db_pool_in_use", "Connections checked out now", in_use),
            ("junction_control_db_pool_idle", "Connections open and idle in the pool", idle),
            (
                "junction_control_db_pool_overflow",
                "Connections open beyond the pool's size (a burst)",
                overflow,
            ),
        ):
            yield GaugeMetricFamily(name, doc, value=value)


class AdminRequestMetrics:
    """Plain ASGI middleware: each admin API request, by route template, method and status.

    The router leaves the route it matched in the scope; a request that
    matched none (or only the ``/api/v1`` mount) is counted as ``unmatched``.
    """

    def __init__(self, app: ASGIApp, metrics: ControlMetrics) -> None:
        self.app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = route.path if isinstance(route, Route) else UNMATCHED
            method = scope["method"] if scope["method"] in METHODS else "other"
            self._metrics.admin_requests.labels(template, method, str(status)).inc()
            self._metrics.admin_latency.labels(template, method).observe(
                time.perf_counter() - started
            )
