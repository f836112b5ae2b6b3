"""The control process's /metrics: every family the README lists, on both databases.

Both APIs and the background jobs share one `ControlMetrics`, as `serve`
builds them; the internal API's /metrics is scraped after admin requests,
signed and unsigned internal calls, a telemetry batch and a pass of each
job. Admin requests are labelled by route template, never by the path sent.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from functools import partial

import httpx
import pytest

from junction_contracts.telemetry import TELEMETRY_PATH, batch
from junction_control.app import create_admin_app, create_internal_app
from junction_control.db import Database
from junction_control.metrics import ControlMetrics
from junction_control.settings import ControlSettings
from junction_control.usage.reaper import run_reaper
from junction_control.usage.upkeep import run_upkeep
from tests.support.metrics_text import assert_matches_readme, samples, value

from .conftest import RESOLVE_PATH, World, signed_post
from .test_telemetry import finished, started


@pytest.fixture
async def clients(
    settings: ControlSettings, database: Database
) -> AsyncIterator[tuple[ControlMetrics, httpx.AsyncClient, httpx.AsyncClient]]:
    metrics = ControlMetrics()
    admin = create_admin_app(settings, database=database, metrics=metrics)
    internal = create_internal_app(settings, database=database, metrics=metrics)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=admin), base_url="http://a") as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=internal), base_url="http://i") as i,
    ):
        yield metrics, a, i


async def one_pass(job: Callable[..., object], metrics: ControlMetrics, name: str) -> None:
    """Run a job's loop until it reported one pass, then stop it."""
    task = asyncio.create_task(job(report=partial(metrics.job_ran, name)))  # type: ignore[arg-type]
    try:
        for _ in range(1000):
            if value(metrics.render().decode(), "junction_control_job_runs_total", task=name):
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{name} never reported a pass")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_every_documented_control_family_is_exposed_with_its_labels(
    clients: tuple[ControlMetrics, httpx.AsyncClient, httpx.AsyncClient],
    world: World,
    settings: ControlSettings,
    database: Database,
) -> None:
    metrics, admin, internal = clients
    owner = world["owner"].headers
    tenant = world.acme.tenant_id
    assert (await admin.get(f"/api/v1/tenants/{tenant}/audit", headers=owner)).status_code == 200
    assert (await admin.get(f"/api/v1/tenants/{tenant}/audit")).status_code == 401
    stray = f"/api/v1/{secrets.token_hex(6)}"
    assert (await admin.get(stray, headers=owner)).status_code == 404
    found = await signed_post(
        internal, settings.internal_secret, RESOLVE_PATH, {"token_hash": world.acme.token_hash}
    )
    assert found.status_code == 200
    unsigned = await internal.post(RESOLVE_PATH, json={"token_hash": world.acme.token_hash})
    assert unsigned.status_code == 401
    # the engine was 40 s behind: the batch's oldest event is that old when it lands
    late = time.time() - 40
    events = [
        started(world.acme, "call-m1", at=late),
        finished(world.acme, "call-m1", started_at=late),
    ]
    stored = await signed_post(internal, settings.internal_secret, TELEMETRY_PATH, batch(events))
    assert stored.status_code == 202
    await one_pass(partial(run_reaper, database, timedelta(minutes=30)), metrics, "reaper")
    await one_pass(partial(run_upkeep, database, timedelta(days=30)), metrics, "rollup")
    text = (await internal.get("/metrics")).text

    assert_matches_readme(text, "junction_control_")
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "python_info"):
        assert name in samples(text), name
    requests = "junction_control_admin_requests_total"
    audit = {"route": "/tenants/{tenant_id}/audit", "method": "GET"}
    assert value(text, requests, **audit, status="200") == 1
    assert value(text, requests, **audit, status="401") == 1
    assert value(text, requests, route="unmatched", status="404") == 1
    assert value(text, "junction_control_admin_request_seconds_count", **audit) == 2
    assert value(text, "junction_control_route_resolves_total", outcome="found") == 1
    assert value(text, "junction_control_internal_rejected_total") == 1
    assert value(text, "junction_control_telemetry_events_total", outcome="accepted") == 2
    assert 40 <= value(text, "junction_control_ingest_last_lag_seconds") < 100
    assert value(text, "junction_control_ingest_lag_seconds_bucket", le="60.0") == 1
    assert value(text, "junction_control_ingest_lag_seconds_bucket", le="15.0") == 0
    for job in ("reaper", "rollup"):
        assert value(text, "junction_control_job_runs_total", task=job, result="ok") >= 1
        ran = value(text, "junction_control_job_last_run_timestamp_seconds", task=job, result="ok")
        assert time.time() - 60 < ran <= time.time()
    if database.dialect == "postgresql":
        # the pool is PostgreSQL's: its size is the configured one, and checkouts were timed
        assert value(text, "junction_control_db_pool_size") == 10
        assert value(text, "junction_control_db_pool_wait_seconds_count") > 0
        assert value(text, "junction_control_db_pool_in_use") == 0  # nothing held between calls
        assert value(text, "junction_control_db_pool_idle") >= 1
    # labels carry route templates, never what a caller sent
    for sent in (
        tenant,
        stray,
        world.acme.token_id,
        world.acme.raw_token,
        world["owner"].session_token,
    ):
        assert sent not in text


async def test_a_job_pass_skipped_for_an_outage_is_counted_as_such() -> None:
    metrics = ControlMetrics()
    gone = Database("postgresql+asyncpg://junction@127.0.0.1:1/none")
    try:
        await one_pass(partial(run_reaper, gone, timedelta(minutes=30)), metrics, "reaper")
    finally:
        await gone.dispose()
    text = metrics.render().decode()
    runs = "junction_control_job_runs_total"
    assert value(text, runs, task="reaper", result="database_unavailable") == 1
    assert value(text, runs, task="reaper", result="ok") == 0
