"""Budgets with a period: refused up to the boundary, served from it, with Redis and without.

The route carries the period's bounds; the engine's wall clock is moved by
hand, so the boundary is crossed without waiting for it. Prices are $1000
per million tokens (one token is $0.001), as in `test_budgets`.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import httpx
import pytest
from starlette.applications import Starlette

from junction_contracts import Route, TokenRoute
from junction_contracts.periods import BudgetWindow, window_at
from junction_engine.app import create_app
from junction_engine.client_keys import hash_key
from junction_engine.redis_lane import RedisLane
from junction_engine.reservations import Account, Reservations
from junction_engine.settings import EngineSettings
from junction_mockllm.app import create_app as create_mock_app
from tests.engine.test_budgets import ACTUAL, CALL, WORST, pricey
from tests.support.routes import SECRET, FakeControl

# a winter day in New York: the period ends at 05:00 UTC
NOON = 1_768_478_400.0  # 2026-01-15T12:00:00Z
DAY = window_at("daily", "America/New_York", NOON)


def new_key() -> str:
    """A client key of its own: with Redis, routes are shared (and outlive a run) by key hash."""
    return "jk-period-" + secrets.token_hex(8)


class Clock:
    """A wall clock the test moves."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def period_route(
    *,
    token_id: str,
    tenant_id: str,
    budget: float | None = None,
    spent: float = 0.0,
    tenant_budget: float | None = None,
    tenant_spent: float = 0.0,
    window: BudgetWindow = DAY,
) -> Route:
    return Route(
        token=TokenRoute(
            id=token_id,
            tenant_id=tenant_id,
            name=token_id,
            prefix="jk-p",
            budget_usd=budget,
            spent_usd=spent,
            budget_window=None if budget is None else window,
            tenant_budget_usd=tenant_budget,
            tenant_spent_usd=tenant_spent,
            tenant_budget_window=None if tenant_budget is None else window,
        ),
        models=(pricey(),),
        issued_at=NOON,
    )


@dataclass
class Harness:
    client: httpx.AsyncClient
    mock: httpx.AsyncClient
    app: Starlette

    async def call(self, key: str) -> httpx.Response:
        """One call of `key`, its settlement in Redis awaited (the next call sees it)."""
        response = await self.client.post(
            "/v1/chat/completions", json=CALL, headers={"authorization": f"Bearer {key}"}
        )
        await self.app.state.engine.reservations.flush()
        return response

    async def upstream_count(self) -> int:
        return len((await self.mock.get("/_mock/requests")).json()["requests"])


@asynccontextmanager
async def engine_at(
    routes: dict[str, Route], clock: Callable[[], float], redis_url: str | None = None
) -> AsyncIterator[Harness]:
    """An engine serving `routes` (by raw key) whose budget clock is `clock`."""
    mock_app = create_mock_app()
    settings = replace(
        EngineSettings(internal_secret=SECRET, control_url="http://control"), redis_url=redis_url
    )
    app = create_app(
        settings,
        upstream_transport=httpx.ASGITransport(app=mock_app),
        control_transport=FakeControl({hash_key(k): r for k, r in routes.items()}).transport(),
        wall_clock=clock,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://engine"
        ) as client,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=mock_app), base_url="http://mock"
        ) as mock,
    ):
        yield Harness(client, mock, app)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def redis_or_not(request: pytest.FixtureRequest) -> str | None:
    """Each test runs on the engine's own counters, then on shared Redis ones."""
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("redis_url")
    return url


async def test_a_spent_daily_budget_is_refused_before_the_boundary_and_served_from_it(
    redis_or_not: str | None,
) -> None:
    # the control plane says the key spent its whole day's budget
    route = period_route(
        token_id="tok-" + secrets.token_hex(4),
        tenant_id="ten-" + secrets.token_hex(4),
        budget=1.0,
        spent=1.0,
    )
    clock = Clock(DAY.end - 0.001)
    key = new_key()
    async with engine_at({key: route}, clock, redis_or_not) as engine:
        refused = await engine.call(key)
        clock.now = DAY.end  # 05:00:00 UTC: midnight in New York
        served = await engine.call(key)
        count = await engine.upstream_count()

    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "insufficient_quota"
    assert "daily budget of $1.00 (it resets at 2026-01-16T05:00:00Z)" in error["message"]
    assert served.status_code == 200
    assert count == 1


async def test_a_new_period_counts_from_zero_and_fills_up_again(redis_or_not: str | None) -> None:
    budget = WORST + 2 * ACTUAL  # a call's worst case fits after two calls, not after three
    route = period_route(
        token_id="tok-" + secrets.token_hex(4),
        tenant_id="ten-" + secrets.token_hex(4),
        budget=budget,
    )
    clock = Clock(NOON)
    key = new_key()
    async with engine_at({key: route}, clock, redis_or_not) as engine:
        first_day = [(await engine.call(key)).status_code for _ in range(4)]
        clock.now = DAY.end + 3600
        next_day = [(await engine.call(key)).status_code for _ in range(4)]

    assert first_day == [200, 200, 200, 402]
    assert next_day == [200, 200, 200, 402]


async def test_a_tenant_budget_refuses_every_key_once_their_calls_spent_it(
    redis_or_not: str | None,
) -> None:
    tenant = "ten-" + secrets.token_hex(4)
    cap = WORST + ACTUAL / 2  # one call fits; after it, no key's worst case does
    one, two = new_key(), new_key()
    routes = {
        one: period_route(token_id="tok-a-" + tenant, tenant_id=tenant, tenant_budget=cap),
        two: period_route(token_id="tok-b-" + tenant, tenant_id=tenant, tenant_budget=cap),
    }
    clock = Clock(NOON)
    async with engine_at(routes, clock, redis_or_not) as engine:
        first = await engine.call(one)
        other = await engine.call(two)
        same = await engine.call(one)
        clock.now = DAY.end
        tomorrow = await engine.call(two)
        count = await engine.upstream_count()

    assert first.status_code == 200
    assert (other.status_code, same.status_code) == (402, 402)
    assert "the tenant's daily budget" in other.json()["error"]["message"]
    assert tomorrow.status_code == 200
    assert count == 2


async def test_the_engine_rolls_a_stale_route_forward_over_several_periods() -> None:
    clock = Clock(DAY.end + 3 * 86_400 + 10)  # the route is four days old
    reservations = Reservations(None, hold_seconds=60, clock=clock)
    account = Account("key:k", "t", "this API key's daily budget", 1.0, 1.0, NOON, DAY)
    assert await reservations.reserve("c1", [account], 0.5) is None
    reservations.settle("c1", 0.5)
    assert math.isclose(reservations.spend.since(f"key:k@{int(DAY.end + 3 * 86_400)}", 0), 0.5)


def test_the_local_figures_of_finished_periods_are_forgotten() -> None:
    clock = Clock(NOON)
    reservations = Reservations(None, hold_seconds=60, clock=clock)
    ledger = reservations.spend
    for day in range(3):
        clock.now = NOON + day * 86_400
        ledger.add(f"key:k@{day}", 0.1)
    # one account active in the last hour is all that is kept
    assert len(ledger) == 1


@pytest.mark.redis
async def test_redis_keys_of_a_period_expire_soon_after_it_ends(redis_url: str) -> None:
    lane = RedisLane(redis_url)
    clock = Clock(NOON)
    reservations = Reservations(lane, hold_seconds=960, clock=clock)
    name = "key:" + secrets.token_hex(6)
    account = Account(name, "t", "budget", 1.0, 0.0, NOON, DAY)
    try:
        assert await reservations.reserve("c1", [account], 0.2) is None
        reservations.settle("c1", 0.1)
        await reservations.flush()
        key = f"junction:money:v1:{{t}}:{name}@{int(DAY.start)}:spent"
        spent = int(await lane.call("GET", key)) / 1e9
        ttl = int(await lane.call("TTL", key))
    finally:
        await lane.aclose()
    assert math.isclose(spent, 0.1)
    # until the period's end, plus the longest hold and a minute
    assert DAY.end - NOON < ttl <= DAY.end - NOON + 960 + 60 + 1
