"""Telemetry ingest: every call recorded once, whatever order or how often events arrive."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from junction_contracts.signing import sign
from junction_contracts.telemetry import TELEMETRY_PATH, CallEvent, batch
from junction_control.app import create_internal_app
from junction_control.db import Database
from junction_control.settings import ControlSettings
from junction_control.usage.models import ModelCall
from junction_control.usage.service import reap_stuck_calls

from .conftest import Demo, signed_post

NOW = time.time()


def started(demo: Demo, call_id: str, *, at: float = NOW - 5, **fields: Any) -> CallEvent:
    """The event the engine sends when it forwards a call."""
    return CallEvent(
        id=uuid.uuid4().hex,
        kind="started",
        call_id=call_id,
        at=at,
        tenant_id=demo.tenant_id,
        token_id=demo.token_id,
        model="chat",
        stream=True,
        started_at=at,
        **fields,
    )


def finished(demo: Demo, call_id: str, *, started_at: float = NOW - 5, **fields: Any) -> CallEvent:
    """The event the engine sends when a call ends (a success with usage by default)."""
    values: dict[str, Any] = {
        "status": "success",
        "http_status": 200,
        "deployment_id": "dep-1",
        "provider_id": demo.provider_id,
        "credential_id": demo.credential_id,
        "attempts": 1,
        "input_tokens": 100,
        "output_tokens": 20,
        "cached_input_tokens": 40,
        "reasoning_tokens": 5,
        "cost_usd": 0.00008,
        "latency_ms": 850.0,
        "ttft_ms": 120.0,
        "trace_id": "trace-" + call_id,
        **fields,
    }
    return CallEvent(
        id=uuid.uuid4().hex,
        kind="finished",
        call_id=call_id,
        at=started_at + 1,
        tenant_id=demo.tenant_id,
        token_id=demo.token_id,
        model="chat",
        stream=True,
        started_at=started_at,
        **values,
    )


#: what a call refused before any provider was tried says: no attempt, no cost
REFUSED_FIELDS: dict[str, Any] = {
    "status": "refused",
    "http_status": 400,
    "error_code": "unsupported_operation",
    "deployment_id": None,
    "provider_id": None,
    "credential_id": None,
    "attempts": 0,
    "input_tokens": 0,
    "output_tokens": 0,
    "cached_input_tokens": 0,
    "reasoning_tokens": 0,
    "cost_usd": 0.0,
    "ttft_ms": None,
}


def refused(demo: Demo, call_id: str, **fields: Any) -> CallEvent:
    """The event of a call refused before any provider was tried (no deployment offers it)."""
    return finished(demo, call_id, **(REFUSED_FIELDS | fields))


async def send(
    client: httpx.AsyncClient, settings: ControlSettings, events: list[CallEvent]
) -> httpx.Response:
    return await signed_post(client, settings.internal_secret, TELEMETRY_PATH, batch(events))


async def row(database: Database, call_id: str) -> ModelCall | None:
    async with database.session() as session:
        return await session.get(ModelCall, call_id)


async def count_rows(database: Database) -> int:
    async with database.session() as session:
        conn = await session.connection()
        return int((await conn.execute(select(func.count()).select_from(ModelCall))).scalar_one())


def counted(
    accepted: int, duplicates: int, rejected: int = 0, conflicts: Sequence[str] = ()
) -> dict[str, Any]:
    """The answer to a batch; `conflicts` (ids) are among the `rejected`."""
    return {
        "accepted": accepted,
        "duplicates": duplicates,
        "rejected": rejected,
        "conflicts": list(conflicts),
    }


async def test_started_opens_a_processing_call_and_finished_closes_it(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    first = await send(internal_client, settings, [started(demo, "c1")])
    opened = await row(database, "c1")
    second = await send(internal_client, settings, [finished(demo, "c1")])
    closed = await row(database, "c1")

    assert (first.status_code, first.json()) == (202, counted(1, 0))
    assert opened is not None
    assert opened.status == "processing"
    assert (opened.tenant_id, opened.token_id, opened.model) == (
        demo.tenant_id,
        demo.token_id,
        "chat",
    )
    assert opened.stream is True
    assert opened.finished_at is None
    assert (second.status_code, second.json()) == (202, counted(1, 0))
    assert closed is not None
    assert closed.status == "success"
    assert (closed.input_tokens, closed.output_tokens, closed.cached_input_tokens) == (100, 20, 40)
    assert closed.reasoning_tokens == 5
    assert closed.cost_usd == 0.00008
    assert (closed.latency_ms, closed.ttft_ms, closed.attempts) == (850.0, 120.0, 1)
    assert (closed.provider_id, closed.credential_id) == (demo.provider_id, demo.credential_id)
    assert closed.trace_id == "trace-c1"
    assert closed.started_at == opened.started_at
    assert closed.started_at.tzinfo is not None
    assert abs(closed.started_at.timestamp() - (NOW - 5)) < 0.001
    assert closed.finished_at is not None
    assert abs(closed.finished_at.timestamp() - (NOW - 4)) < 0.001
    assert closed.updated_at >= opened.updated_at
    assert await count_rows(database) == 1


async def test_finished_alone_records_the_whole_call(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    event = finished(demo, "lonely", status="failed", http_status=502, error_code="upstream_error")
    response = await send(internal_client, settings, [event])

    call = await row(database, "lonely")
    assert response.json() == counted(1, 0)
    assert call is not None
    assert (call.status, call.http_status, call.error_code) == ("failed", 502, "upstream_error")
    assert abs(call.started_at.timestamp() - (NOW - 5)) < 0.001


async def test_a_call_refused_before_any_provider_is_recorded_refused_and_final(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    first = await send(internal_client, settings, [started(demo, "r1"), refused(demo, "r1")])
    # another final state for the same call afterwards: the refusal stands
    failed = finished(demo, "r1", status="failed", http_status=502, cost_usd=0.0)
    second = await send(internal_client, settings, [failed])

    call = await row(database, "r1")
    assert first.json() == counted(2, 0)
    assert second.json() == counted(0, 0, rejected=1, conflicts=[failed.id])
    assert call is not None
    assert (call.status, call.http_status, call.error_code) == (
        "refused",
        400,
        "unsupported_operation",
    )
    assert (call.attempts, call.cost_usd, call.provider_id) == (0, 0.0, None)
    assert call.finished_at is not None


async def test_finished_before_started_keeps_the_final_state(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    early = await send(internal_client, settings, [finished(demo, "c1")])
    late = await send(internal_client, settings, [started(demo, "c1")])

    call = await row(database, "c1")
    assert early.json() == counted(1, 0)
    assert late.json() == counted(0, 1)  # the finished event already told everything
    assert call is not None
    assert call.status == "success"
    assert call.input_tokens == 100


async def test_started_and_finished_in_one_batch_store_the_final_call(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    response = await send(
        internal_client,
        settings,
        [started(demo, "a"), finished(demo, "a"), started(demo, "b")],
    )

    a, b = await row(database, "a"), await row(database, "b")
    assert response.json() == counted(3, 0)
    assert a is not None
    assert a.status == "success"
    assert b is not None
    assert b.status == "processing"


async def test_a_replayed_batch_counts_nothing_twice(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    events = [started(demo, "c1"), started(demo, "c2"), finished(demo, "c1"), finished(demo, "c2")]
    events.append(started(demo, "c3"))

    first = await send(internal_client, settings, events)
    before = {cid: await row(database, cid) for cid in ("c1", "c2", "c3")}
    replay = await send(internal_client, settings, events)
    after = {cid: await row(database, cid) for cid in ("c1", "c2", "c3")}

    assert first.json() == counted(5, 0)
    assert replay.status_code == 202
    assert replay.json() == counted(0, 5)
    assert await count_rows(database) == 3
    assert after == before


async def test_the_first_finished_event_of_a_call_wins(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    success = finished(demo, "c1", output_tokens=20)
    other = finished(demo, "c1", status="cancelled", output_tokens=999, cost_usd=1.0)
    seven, eight = finished(demo, "c2", output_tokens=7), finished(demo, "c2", output_tokens=8)

    first = await send(internal_client, settings, [started(demo, "c1"), success])
    second = await send(internal_client, settings, [other])
    same_batch = await send(internal_client, settings, [seven, eight])

    c1, c2 = await row(database, "c1"), await row(database, "c2")
    assert first.json() == counted(2, 0)
    # a later finish that says something else is refused as a conflict, in a batch or across
    assert second.json() == counted(0, 0, rejected=1, conflicts=[other.id])
    assert same_batch.json() == counted(1, 0, rejected=1, conflicts=[eight.id])
    assert c1 is not None
    assert (c1.status, c1.output_tokens, c1.cost_usd) == ("success", 20, 0.00008)
    assert c2 is not None
    assert c2.output_tokens == 7


async def test_overlapping_deliveries_of_one_batch_count_each_event_once(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    events = [started(demo, f"c{i}") for i in range(50)]
    events += [finished(demo, f"c{i}") for i in range(0, 50, 2)]

    responses = await asyncio.gather(*(send(internal_client, settings, events) for _ in range(3)))

    bodies = [r.json() for r in responses]
    assert [r.status_code for r in responses] == [202, 202, 202]
    assert sum(b["accepted"] for b in bodies) == len(events)
    assert sum(b["duplicates"] for b in bodies) == 2 * len(events)
    assert await count_rows(database) == 50


async def test_unsigned_batch_is_refused_and_nothing_stored(
    internal_client: httpx.AsyncClient, database: Database, demo: Demo
) -> None:
    response = await internal_client.post(TELEMETRY_PATH, json=batch([finished(demo, "c1")]))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"
    assert await count_rows(database) == 0


async def test_a_batch_of_another_version_is_400_and_nothing_stored(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    body = batch([started(demo, "c1"), finished(demo, "c1")])
    body["version"] = 2

    response = await signed_post(internal_client, settings.internal_secret, TELEMETRY_PATH, body)

    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "invalid_request", "message": "telemetry version must be 1"}
    }
    assert await count_rows(database) == 0


async def test_one_malformed_event_is_rejected_alone(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    body = batch([started(demo, "c1"), finished(demo, "c2")])
    body["events"][1]["input_tokens"] = -1

    response = await signed_post(internal_client, settings.internal_secret, TELEMETRY_PATH, body)

    assert response.status_code == 202
    assert response.json() == counted(1, 0, rejected=1)
    assert await count_rows(database) == 1
    assert await row(database, "c1") is not None


async def test_a_body_that_is_not_json_is_400(
    internal_client: httpx.AsyncClient, settings: ControlSettings
) -> None:
    body = b"{not json"
    headers = sign(settings.internal_secret, "POST", TELEMETRY_PATH, body)

    response = await internal_client.post(TELEMETRY_PATH, content=body, headers=headers)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


async def test_events_that_fit_no_row_are_rejected_alone(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    body = batch(
        [
            finished(demo, "x" * 65),  # longer than any call id column
            finished(demo, "bad-cost", cost_usd=-1.0),
            started(demo, "good"),
        ]
    )
    body["events"].append({**started(demo, "bad-time").to_dict(), "at": "yesterday"})

    response = await signed_post(internal_client, settings.internal_secret, TELEMETRY_PATH, body)

    assert response.status_code == 202
    assert response.json() == counted(1, 0, rejected=3)
    assert await count_rows(database) == 1
    assert await row(database, "good") is not None


async def test_events_of_an_unknown_tenant_are_rejected(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    stranger = replace(demo, tenant_id=str(uuid.uuid4()))
    response = await send(
        internal_client,
        settings,
        [started(stranger, "theirs"), finished(stranger, "theirs"), started(demo, "ours")],
    )

    assert response.json() == counted(1, 0, rejected=2)
    assert await row(database, "theirs") is None
    assert await row(database, "ours") is not None


async def test_a_batch_of_1000_events_is_ingested_in_one_request(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    ids = [f"call-{i:04d}" for i in range(1000)]
    opened = await send(internal_client, settings, [started(demo, cid) for cid in ids])
    closing = [finished(demo, cid, output_tokens=i) for i, cid in enumerate(ids)]
    closed = await send(internal_client, settings, closing)
    replayed = await send(internal_client, settings, closing)

    assert opened.json() == counted(1000, 0)
    assert closed.json() == counted(1000, 0)
    assert replayed.json() == counted(0, 1000)
    async with database.session() as session:
        conn = await session.connection()
        statuses = (
            await conn.execute(
                select(ModelCall.status, func.count(), func.sum(ModelCall.output_tokens)).group_by(
                    ModelCall.status
                )
            )
        ).all()
    assert [tuple(s) for s in statuses] == [("success", 1000, sum(range(1000)))]


async def test_stuck_calls_are_failed_and_a_late_finished_still_wins(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    hour_ago = time.time() - 3600
    await send(
        internal_client,
        settings,
        [
            started(demo, "stuck", at=hour_ago),
            started(demo, "fresh"),
            started(demo, "gone", at=hour_ago),
        ],
    )

    async with database.session() as session:
        reaped = await reap_stuck_calls(session, older_than=timedelta(minutes=30))
        await session.commit()
    stuck, fresh = await row(database, "stuck"), await row(database, "fresh")

    assert reaped == 2
    assert stuck is not None
    assert (stuck.status, stuck.error_code) == ("failed", "stuck")
    assert stuck.finished_at is not None
    assert fresh is not None
    assert fresh.status == "processing"

    late = await send(
        internal_client, settings, [finished(demo, "stuck", started_at=hour_ago, output_tokens=3)]
    )
    restart = await send(internal_client, settings, [started(demo, "gone", at=hour_ago)])
    second_word = finished(demo, "stuck", started_at=hour_ago, status="failed")
    again = await send(internal_client, settings, [second_word])

    truth, gone = await row(database, "stuck"), await row(database, "gone")
    assert late.json() == counted(1, 0)
    assert restart.json() == counted(0, 1)  # a replayed start does not reopen a reaped call
    # once the engine has spoken, its first word stands
    assert again.json() == counted(0, 0, rejected=1, conflicts=[second_word.id])
    assert truth is not None
    assert (truth.status, truth.error_code, truth.output_tokens) == ("success", None, 3)
    assert truth.finished_at is not None
    assert abs(truth.finished_at.timestamp() - (hour_ago + 1)) < 0.001
    assert gone is not None
    assert (gone.status, gone.error_code) == ("failed", "stuck")


async def test_reaping_leaves_finished_calls_alone(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    hour_ago = time.time() - 3600
    await send(
        internal_client,
        settings,
        [finished(demo, "done", started_at=hour_ago, status="cancelled")],
    )

    async with database.session() as session:
        reaped = await reap_stuck_calls(session, older_than=timedelta(minutes=1))
        await session.commit()

    done = await row(database, "done")
    assert reaped == 0
    assert done is not None
    assert (done.status, done.error_code) == ("cancelled", None)


async def test_metrics_count_events_by_kind_and_outcome(
    internal_client: httpx.AsyncClient, settings: ControlSettings, demo: Demo
) -> None:
    events = [started(demo, "c1"), finished(demo, "c1")]
    await send(internal_client, settings, events)
    await send(internal_client, settings, events)
    await send(internal_client, settings, [finished(demo, "y" * 65)])
    await signed_post(internal_client, settings.internal_secret, TELEMETRY_PATH, {"version": 0})

    text = (await internal_client.get("/metrics")).text

    prefix = "junction_control_telemetry_events_total"
    assert f'{prefix}{{kind="started",outcome="accepted"}} 1.0' in text
    assert f'{prefix}{{kind="finished",outcome="accepted"}} 1.0' in text
    assert f'{prefix}{{kind="started",outcome="duplicate"}} 1.0' in text
    assert f'{prefix}{{kind="finished",outcome="duplicate"}} 1.0' in text
    assert f'{prefix}{{kind="finished",outcome="rejected"}} 1.0' in text
    assert 'junction_control_telemetry_batches_total{outcome="stored"} 3.0' in text
    assert 'junction_control_telemetry_batches_total{outcome="invalid"} 1.0' in text


async def test_a_database_outage_is_503_so_the_engine_retries(tmp_path: Path) -> None:
    settings = ControlSettings.from_env(
        environ={"JUNCTION_VAR_DIR": str(tmp_path / "var")}, env_file=None
    )
    unreachable = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    app = create_internal_app(settings, database=unreachable)
    event = CallEvent(
        id="e1", kind="started", call_id="c1", at=NOW, tenant_id="t", token_id="k", model="m"
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://control"
        ) as client:
            response = await send(client, settings, [event])
            text = (await client.get("/metrics")).text
    finally:
        await unreachable.dispose()

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"
    assert 'junction_control_telemetry_batches_total{outcome="unavailable"} 1.0' in text
