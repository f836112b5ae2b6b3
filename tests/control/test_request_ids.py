"""A call's x-request-id and trace id: stored from its telemetry, shown in its call record."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from junction_contracts.telemetry import TELEMETRY_PATH, TELEMETRY_VERSION
from junction_control.db import Database
from junction_control.settings import ControlSettings
from junction_control.usage.models import ModelCall

from .conftest import Demo, World, signed_post
from .test_telemetry import finished, row, send, started
from .test_usage import add_calls

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_a_call_is_found_by_its_request_id_from_its_start_to_its_end(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    await send(internal_client, settings, [started(demo, "r1", request_id="client-id-1")])
    opened = await row(database, "r1")
    await send(
        internal_client,
        settings,
        [finished(demo, "r1", request_id="client-id-1", trace_id=TRACE_ID)],
    )
    closed = await row(database, "r1")

    assert opened is not None
    assert closed is not None
    assert (opened.status, opened.request_id) == ("processing", "client-id-1")
    assert (closed.status, closed.request_id, closed.trace_id) == (
        "success",
        "client-id-1",
        TRACE_ID,
    )


async def test_a_finished_event_alone_records_its_request_id(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    answer = await send(internal_client, settings, [finished(demo, "r2", request_id="abc:def")])
    stored = await row(database, "r2")

    assert answer.status_code == 202
    assert stored is not None
    assert stored.request_id == "abc:def"


async def test_events_of_an_engine_older_than_request_ids_are_stored_without_one(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    old = finished(demo, "r3").to_dict()
    del old["request_id"]
    answer = await signed_post(
        internal_client,
        settings.internal_secret,
        TELEMETRY_PATH,
        {"version": TELEMETRY_VERSION, "events": [old]},
    )
    stored = await row(database, "r3")

    assert (answer.status_code, answer.json()["accepted"]) == (202, 1)
    assert stored is not None
    assert stored.request_id is None


async def test_a_request_id_longer_than_its_column_rejects_that_event_alone(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    answer = await send(
        internal_client,
        settings,
        [finished(demo, "long", request_id="x" * 129), finished(demo, "fine", request_id="ok")],
    )

    assert answer.status_code == 202
    assert (answer.json()["accepted"], answer.json()["rejected"]) == (1, 1)
    assert await row(database, "long") is None
    fine = await row(database, "fine")
    assert fine is not None
    assert fine.request_id == "ok"


async def test_the_call_records_of_the_usage_api_show_request_and_trace_ids(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    tenant_id = world.acme.tenant_id
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    await add_calls(
        database,
        ModelCall(
            id="with-ids",
            tenant_id=tenant_id,
            token_id="tok",
            model="chat",
            status="success",
            started_at=at,
            finished_at=at,
            request_id="req-42",
            trace_id=TRACE_ID,
        ),
    )

    calls = await admin.get(f"/tenants/{tenant_id}/calls", headers=world["viewer"].headers)

    assert calls.status_code == 200, calls.text
    [item] = calls.json()["items"]
    assert (item["id"], item["request_id"], item["trace_id"]) == ("with-ids", "req-42", TRACE_ID)
