"""Whole batches as engines send them: every kind of event mixed, each call recorded once.

Ingest writes a batch with one statement per step (new calls, closed calls,
ledger, balances, token spend); these tests mix in one batch everything a
step must tell apart, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlmodel import select

from junction_contracts.telemetry import TELEMETRY_PATH, CallEvent, batch
from junction_control.db import Database
from junction_control.settings import ControlSettings
from junction_control.tokens.models import UserToken
from junction_control.usage.ingest import ingest_events
from junction_control.usage.models import ModelCall

from .conftest import Demo, signed_post
from .test_credits import balance, ledger
from .test_telemetry import counted, finished, send, started


async def calls(database: Database) -> dict[str, ModelCall]:
    async with database.session() as session:
        return {c.id: c for c in (await session.exec(select(ModelCall))).all()}


def snapshot(rows: dict[str, ModelCall]) -> dict[str, tuple[Any, ...]]:
    """What a replay must not change."""
    return {
        cid: (r.status, r.output_tokens, r.cost_usd, r.finished_at, r.updated_at)
        for cid, r in rows.items()
    }


async def spent(database: Database, token_id: str) -> float:
    async with database.session() as session:
        token = await session.get(UserToken, token_id, populate_existing=True)
        assert token is not None
        return token.spent_usd


async def test_one_batch_of_every_kind_of_event_records_each_call_once(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    await send(internal_client, settings, [started(demo, f"open-{i}") for i in range(4)])
    mixed = [
        # calls the previous batch opened, finishing now (one twice)
        finished(demo, "open-0", cost_usd=0.5),
        finished(demo, "open-1", cost_usd=0.25, status="failed", http_status=502),
        finished(demo, "open-1", cost_usd=9.0),
        started(demo, "open-2"),  # a replayed start of an open call
        # short calls reported whole, in either order, one started twice
        started(demo, "short-a"),
        finished(demo, "short-a", cost_usd=0.125),
        finished(demo, "short-b", cost_usd=0.0625),
        started(demo, "short-b"),
        started(demo, "short-b"),
        # a call that only starts
        started(demo, "long"),
    ]
    body = batch(mixed)
    body["events"].append({**started(demo, "bad").to_dict(), "at": "yesterday"})  # malformed
    body["events"].append(replace(finished(demo, "huge"), model="m" * 201).to_dict())  # fits no row

    response = await signed_post(internal_client, settings.internal_secret, TELEMETRY_PATH, body)

    assert response.status_code == 202
    # accepted: open-0, open-1 (first finish), short-a x2, short-b finish + first start, long
    assert response.json() == counted(accepted=7, duplicates=3, rejected=2)
    rows = await calls(database)
    assert sorted(rows) == ["long", "open-0", "open-1", "open-2", "open-3", "short-a", "short-b"]
    assert {cid: rows[cid].status for cid in rows} == {
        "open-0": "success",
        "open-1": "failed",
        "open-2": "processing",
        "open-3": "processing",
        "short-a": "success",
        "short-b": "success",
        "long": "processing",
    }
    assert rows["open-1"].http_status == 502
    assert rows["open-1"].cost_usd == 0.25
    charges = sorted(
        (e.model_call_id, e.amount_usd) for e in await ledger(database, demo.tenant_id)
    )
    assert charges == [
        ("open-0", -0.5),
        ("open-1", -0.25),
        ("short-a", -0.125),
        ("short-b", -0.0625),
    ]
    assert await balance(database, demo.tenant_id) == pytest.approx(-0.9375)
    assert await spent(database, demo.token_id) == pytest.approx(0.9375)

    replay = await signed_post(internal_client, settings.internal_secret, TELEMETRY_PATH, body)

    assert replay.json() == counted(accepted=0, duplicates=10, rejected=2)
    assert snapshot(await calls(database)) == snapshot(rows)
    assert len(await ledger(database, demo.tenant_id)) == 4
    assert await balance(database, demo.tenant_id) == pytest.approx(-0.9375)
    assert await spent(database, demo.token_id) == pytest.approx(0.9375)


async def test_a_batch_larger_than_a_statement_chunk_closes_and_charges_every_call(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    # SQLite writes 500 rows per statement: 1,200 calls span three chunks of each step
    ids = [f"call-{i:04d}" for i in range(1200)]
    await send(internal_client, settings, [started(demo, cid) for cid in ids[::2]])
    closing: list[CallEvent] = []
    for i, cid in enumerate(ids):
        if i % 2:
            closing.append(started(demo, cid))
        closing.append(finished(demo, cid, cost_usd=0.001, output_tokens=i))

    response = await send(internal_client, settings, closing)

    assert response.json() == counted(accepted=1800, duplicates=0)
    rows = await calls(database)
    assert len(rows) == 1200
    assert {r.status for r in rows.values()} == {"success"}
    assert sum(r.output_tokens for r in rows.values()) == sum(range(1200))
    assert len(await ledger(database, demo.tenant_id)) == 1200
    assert await spent(database, demo.token_id) == pytest.approx(1.2)


async def test_the_spend_of_each_token_is_added_to_its_own_total(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    async with database.session() as session:
        other = UserToken(
            tenant_id=demo.tenant_id, name="other", prefix="jk-other", token_hash="f" * 64
        )
        session.add(other)
        await session.commit()

    await send(
        internal_client,
        settings,
        [
            finished(demo, "mine-1", cost_usd=0.5),
            replace(finished(demo, "theirs-1", cost_usd=0.25), token_id=other.id),
            finished(demo, "mine-2", cost_usd=0.125),
            replace(finished(demo, "theirs-2", cost_usd=2.0), token_id=other.id),
        ],
    )

    assert await spent(database, demo.token_id) == pytest.approx(0.625)
    assert await spent(database, other.id) == pytest.approx(2.25)


async def test_events_handed_in_as_contract_objects_are_checked_against_the_columns(
    database: Database, demo: Demo
) -> None:
    async with database.session() as session:
        result = await ingest_events(
            session,
            [finished(demo, "fits"), replace(finished(demo, "too-long"), model="m" * 201)],
        )
        await session.commit()

    assert (result.accepted, result.rejected) == (1, 1)
    assert sorted(await calls(database)) == ["fits"]


async def test_a_started_event_keeps_the_time_it_was_sent_with(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    at = time.time() - 600.25

    await send(internal_client, settings, [started(demo, "timed", at=at)])

    row = (await calls(database))["timed"]
    assert row.started_at.tzinfo is not None
    assert abs(row.started_at.timestamp() - at) < 1e-3
    assert row.created_at.tzinfo is not None
    assert row.finished_at is None


async def test_a_batch_rolled_back_leaves_no_call_charge_or_spend_behind(
    database: Database, demo: Demo
) -> None:
    async with database.session() as session:
        result = await ingest_events(
            session,
            [started(demo, "open"), finished(demo, "done", cost_usd=0.5)],
        )
        await session.rollback()

    assert result.accepted == 2
    assert await calls(database) == {}
    assert await ledger(database, demo.tenant_id) == []
    assert await balance(database, demo.tenant_id) == 0.0
    assert await spent(database, demo.token_id) == 0.0
