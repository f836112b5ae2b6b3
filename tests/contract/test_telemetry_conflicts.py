"""The engine's telemetry sink against the real control plane: a conflict is delivered, not retried.

The control plane refuses an event that contradicts its call's record, and
says so in its answer; sending the batch again could not change that, so the
sink counts it as sent and moves on.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from junction_contracts.telemetry import CallEvent
from junction_control.app import create_internal_app
from junction_control.db import Database
from junction_control.settings import ControlSettings
from junction_control.tenants import service as tenants
from junction_control.tokens import service as tokens
from junction_control.usage.models import ModelCall
from junction_engine.control_client import ControlClient
from junction_engine.telemetry_sink import TelemetrySink


@dataclass
class Control:
    client: ControlClient
    http: httpx.AsyncClient
    database: Database
    tenant_id: str
    token_id: str


@pytest.fixture
async def control(database_url: str, tmp_path: Path) -> AsyncIterator[Control]:
    env = {"JUNCTION_DATABASE_URL": database_url, "JUNCTION_VAR_DIR": str(tmp_path / "var")}
    settings = ControlSettings.from_env(environ=env, env_file=None)
    database = Database(settings.database_url)
    await database.migrate()
    async with database.session() as session:
        tenant = await tenants.create_tenant(session, "acme")
        token = await tokens.create_token(session, tenant, "app")
        await session.commit()
    internal = create_internal_app(settings, database=database)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=internal)) as http:
            client = ControlClient(http, "http://control", settings.internal_secret)
            yield Control(client, http, database, tenant.id, token.token.id)
    finally:
        await database.dispose()


async def test_a_conflicting_resend_is_delivered_once_and_not_retried(control: Control) -> None:
    now = time.time()
    done = CallEvent(
        id="c1-finished",
        kind="finished",
        call_id="c1",
        at=now,
        tenant_id=control.tenant_id,
        token_id=control.token_id,
        model="chat",
        started_at=now - 1,
        status="success",
        http_status=200,
        output_tokens=20,
        cost_usd=0.25,
    )
    sink = TelemetrySink(control.client.post_events, spool_dir=None)

    sink.emit(done)
    await sink.flush()
    sink.emit(replace(done, cost_usd=0.0, output_tokens=0))
    await sink.flush()

    assert (sink.sent, sink.dropped, sink.pending) == (2, 0, 0)
    async with control.database.session() as session:
        call = await session.get(ModelCall, "c1")
    assert call is not None
    assert (call.cost_usd, call.output_tokens) == (0.25, 20)
    metrics = (await control.http.get("http://control/metrics")).text
    assert 'junction_control_telemetry_events_total{kind="finished",outcome="conflict"} 1.0' in (
        metrics
    )
