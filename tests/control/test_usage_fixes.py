"""Spend that outlives the prune, rollups of pruned hours, concurrent ingest, extreme inputs."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from junction_contracts.route import Route
from junction_control.columns import utcnow
from junction_control.credits.models import CreditAccount, LedgerEntry
from junction_control.db import Database
from junction_control.errors import ConfigError
from junction_control.settings import ControlSettings
from junction_control.tokens.models import UserToken
from junction_control.usage.models import ModelCall
from junction_control.usage.rollup import prune_calls

from .conftest import RESOLVE_PATH, Demo, World, signed_post
from .test_rollup import NOW, at, roll, rollups
from .test_telemetry import finished, send, started

RETENTION = timedelta(days=90)


async def spent(database: Database, token_id: str) -> float:
    async with database.session() as session:
        token = await session.get(UserToken, token_id, populate_existing=True)
        assert token is not None
        return token.spent_usd


async def resolved_spend(client: httpx.AsyncClient, settings: ControlSettings, demo: Demo) -> float:
    response = await signed_post(
        client, settings.internal_secret, RESOLVE_PATH, {"token_hash": demo.token_hash}
    )
    assert response.status_code == 200, response.text
    return Route.from_dict(response.json()).token.spent_usd


async def test_token_spend_survives_the_prune_of_its_calls(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    await send(internal_client, settings, [finished(demo, "old", cost_usd=0.25)])
    async with database.session() as session:
        # a day later with a retention of an hour: every call is past it
        pruned = await prune_calls(
            session, retention=timedelta(hours=1), now=utcnow() + timedelta(days=1)
        )
        await session.commit()

    assert pruned == 1
    assert await spent(database, demo.token_id) == pytest.approx(0.25)
    assert await resolved_spend(internal_client, settings, demo) == pytest.approx(0.25)


async def test_replays_and_second_finishes_add_to_the_spend_once(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    done = finished(demo, "c1", cost_usd=0.5)
    await send(internal_client, settings, [started(demo, "c1"), done])
    await send(internal_client, settings, [done])
    await send(internal_client, settings, [finished(demo, "c1", cost_usd=9.0)])
    await send(internal_client, settings, [finished(demo, "free", cost_usd=0.0)])

    assert await spent(database, demo.token_id) == pytest.approx(0.5)
    assert await resolved_spend(internal_client, settings, demo) == pytest.approx(0.5)


async def test_an_explicit_re_roll_keeps_the_rollups_of_pruned_hours(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    await send(
        internal_client,
        settings,
        [
            finished(demo, "ancient", started_at=at(24 * 91), cost_usd=0.3),
            finished(demo, "recent", started_at=at(3), cost_usd=0.2),
        ],
    )
    await roll(database, since=NOW - timedelta(days=120), retention=RETENTION)
    async with database.session() as session:
        assert await prune_calls(session, retention=RETENTION, now=NOW) == 1
        await session.commit()

    # far beyond retention: the pruned hour has no raw calls left to re-roll from
    await roll(database, since=NOW - timedelta(days=120), retention=RETENTION)

    assert sorted(float(r[9]) for r in await rollups(database)) == [0.2, 0.3]  # type: ignore[arg-type]


async def test_overlapping_concurrent_batches_record_every_call_once(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    rng = random.Random(7)
    ids = [f"c{i:02d}" for i in range(30)]
    cost = {cid: (i + 1) / 100 for i, cid in enumerate(ids)}
    starts = {cid: started(demo, cid) for cid in ids}
    ends = {cid: finished(demo, cid, cost_usd=cost[cid]) for cid in ids}
    batches = []
    for _ in range(16):
        chosen = rng.sample(ids, 18)
        events = [starts[c] for c in chosen] + [ends[c] for c in chosen if rng.random() < 0.7]
        rng.shuffle(events)
        batches.append(events)
    batches.append([ends[c] for c in ids])  # every call finishes at least once

    responses = await asyncio.gather(*(send(internal_client, settings, b) for b in batches))

    assert [r.status_code for r in responses] == [202] * len(batches)
    bodies = [r.json() for r in responses]
    assert sum(b["accepted"] + b["duplicates"] for b in bodies) == sum(len(b) for b in batches)
    assert sum(b["rejected"] for b in bodies) == 0
    async with database.session() as session:
        conn = await session.connection()
        statuses = (
            await conn.execute(select(ModelCall.status, func.count()).group_by(ModelCall.status))
        ).all()  # type: ignore[call-overload]
        charges = (
            await conn.execute(
                select(func.count(), func.sum(LedgerEntry.amount_usd)).where(
                    LedgerEntry.tenant_id == demo.tenant_id  # type: ignore[arg-type]
                )
            )
        ).one()
        account = await session.get(CreditAccount, demo.tenant_id)
    assert [tuple(s) for s in statuses] == [("success", len(ids))]
    assert charges[0] == len(ids)
    assert charges[1] == pytest.approx(-sum(cost.values()))
    assert account is not None
    assert account.balance_usd == pytest.approx(charges[1])
    assert await spent(database, demo.token_id) == pytest.approx(sum(cost.values()))


def _cursor(at_text: str, row_id: str = "x") -> str:
    raw = json.dumps([at_text, row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("endpoint", ["tokens", "calls", "credits", "audit", "members"])
@pytest.mark.parametrize("at_text", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_a_cursor_outside_the_calendar_in_utc_is_a_400(
    admin: httpx.AsyncClient, world: World, endpoint: str, at_text: str
) -> None:
    response = await admin.get(
        f"/tenants/{world.acme.tenant_id}/{endpoint}",
        params={"cursor": _cursor(at_text)},
        headers=world["owner"].headers,
    )

    assert response.status_code == 400, response.text
    assert "cursor" in response.text


async def test_an_until_too_early_for_the_default_range_is_a_400(
    admin: httpx.AsyncClient, world: World
) -> None:
    response = await admin.get(
        f"/tenants/{world.acme.tenant_id}/usage",
        params={"until": "0001-01-02T00:00:00Z"},
        headers=world["owner"].headers,
    )

    assert response.status_code == 400, response.text
    assert "until" in response.text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JUNCTION_STUCK_CALL_MINUTES", str(10**12)),
        ("JUNCTION_CALL_RETENTION_DAYS", "3000000"),
        ("JUNCTION_ADMIN_SESSION_HOURS", str(10**9)),
    ],
)
def test_durations_too_large_to_compute_with_are_refused(
    tmp_path: Path, name: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=f"{name} must be an integer from 1 to"):
        ControlSettings.from_env(
            environ={"JUNCTION_VAR_DIR": str(tmp_path / "var"), name: value}, env_file=None
        )


def test_durations_at_their_bounds_are_accepted(tmp_path: Path) -> None:
    settings = ControlSettings.from_env(
        environ={
            "JUNCTION_VAR_DIR": str(tmp_path / "var"),
            "JUNCTION_CALL_RETENTION_DAYS": "36600",
            "JUNCTION_ADMIN_SESSION_HOURS": "8784",
        },
        env_file=None,
    )

    assert (settings.call_retention_days, settings.admin_session_hours) == (36600, 8784)
