"""Hourly rollups match the raw calls, re-roll idempotently, and outlive the prune."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from junction_control.cli import main
from junction_control.db import Database
from junction_control.settings import ControlSettings
from junction_control.usage.models import ModelCall, UsageHour
from junction_control.usage.rollup import prune_calls, rollup_hours
from junction_control.usage.upkeep import upkeep_once

from .conftest import Demo
from .test_telemetry import finished, refused, send, started

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)


def at(hours_ago: float, minute: int = 10) -> float:
    """A unix time `hours_ago` whole hours before NOW's hour, at `minute` past."""
    hour = NOW.replace(minute=0) - timedelta(hours=hours_ago)
    return (hour + timedelta(minutes=minute)).timestamp()


async def rollups(database: Database) -> list[tuple[object, ...]]:
    async with database.session() as session:
        conn = await session.connection()
        rows = await conn.execute(
            select(UsageHour.__table__).order_by(  # type: ignore[attr-defined]
                "hour", "model", "token_id"
            )
        )
        return [tuple(r) for r in rows.all()]


async def raw_totals(database: Database) -> tuple[int, int, int, float]:
    async with database.session() as session:
        conn = await session.connection()
        c = ModelCall.__table__.c  # type: ignore[attr-defined]
        row = (
            await conn.execute(
                select(
                    func.count(),
                    func.sum(c.input_tokens),
                    func.sum(c.output_tokens),
                    func.sum(c.cost_usd),
                )
            )
        ).one()
        return int(row[0]), int(row[1] or 0), int(row[2] or 0), float(row[3] or 0.0)


async def roll(database: Database, until: datetime = NOW, **kw: object) -> int:
    kw.setdefault("retention", timedelta(days=90))
    async with database.session() as session:
        result = await rollup_hours(session, until=until, **kw)  # type: ignore[arg-type]
        await session.commit()
        return result.rows


async def seed(client: httpx.AsyncClient, settings: ControlSettings, demo: Demo) -> None:
    events = [
        finished(demo, "a1", started_at=at(3), cost_usd=0.1, input_tokens=10, output_tokens=1),
        finished(demo, "a2", started_at=at(3, 50), cost_usd=0.2, input_tokens=20, output_tokens=2),
        finished(demo, "b1", started_at=at(2), status="failed", http_status=502, cost_usd=0.0),
        refused(demo, "r1", started_at=at(2, 20)),
        replace(
            finished(demo, "e1", started_at=at(2), cost_usd=0.4, input_tokens=40), model="embed"
        ),
        # the current hour is not complete: not rolled yet
        finished(demo, "now", started_at=at(0, 5), cost_usd=1.0, input_tokens=100),
    ]
    response = await send(client, settings, events)
    assert response.status_code == 202, response.text


async def test_rollup_matches_the_raw_sums_of_complete_hours_and_is_idempotent(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    await seed(internal_client, settings, demo)

    await roll(database)
    first = await rollups(database)
    await roll(database)
    again = await rollups(database)

    assert first == again
    hour3 = NOW.replace(minute=0) - timedelta(hours=3)
    hour2 = hour3 + timedelta(hours=1)
    t, tok = demo.tenant_id, demo.token_id
    # calls, failed, tokens in / out / cached, cost, refused: counted apart from the failures
    assert first == [
        (t, hour3, "chat", tok, 2, 0, 30, 3, 40 * 2, pytest.approx(0.3), 0),
        (t, hour2, "chat", tok, 2, 1, 100, 20, 40, 0.0, 1),
        (t, hour2, "embed", tok, 1, 0, 40, 20, 40, pytest.approx(0.4), 0),
    ]
    calls, input_tokens, _, cost = await raw_totals(database)
    assert sum(int(r[4]) for r in first) == calls - 1  # all but the current hour's call
    assert sum(int(r[6]) for r in first) == input_tokens - 100
    assert sum(float(r[9]) for r in first) == pytest.approx(cost - 1.0)  # type: ignore[arg-type]


async def test_a_late_event_for_a_rolled_hour_is_picked_up_by_the_next_run(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    await send(internal_client, settings, [started(demo, "late", at=at(5))])
    await roll(database)
    before = await rollups(database)
    await send(
        internal_client,
        settings,
        [finished(demo, "late", started_at=at(5), cost_usd=0.7, input_tokens=70)],
    )
    await roll(database, until=NOW + timedelta(hours=1))
    after = await rollups(database)

    assert [(r[4], r[6], r[9]) for r in before] == [(1, 0, 0.0)]
    assert [(r[4], r[6], r[9]) for r in after] == [(1, 70, pytest.approx(0.7))]


async def test_a_group_a_call_left_is_deleted_on_re_roll(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    await send(internal_client, settings, [started(demo, "moved", at=at(4))])
    await roll(database)
    moved = replace(finished(demo, "moved", started_at=at(4)), model="embed")
    await send(internal_client, settings, [moved])
    await roll(database)

    assert [r[2] for r in await rollups(database)] == ["embed"]


async def test_the_first_run_catches_up_on_history_beyond_the_re_roll_window(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    await send(internal_client, settings, [finished(demo, "old", started_at=at(24 * 10))])
    await send(internal_client, settings, [finished(demo, "new", started_at=at(2))])

    await roll(database)

    assert len(await rollups(database)) == 2


async def test_prune_deletes_only_calls_past_retention_and_keeps_their_rollups(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    await send(
        internal_client,
        settings,
        [
            finished(demo, "ancient", started_at=at(24 * 91), cost_usd=0.3),
            finished(demo, "recent", started_at=at(24 * 89), cost_usd=0.2),
        ],
    )

    rolled, pruned = await upkeep_once(database, timedelta(days=90), now=NOW)

    assert (rolled.rows, pruned) == (2, 1)
    async with database.session() as session:
        assert await session.get(ModelCall, "ancient") is None
        assert await session.get(ModelCall, "recent") is not None
    assert sorted(float(r[9]) for r in await rollups(database)) == [0.2, 0.3]  # type: ignore[arg-type]
    async with database.session() as session:  # a second prune finds nothing more
        assert await prune_calls(session, retention=timedelta(days=90), now=NOW) == 0


async def test_refused_calls_stay_counted_apart_from_failures_after_the_prune(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    old = at(24 * 91)
    await send(
        internal_client,
        settings,
        [
            refused(demo, "turned-down", started_at=old),
            finished(demo, "broke", started_at=old + 60, status="failed", cost_usd=0.0),
            finished(demo, "served", started_at=old + 120, cost_usd=0.25),
        ],
    )

    await upkeep_once(database, timedelta(days=90), now=NOW)

    assert (await raw_totals(database))[0] == 0  # every call pruned
    [hour] = await rollups(database)
    calls, failed, cost, refused_calls = hour[4], hour[5], hour[9], hour[10]
    assert (calls, failed, refused_calls) == (3, 1, 1)
    assert cost == pytest.approx(0.25)


def test_cli_rollup_runs_once(cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rollup", "--since-hours", "48", "--prune"]) == 0

    out = capsys.readouterr().out
    assert "rolled up 0 row(s)" in out
    assert "pruned 0 call(s) older than 90 day(s)" in out
