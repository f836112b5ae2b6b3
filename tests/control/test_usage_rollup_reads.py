"""Usage totals read whole hours from the rollups and still equal what the raw calls give.

Every test compares `usage_totals` (rollups where they are known to match,
raw calls elsewhere) with `usage_summary` (the raw calls alone), on SQLite
and PostgreSQL: edges inside hours, calls not rolled up yet, calls changed
after their hour was rolled, calls that moved to another model.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlmodel import col, select

from junction_control.db import Database
from junction_control.settings import ControlSettings
from junction_control.usage import service
from junction_control.usage.coverage import lock_coverage, read_coverage
from junction_control.usage.models import ModelCall, UsageHour
from junction_control.usage.rollup import floor_hour, rollup_hours
from junction_control.usage.service import ModelUsage
from junction_control.usage.sources import Span
from junction_control.usage.upkeep import upkeep_once

from .conftest import Demo, World
from .test_telemetry import finished, send, started
from .test_usage import add_calls, call

RETENTION = timedelta(days=90)
# well inside the retention: the calls of these hours are all kept
BASE = floor_hour(datetime.now(UTC) - timedelta(days=10))


def t(hours: int, minutes: int = 0) -> datetime:
    return BASE + timedelta(hours=hours, minutes=minutes)


def old_call(tenant_id: str, call_id: str, started_at: datetime, **fields: object) -> ModelCall:
    """A call recorded when it happened: last written a second after it started.

    (A call written now would count as changed since any rollup of the last
    couple of minutes, `coverage.CLOCK_SLACK`, and be read from the calls.)
    """
    return call(
        tenant_id, call_id, started_at, updated_at=started_at + timedelta(seconds=1), **fields
    )


async def roll(database: Database, until: datetime | None = None) -> None:
    async with database.session() as session:
        await rollup_hours(session, until=until or datetime.now(UTC), retention=RETENTION)
        await session.commit()


async def both(
    database: Database, tenant_id: str, since: datetime, until: datetime
) -> tuple[list[ModelUsage], list[ModelUsage], list[Span]]:
    """(planned totals, raw totals, the plan) of one range."""
    async with database.session() as session:
        planned = await service.usage_totals(session, tenant_id, since, until, retention=RETENTION)
        raw = await service.usage_summary(session, tenant_id, since, until)
        spans = await service.usage_spans(session, tenant_id, since, until, retention=RETENTION)
    return planned, raw, spans


def rolled_hours(spans: list[Span]) -> list[tuple[datetime, datetime]]:
    return [(s.start, s.end) for s in spans if s.rolled]


async def rollup_rows(database: Database) -> list[UsageHour]:
    async with database.session() as session:
        query = select(UsageHour).order_by(col(UsageHour.hour), col(UsageHour.model))
        return list((await session.exec(query)).all())


async def rolled(database: Database, tenant_id: str, hour: datetime) -> list[int]:
    """[calls, input tokens] the rollups hold for `hour`, less what the raw calls hold."""
    async with database.session() as session:
        raw = await service.usage_summary(session, tenant_id, hour, hour + timedelta(hours=1))
    rows = [r for r in await rollup_rows(database) if r.hour == hour and r.tenant_id == tenant_id]
    return [
        sum(r.calls for r in rows) - sum(m.calls for m in raw),
        sum(r.input_tokens for r in rows) - sum(m.input_tokens for m in raw),
    ]


async def seed(database: Database, tenant_id: str, other_tenant: str | None = None) -> None:
    """Calls in hours 0-6 of BASE at :05, :25 and :55, of two models and two tokens."""
    calls = []
    for hour in range(7):
        for minute in (5, 25, 55):
            n = len(calls)
            calls.append(
                old_call(
                    tenant_id,
                    f"c{n}",
                    t(hour, minute),
                    model="chat" if n % 3 else "embed",
                    token_id="tok-a" if n % 2 else "tok-b",
                    status=("success", "failed", "refused", "success")[n % 4],
                    input_tokens=10 + n,
                    output_tokens=n,
                    cached_input_tokens=n % 5,
                    # float-noisy amounts: sums must still be exact
                    cost_usd=(0.1, 0.2, 0.0, 0.00012)[n % 4],
                )
            )
    if other_tenant is not None:
        calls.append(old_call(other_tenant, "theirs", t(3, 10), input_tokens=999, cost_usd=9.0))
    await add_calls(database, *calls)


async def test_a_range_with_partial_hours_at_both_ends_reads_whole_hours_from_the_rollups(
    database: Database, world: World
) -> None:
    await seed(database, world.acme.tenant_id, other_tenant=world.globex_id)
    await roll(database)
    since, until = t(0, 20), t(5, 30)

    planned, raw, spans = await both(database, world.acme.tenant_id, since, until)

    assert planned == raw
    assert sum(m.calls for m in raw) == 2 + 12 + 2  # :25 and :55 of hour 0, 1-4, :05 and :25
    assert rolled_hours(spans) == [(t(1), t(5))]
    assert [(s.start, s.end) for s in spans if not s.rolled] == [(since, t(1)), (t(5), until)]


async def test_costs_add_up_to_exact_decimals_in_the_json_totals(
    admin: httpx.AsyncClient, database: Database, world: World
) -> None:
    tenant_id = world.acme.tenant_id
    await add_calls(
        database,
        old_call(tenant_id, "a", t(1, 5), cost_usd=0.1),
        old_call(tenant_id, "b", t(1, 6), cost_usd=0.2),
        old_call(tenant_id, "c", t(2, 7), cost_usd=0.1),
        old_call(tenant_id, "d", t(3, 59), cost_usd=0.2),
    )
    await roll(database)

    response = await admin.get(
        f"/tenants/{tenant_id}/usage",
        params={"since": t(0).isoformat(), "until": t(3, 30).isoformat()},
        headers=world["viewer"].headers,
    )
    edge = await admin.get(
        f"/tenants/{tenant_id}/usage",
        params={"since": t(1, 5).isoformat(), "until": t(4).isoformat()},
        headers=world["viewer"].headers,
    )

    assert response.status_code == 200, response.text
    # float sums would say 0.30000000000000004 + 0.1 = 0.4000000000000001
    assert [(m["calls"], m["cost_usd"]) for m in response.json()["models"]] == [(3, 0.4)]
    assert [(m["calls"], m["cost_usd"]) for m in edge.json()["models"]] == [(4, 0.6)]


async def test_calls_not_rolled_up_yet_are_counted_once(database: Database, demo: Demo) -> None:
    await seed(database, demo.tenant_id)
    await roll(database, until=t(4))  # hours 0-3 rolled; 4-6 not yet
    await add_calls(database, call(demo.tenant_id, "new", t(6, 40), input_tokens=7, cost_usd=0.3))

    planned, raw, spans = await both(database, demo.tenant_id, t(0, 30), t(6, 50))

    assert planned == raw
    assert rolled_hours(spans) == [(t(1), t(4))]
    assert sum(m.calls for m in raw) == 1 + 9 + 6 + 2 + 1


async def test_a_call_that_changed_after_its_hour_was_rolled_is_read_from_the_calls(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    await seed(database, demo.tenant_id)
    started_at = t(2, 30).timestamp()
    await send(internal_client, settings, [started(demo, "slow", at=started_at)])
    await roll(database)
    # the finish arrives after the rollup: hour 2 no longer matches its rollup
    done = finished(demo, "slow", started_at=started_at, cost_usd=0.7, input_tokens=70)
    assert (await send(internal_client, settings, [done])).status_code == 202
    late = call(demo.tenant_id, "late", t(3, 15), input_tokens=5, cost_usd=0.05)
    await add_calls(database, late)  # a spooled batch, days late, for hour 3

    planned, raw, spans = await both(database, demo.tenant_id, t(0), t(7))
    await roll(database)
    planned_again, raw_again, _ = await both(database, demo.tenant_id, t(0), t(7))

    assert planned == raw
    assert rolled_hours(spans) == [(t(0), t(2)), (t(4), t(7))]
    assert planned_again == raw_again == raw
    # the next run re-rolled both hours, though they ended days before
    assert await rolled(database, demo.tenant_id, t(2)) == [0, 0]
    assert await rolled(database, demo.tenant_id, t(3)) == [0, 0]


async def test_a_call_that_moved_to_another_model_is_counted_under_the_new_one_only(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    started_at = t(1, 10).timestamp()
    await send(internal_client, settings, [started(demo, "moved", at=started_at)])
    await roll(database)
    moved = replace(finished(demo, "moved", started_at=started_at), model="embed")
    await send(internal_client, settings, [moved])

    planned, raw, _ = await both(database, demo.tenant_id, t(0), t(3))
    await roll(database)
    planned_again, _, _ = await both(database, demo.tenant_id, t(0), t(3))

    assert [m.model for m in planned] == ["embed"]
    assert planned == raw == planned_again
    assert [r.model for r in await rollup_rows(database)] == ["embed"]


async def test_the_stuck_call_reaper_s_verdict_is_seen_before_the_next_rollup(
    database: Database, demo: Demo
) -> None:
    await add_calls(
        database,
        old_call(demo.tenant_id, "hung", t(1, 10), status="processing", finished_at=None),
        old_call(demo.tenant_id, "fine", t(1, 20)),
    )
    await roll(database)
    async with database.session() as session:
        assert await service.reap_stuck_calls(session, older_than=timedelta(minutes=30)) == 1
        await session.commit()

    planned, raw, _ = await both(database, demo.tenant_id, t(0), t(3))

    assert planned == raw
    assert planned[0].failed_calls == 1


async def test_before_the_first_rollup_every_part_is_read_from_the_calls(
    database: Database, demo: Demo
) -> None:
    await seed(database, demo.tenant_id)

    planned, raw, spans = await both(database, demo.tenant_id, t(0), t(7))

    assert planned == raw
    assert spans == [Span(t(0), t(7), rolled=False)]


async def test_a_range_inside_one_hour_reads_the_calls_alone(
    database: Database, demo: Demo
) -> None:
    await seed(database, demo.tenant_id)
    await roll(database)

    planned, raw, spans = await both(database, demo.tenant_id, t(2, 1), t(2, 59))

    assert planned == raw
    assert spans == [Span(t(2, 1), t(2, 59), rolled=False)]


async def test_long_ranges_count_hours_whose_calls_were_pruned_from_their_rollups(
    database: Database, demo: Demo
) -> None:
    now = datetime.now(UTC)
    old = floor_hour(now - RETENTION - timedelta(days=5))
    await add_calls(
        database,
        old_call(
            demo.tenant_id, "ancient", old + timedelta(minutes=5), input_tokens=11, cost_usd=0.5
        ),
        old_call(demo.tenant_id, "recent", t(1, 5), input_tokens=22, cost_usd=0.25),
    )
    await upkeep_once(database, RETENTION, now=now)  # rolls both, prunes the ancient call

    async with database.session() as session:
        kept = await service.usage_summary(session, demo.tenant_id, old, t(2))
        everything = await service.usage_totals(
            session, demo.tenant_id, old, t(2), retention=RETENTION
        )

    assert [(m.input_tokens, m.cost_usd) for m in kept] == [(22, 0.25)]
    assert [(m.input_tokens, m.cost_usd) for m in everything] == [(33, 0.75)]


async def test_the_coverage_marks_only_move_forward(database: Database, demo: Demo) -> None:
    await seed(database, demo.tenant_id)
    await roll(database, until=t(5))
    async with database.session() as session:
        first = await read_coverage(await session.connection())
    await roll(database, until=t(2))  # an explicit older run
    async with database.session() as session:
        second = await read_coverage(await session.connection())

    assert first is not None
    assert second is not None
    assert first.rolled_until == second.rolled_until == t(5)
    assert second.changes_before >= first.changes_before


async def test_a_second_rollup_waits_for_the_first_instead_of_overwriting_it(
    database: Database, demo: Demo
) -> None:
    await seed(database, demo.tenant_id)
    async with database.session() as first:
        await lock_coverage(await first.connection())
        second = asyncio.create_task(roll(database))
        await asyncio.sleep(0.3)
        waiting = not second.done()
        await first.commit()
    await second

    assert waiting
    assert sum(r.calls for r in await rollup_rows(database)) == 21


async def test_every_read_of_a_range_has_an_index_to_use(database: Database) -> None:
    def indexes(conn: Connection) -> tuple[set[tuple[str, ...]], list[str]]:
        found = inspect(conn)
        calls = {tuple(i["column_names"]) for i in found.get_indexes("model_calls")}
        return calls, found.get_pk_constraint("usage_hourly")["constrained_columns"]

    async with database.engine.connect() as conn:
        calls, hourly_key = await conn.run_sync(indexes)

    assert ("tenant_id", "started_at") in calls  # the edges and the hours not rolled yet
    assert ("updated_at",) in calls  # the calls changed since the last rollup
    assert hourly_key[:2] == ["tenant_id", "hour"]  # the rolled hours
