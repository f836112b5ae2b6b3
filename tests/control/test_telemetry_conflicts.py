"""An event sent again: a duplicate when it says the same, a conflict when it does not.

The call's row is the record of what its first event of each kind said; a
resend is compared with it column by column, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import httpx
import pytest

from junction_contracts.telemetry import TELEMETRY_PATH, batch
from junction_control.db import Database
from junction_control.settings import ControlSettings
from junction_control.tenants import service as tenants

from .conftest import Demo, signed_post
from .test_credits import balance, ledger
from .test_telemetry import counted, finished, row, send, started
from .test_telemetry_batches import spent

CONFLICTS = 'junction_control_telemetry_events_total{kind="finished",outcome="conflict"}'

# one change to each column a finished event writes, and the row must not take any of them
CHANGES: dict[str, Any] = {
    "token_id": "another-token",
    "model": "embed",
    "operation": "embeddings",
    "client_protocol": "anthropic",
    "stream": False,
    "status": "failed",
    "http_status": 502,
    "error_code": "upstream_error",
    "deployment_id": "dep-2",
    "provider_id": "another-provider",
    "credential_id": "another-credential",
    "attempts": 2,
    "input_tokens": 101,
    "output_tokens": 21,
    "cached_input_tokens": 41,
    "cache_write_input_tokens": 1,
    "reasoning_tokens": 6,
    "images": 1,
    "cost_usd": 0.5,
    "latency_ms": 851.0,
    "ttft_ms": None,
    "image_size": "1024x1024",
    "trace_id": "trace-other",
}


async def test_a_resent_finish_is_a_duplicate_and_a_changed_one_a_conflict(
    internal_client: httpx.AsyncClient,
    settings: ControlSettings,
    database: Database,
    demo: Demo,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = finished(demo, "c1", cost_usd=0.25)
    cheaper = replace(first, cost_usd=0.0, output_tokens=0)  # the same id, other content

    stored = await send(internal_client, settings, [first])
    again = await send(internal_client, settings, [first])
    with caplog.at_level(logging.WARNING, logger="junction_control.usage.ingest"):
        changed = await send(internal_client, settings, [cheaper, first])

    assert stored.json() == counted(1, 0)
    assert again.json() == counted(0, 1)
    assert changed.status_code == 202  # delivered: sending it again cannot help
    assert changed.json() == counted(0, 1, rejected=1, conflicts=[first.id])
    call = await row(database, "c1")
    assert call is not None
    assert (call.cost_usd, call.output_tokens) == (0.25, 20)
    assert [e.model_call_id for e in await ledger(database, demo.tenant_id)] == ["c1"]
    assert await balance(database, demo.tenant_id) == pytest.approx(-0.25)
    assert await spent(database, demo.token_id) == pytest.approx(0.25)
    metrics = (await internal_client.get("/metrics")).text
    assert f"{CONFLICTS} 1.0" in metrics
    (warning,) = [r for r in caplog.records if "conflict" in r.getMessage()]
    assert warning.levelno == logging.WARNING
    assert first.id in warning.getMessage()
    # the id only: nothing of what the event says
    assert "trace-c1" not in warning.getMessage()
    assert demo.token_id not in warning.getMessage()


async def test_every_column_a_finish_writes_is_compared(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    async with database.session() as session:
        other_tenant = await tenants.create_tenant(session, "globex")
        await session.commit()
    first = finished(demo, "c1")
    changes = {**CHANGES, "tenant_id": other_tenant.id, "at": first.at + 0.001}
    variants = [replace(first, **{name: value}) for name, value in changes.items()]
    await send(internal_client, settings, [first])

    response = await send(internal_client, settings, variants)

    assert response.json() == counted(
        0, 0, rejected=len(variants), conflicts=[first.id] * len(variants)
    )
    call = await row(database, "c1")
    assert call is not None
    assert (call.tenant_id, call.status, call.cost_usd) == (demo.tenant_id, "success", 0.00008)


async def test_a_resend_equal_as_stored_is_a_duplicate(
    internal_client: httpx.AsyncClient, settings: ControlSettings, demo: Demo
) -> None:
    first = finished(demo, "c1", latency_ms=850.0, cost_usd=0.0)
    body = batch([first])
    await signed_post(internal_client, settings.internal_secret, TELEMETRY_PATH, body)
    # whole numbers as JSON integers, fields the row does not keep changed, a newer field
    resent = {
        **first.to_dict(),
        "latency_ms": 850,
        "cost_usd": 0,
        "started_at": first.started_at - 1,
        "from_a_newer_engine": True,
    }

    response = await signed_post(
        internal_client, settings.internal_secret, TELEMETRY_PATH, {**body, "events": [resent]}
    )

    assert response.json() == counted(0, 1)


async def test_a_restart_is_compared_while_its_call_is_open(
    internal_client: httpx.AsyncClient, settings: ControlSettings, demo: Demo
) -> None:
    start = started(demo, "c1")
    moved = replace(start, started_at=start.started_at + 1, at=start.at + 1)
    await send(internal_client, settings, [start])

    same = await send(internal_client, settings, [start])
    changed = await send(internal_client, settings, [replace(start, model="embed"), moved])
    await send(internal_client, settings, [finished(demo, "c1", started_at=start.started_at)])
    late = await send(internal_client, settings, [moved])

    assert same.json() == counted(0, 1)
    assert changed.json() == counted(0, 0, rejected=2, conflicts=[start.id, start.id])
    # once the finish is in, the row holds what the finish says: a late start adds nothing
    assert late.json() == counted(0, 1)


async def test_a_conflict_within_one_batch_is_found_against_the_first_event(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    start = started(demo, "c1")
    first = finished(demo, "c2", output_tokens=7)

    response = await send(
        internal_client,
        settings,
        [
            start,
            start,
            replace(start, stream=False),
            first,
            first,
            replace(first, output_tokens=8),
        ],
    )

    assert response.json() == counted(2, 2, rejected=2, conflicts=[start.id, first.id])
    call = await row(database, "c2")
    assert call is not None
    assert call.output_tokens == 7


async def test_conflicts_of_a_batch_larger_than_a_statement_chunk_are_each_found(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    # SQLite compares 500 rows per statement: 1,200 resends span three chunks
    events = [finished(demo, f"call-{i:04d}", cost_usd=0.001) for i in range(1200)]
    await send(internal_client, settings, events)
    resent = [replace(e, cost_usd=0.002) if i % 3 == 0 else e for i, e in enumerate(events)]

    response = await send(internal_client, settings, resent)

    changed = [e.id for i, e in enumerate(events) if i % 3 == 0]
    assert response.json() == counted(0, 800, rejected=400, conflicts=changed)
    assert len(await ledger(database, demo.tenant_id)) == 1200
    assert await spent(database, demo.token_id) == pytest.approx(1.2)
