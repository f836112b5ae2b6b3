"""The usage series: per bucket and group, from the rollups where they match, equal to the calls."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from junction_control.db import Database
from junction_control.migrations import upgrade
from junction_control.usage.models import UsageHour, UsageRouteHour
from junction_control.usage.rollup import floor_hour, rollup_hours

from .conftest import World
from .test_schema_upgrades import _downgrade
from .test_usage import add_calls
from .test_usage_rollup_reads import old_call

RETENTION = timedelta(days=90)
BASE = floor_hour(datetime.now(UTC) - timedelta(days=10))


def at(hours: int, minutes: int = 0) -> datetime:
    return BASE + timedelta(hours=hours, minutes=minutes)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


async def _seed(database: Database, world: World) -> None:
    tenant = world.acme.tenant_id
    route = {"provider_id": world.acme.provider_id, "deployment_id": "dep-a"}
    await add_calls(
        database,
        old_call(tenant, "c1", at(0, 5), input_tokens=10, output_tokens=5, cost_usd=0.1,
                 latency_ms=100.0, ttft_ms=20.0, token_id=world.acme.token_id, **route),
        old_call(tenant, "c2", at(0, 40), input_tokens=20, output_tokens=5, cost_usd=0.2,
                 latency_ms=300.0, status="failed", token_id=world.acme.token_id, **route),
        old_call(tenant, "c3", at(1, 10), model="embed", input_tokens=7, cost_usd=0.3,
                 latency_ms=50.0, token_id=world.acme.token_id, provider_id="other",
                 deployment_id="dep-b"),
        old_call(tenant, "c4", at(2, 0), status="refused", token_id=world.acme.token_id),
        old_call(tenant, "c5", at(30, 0), input_tokens=1, cost_usd=0.7, latency_ms=10.0,
                 token_id=world.acme.token_id, **route),
    )  # fmt: skip


async def _roll(database: Database) -> None:
    async with database.session() as session:
        await rollup_hours(session, until=datetime.now(UTC), retention=RETENTION)
        await session.commit()


async def _series(admin: httpx.AsyncClient, world: World, **params: str) -> dict[str, Any]:
    query = {"since": iso(at(0)), "until": iso(at(48)), **params}
    resp = await admin.get(
        f"/tenants/{world.acme.tenant_id}/usage/series",
        params=query,
        headers=world["viewer"].headers,
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _groups(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["key"]: g for g in body["groups"]}


@pytest.mark.parametrize("rolled", [False, True])
async def test_series_by_model_per_hour_from_calls_or_rollups(
    admin: httpx.AsyncClient, world: World, database: Database, rolled: bool
) -> None:
    await _seed(database, world)
    if rolled:
        await _roll(database)

    body = await _series(admin, world, by="model", bucket="hour")

    assert body["latency_statistic"] == "mean"
    assert len(body["buckets"]) == 48
    chat = _groups(body)["chat"]
    assert chat["total"]["requests"] == 4
    assert chat["total"]["failed"] == 1
    assert chat["total"]["refused"] == 1
    assert chat["total"]["cost_usd"] == pytest.approx(1.0)
    first = chat["points"][0]
    assert first["bucket"] == iso(at(0))
    assert (first["requests"], first["failed"], first["input_tokens"]) == (2, 1, 30)
    assert first["error_rate"] == 0.5
    assert first["latency_ms_mean"] == pytest.approx(200.0)
    assert first["ttft_ms_mean"] == pytest.approx(20.0)
    assert [p["bucket"] for p in chat["points"]] == [iso(at(0)), iso(at(2)), iso(at(30))]
    assert _groups(body)["embed"]["total"]["requests"] == 1


async def test_rollups_keep_provider_deployment_and_latency_and_agree_with_usage_hourly(
    database: Database, world: World
) -> None:
    await _seed(database, world)
    await _roll(database)

    async with database.session() as session:
        routes = (await session.exec(select(UsageRouteHour))).all()
        hours = (await session.exec(select(UsageHour))).all()
    assert sum(r.calls for r in routes) == sum(h.calls for h in hours) == 5
    assert sum(r.cost_usd for r in routes) == pytest.approx(sum(h.cost_usd for h in hours))
    first = next(r for r in routes if r.hour == at(0))
    assert (first.provider_id, first.deployment_id) == (world.acme.provider_id, "dep-a")
    assert (first.latency_ms_sum, first.latency_count, first.ttft_count) == (400.0, 2, 1)
    refused = next(r for r in routes if r.hour == at(2))
    assert (refused.provider_id, refused.deployment_id) == ("", "")


@pytest.mark.parametrize("rolled", [False, True])
async def test_series_by_provider_and_deployment_per_day(
    admin: httpx.AsyncClient, world: World, database: Database, rolled: bool
) -> None:
    await _seed(database, world)
    if rolled:
        await _roll(database)

    providers = _groups(await _series(admin, world, by="provider", bucket="day"))
    deployments = _groups(await _series(admin, world, by="deployment", bucket="day"))

    ours = providers[world.acme.provider_id]
    assert ours["name"] == "mock-openai"
    assert ours["total"]["requests"] == 3
    assert ours["total"]["latency_ms_mean"] == pytest.approx((100 + 300 + 10) / 3)
    assert [p["requests"] for p in ours["points"]] == [2, 1]  # day 0, day 1
    assert providers["other"]["name"] is None  # no such provider (any more)
    assert providers[""]["total"]["refused"] == 1
    assert deployments["dep-b"]["total"]["requests"] == 1


async def test_series_by_token_names_the_key(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    await _seed(database, world)
    await _roll(database)

    body = await _series(admin, world, by="token", bucket="day")

    assert [(g["key"], g["name"]) for g in body["groups"]] == [(world.acme.token_id, "app")]


async def test_day_buckets_follow_the_time_zone(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    await _seed(database, world)

    body = await _series(admin, world, bucket="day", tz="Pacific/Kiritimati")  # UTC+14

    starts = [datetime.fromisoformat(b) for b in body["buckets"]]
    assert all(s.hour == 10 for s in starts)  # local midnight is 10:00 UTC
    assert sum(p["requests"] for g in body["groups"] for p in g["points"]) == 5


async def test_the_csv_has_one_row_per_bucket_and_group(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    await _seed(database, world)
    await _roll(database)

    resp = await admin.get(
        f"/tenants/{world.acme.tenant_id}/usage/series.csv",
        params={"since": iso(at(0)), "until": iso(at(48)), "by": "model"},
        headers=world["viewer"].headers,
    )

    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert [(r["bucket"], r["group"], r["requests"]) for r in rows] == [
        (iso(at(0)), "chat", "2"),
        (iso(at(1)), "embed", "1"),
        (iso(at(2)), "chat", "1"),
        (iso(at(30)), "chat", "1"),
    ]
    assert rows[0]["cost_usd"] == "0.3"
    assert rows[0]["latency_ms_mean"] == "200.0"


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({"since": "2020-01-01", "until": "2021-01-01"}, "too_many_buckets", "bucket"),
        ({"bucket": "week"}, "invalid_request", "bucket"),
        ({"by": "colour"}, "invalid_request", "by"),
        ({"tz": "Mars/Olympus"}, "invalid_request", "tz"),
        ({"since": "2021-01-02", "until": "2021-01-01"}, "invalid_request", "since"),
    ],
)  # fmt: skip
async def test_bad_ranges_and_options_are_refused_clearly(
    admin: httpx.AsyncClient, world: World, params: dict[str, str], code: str, field: str
) -> None:
    resp = await admin.get(
        f"/tenants/{world.acme.tenant_id}/usage/series",
        params=params,
        headers=world["viewer"].headers,
    )

    assert resp.status_code in (400, 422)
    assert resp.json()["error"]["code"] == code
    assert resp.json()["error"]["field"] == field


async def test_outsiders_do_not_see_the_series(admin: httpx.AsyncClient, world: World) -> None:
    resp = await admin.get(
        f"/tenants/{world.acme.tenant_id}/usage/series", headers=world["outsider"].headers
    )

    assert resp.status_code == 404


async def test_the_upgrade_fills_the_route_rollups_as_the_job_would(
    database: Database, world: World
) -> None:
    await _seed(database, world)
    await _roll(database)
    async with database.session() as session:
        expected = sorted(
            (r.hour, r.model, r.provider_id, r.deployment_id, r.calls, r.cost_usd, r.latency_count)
            for r in (await session.exec(select(UsageRouteHour))).all()
        )
        # an hour whose calls were pruned: only usage_hourly remembers it
        session.add(UsageHour(tenant_id=world.acme.tenant_id, hour=at(-5), model="chat",
                              token_id="gone", calls=3, cost_usd=0.5))  # fmt: skip
        await session.commit()

    await _downgrade(database, "0015")
    await upgrade(database.engine)

    async with database.session() as session:
        found = sorted(
            (r.hour, r.model, r.provider_id, r.deployment_id, r.calls, r.cost_usd, r.latency_count)
            for r in (await session.exec(select(UsageRouteHour))).all()
        )
    assert found == sorted([*expected, (at(-5), "chat", "", "", 3, 0.5, 0)])
