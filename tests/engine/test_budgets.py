"""Spending caps: every call holds its worst case before it is forwarded, and settles after.

Prices here are $1000 per million tokens in and out, so one token is $0.001.
A call's worst case is one input token per 4 body bytes plus its max_tokens;
the mock answers "hi" with 1 input and 6 output tokens: $0.007 a call.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import time

import pytest

from junction_contracts import ModelRoute, Pricing, Route, TokenRoute
from junction_engine.budgets import SpendLedger
from junction_engine.client_keys import hash_key
from junction_engine.redis_lane import RedisLane
from junction_engine.reservations import Account, Reservations, worst_case_usd
from tests.engine.conftest import KEY, MOCK_KEY, build_engine
from tests.support.routes import deployment, model_route

HELLO = [{"role": "user", "content": "hi"}]
CALL = {"model": "gpt", "messages": HELLO, "max_tokens": 6}
CALL_BYTES = len(json.dumps(CALL).encode())  # what httpx sends for json=CALL
WORST = worst_case_usd(1000.0, 1000.0, CALL_BYTES, 6)
ACTUAL = 0.007


def pricey(upstream: str = "mock-gpt") -> ModelRoute:
    return model_route(
        name="gpt",
        deployments=(deployment(upstream, key=MOCK_KEY),),
        pricing=Pricing(input_per_mtok=1000.0, output_per_mtok=1000.0),
    )


def budget_route(
    budget: float, spent: float = 0.0, *, token_id: str = "tok-b", upstream: str = "mock-gpt"
) -> Route:
    return Route(
        token=TokenRoute(
            id=token_id, tenant_id="t", name="b", prefix="jk-b", budget_usd=budget, spent_usd=spent
        ),
        models=(pricey(upstream),),
        issued_at=time.time(),
    )


def test_the_worst_case_is_the_body_estimate_plus_the_output_cap() -> None:
    assert math.isclose(WORST, (math.ceil(CALL_BYTES / 4) + 6) / 1000)
    assert WORST > ACTUAL


async def test_a_key_is_served_while_its_spend_plus_the_worst_case_fits() -> None:
    budget = 3 * ACTUAL + WORST  # three calls settle at $0.007; a fourth's worst case fits
    async with build_engine({hash_key(KEY): budget_route(budget)}) as e:
        statuses = [
            (await e.client.post("/v1/chat/completions", json=CALL)).status_code for _ in range(5)
        ]
        assert statuses == [200, 200, 200, 200, 402]
        refused = await e.client.post("/v1/chat/completions", json=CALL)
        error = refused.json()["error"]
        assert error["code"] == "insufficient_quota"
        assert error["type"] == "insufficient_quota"
        assert "budget of $" in error["message"]
        assert refused.headers["x-should-retry"] == "false"  # the SDKs must not retry it
        assert len(await e.upstream_requests()) == 4
        assert e.app.state.engine.reservations.in_flight == 0  # every hold was released


async def test_without_a_cap_the_default_output_is_held() -> None:
    # the default cap (4096 tokens) costs $4.096 at these prices: a $1 budget cannot hold it
    async with build_engine({hash_key(KEY): budget_route(1.0)}) as e:
        uncapped = await e.client.post(
            "/v1/chat/completions", json={"model": "gpt", "messages": HELLO}
        )
        assert uncapped.status_code == 402
        assert (await e.client.post("/v1/chat/completions", json=CALL)).status_code == 200


async def refused_in_anthropics_protocol(route: Route) -> None:
    """A call of `route`'s key is refused for money before any provider sees it."""
    async with build_engine({hash_key(KEY): route}) as e:
        resp = await e.client.post(
            "/v1/messages",
            headers={"anthropic-version": "2023-06-01"},
            json={"model": "gpt", "max_tokens": 5, "messages": HELLO},
        )
        assert resp.status_code == 402
        assert resp.json()["error"]["type"] == "billing_error"
        assert await e.upstream_requests() == []


async def test_spend_the_control_plane_recorded_counts_too() -> None:
    await refused_in_anthropics_protocol(budget_route(5.0, spent=5.0))


async def test_concurrent_calls_cannot_all_pass_on_the_same_money() -> None:
    """50 calls at once, a budget worth 10 worst cases: spend never passes the budget."""
    budget = 10 * WORST
    route = budget_route(budget, upstream="mock-gpt+latency=100")
    async with build_engine({hash_key(KEY): route}) as e:
        answers = await asyncio.gather(
            *(e.client.post("/v1/chat/completions", json=CALL) for _ in range(50))
        )
        served = sum(r.status_code == 200 for r in answers)
        assert {r.status_code for r in answers} <= {200, 402}
        # all 50 were in flight together: only 10 worst cases fit at once
        assert served == 10
        spent = e.app.state.engine.reservations.spend.since("key:tok-b", 0)
        assert spent <= budget
        assert math.isclose(spent, served * ACTUAL)


@pytest.mark.redis
async def test_three_engines_share_one_budget_through_redis(redis_url: str) -> None:
    token_id = "tok-" + secrets.token_hex(6)  # Redis outlives test runs: an account of its own
    budget = 10 * WORST
    routes = {
        hash_key(KEY): budget_route(budget, token_id=token_id, upstream="mock-gpt+latency=100")
    }
    async with (
        build_engine(routes, redis_url=redis_url) as a,
        build_engine(routes, redis_url=redis_url) as b,
        build_engine(routes, redis_url=redis_url) as c,
    ):
        engines = (a, b, c)
        answers = await asyncio.gather(
            *(engines[n % 3].client.post("/v1/chat/completions", json=CALL) for n in range(50))
        )
        served = sum(r.status_code == 200 for r in answers)
        assert served == 10  # one Redis script per admission: no replica saw stale money
        for engine in engines:
            await engine.app.state.engine.reservations.flush()
        lane = RedisLane(redis_url)
        try:
            key = f"junction:money:v1:{{t}}:key:{token_id}"
            spent = int(await lane.call("GET", f"{key}:spent")) / 1e9
            held = int(await lane.call("GET", f"{key}:held"))
        finally:
            await lane.aclose()
        assert math.isclose(spent, served * ACTUAL, rel_tol=1e-6)
        assert held == 0  # every hold was settled


async def test_a_hold_that_was_never_settled_lapses_at_its_deadline() -> None:
    now = [1000.0]
    reservations = Reservations(None, hold_seconds=120, clock=lambda: now[0])
    account = Account("key:k", "t", "this API key's budget", 1.0, 0.0, since=999.0)
    assert await reservations.reserve("call-1", [account], 0.8) is None
    short = await reservations.reserve("call-2", [account], 0.5)
    assert short is not None
    assert math.isclose(short.held_usd, 0.8)
    now[0] += 121  # the engine serving call-1 never ended it
    assert await reservations.reserve("call-2", [account], 0.5) is None


@pytest.mark.redis
async def test_redis_starts_again_from_the_control_planes_figure(redis_url: str) -> None:
    lane = RedisLane(redis_url)
    reservations = Reservations(lane, hold_seconds=120)
    fresh = Account("key:" + secrets.token_hex(6), "t", "budget", 1.0, 0.0, since=time.time())
    try:
        assert await reservations.reserve("c1", [fresh], 0.5) is None
        reservations.settle("c1", 0.25)
        await reservations.flush()
        # the database knows of more spend than Redis (calls during a Redis outage)
        known = Account(fresh.id, "t", "budget", 1.0, 0.9, since=time.time())
        short = await reservations.reserve("c2", [known], 0.2)
        assert short is not None
        assert math.isclose(short.spent_usd, 0.9)
    finally:
        await lane.aclose()


def test_the_ledger_counts_only_what_came_after_the_route() -> None:
    now = [1000.0]
    ledger = SpendLedger(clock=lambda: now[0])
    ledger.add("k", 1.0)
    now[0] = 1010.0
    ledger.add("k", 2.0)
    assert ledger.since("k", 1005.0) == 2.0
    assert ledger.since("k", 0.0) == 3.0


def credit_route(
    billing: str, granted: float, charged: float = 0.0, limit: float | None = None
) -> Route:
    tenant = "ten-" + secrets.token_hex(4)
    return Route(
        token=TokenRoute(
            id="tok-" + secrets.token_hex(4),
            tenant_id=tenant,
            name="c",
            prefix="jk-c",
            billing=billing,  # type: ignore[arg-type]
            credit_granted_usd=granted,
            credit_charged_usd=charged,
            credit_limit_usd=limit,
        ),
        models=(pricey(),),
        issued_at=time.time(),
    )


async def test_a_prepaid_tenant_is_served_while_its_balance_covers_the_worst_case() -> None:
    route = credit_route("prepaid", granted=1.0, charged=1.0 - (2 * ACTUAL + WORST))
    async with build_engine({hash_key(KEY): route}) as e:
        statuses = [
            (await e.client.post("/v1/chat/completions", json=CALL)).status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 402]
        refused = await e.client.post("/v1/chat/completions", json=CALL)
        assert "prepaid credit" in refused.json()["error"]["message"]
        assert len(await e.upstream_requests()) == 3


async def test_a_tenant_without_credit_is_refused_before_any_provider_call() -> None:
    # a balance of -$1.08: never granted anything
    await refused_in_anthropics_protocol(credit_route("prepaid", granted=0.0, charged=1.08))


async def test_postpaid_is_served_below_zero_down_to_its_limit() -> None:
    unlimited = credit_route("postpaid", granted=0.0, charged=50.0)
    async with build_engine({hash_key(KEY): unlimited}) as e:
        assert (await e.client.post("/v1/chat/completions", json=CALL)).status_code == 200
    limited = credit_route("postpaid", granted=0.0, charged=0.0, limit=ACTUAL + WORST)
    async with build_engine({hash_key(KEY): limited}) as e:
        statuses = [
            (await e.client.post("/v1/chat/completions", json=CALL)).status_code for _ in range(3)
        ]
        assert statuses == [200, 200, 402]


@pytest.mark.redis
async def test_a_prepaid_balance_holds_across_three_engines(redis_url: str) -> None:
    route = credit_route("prepaid", granted=10 * WORST)
    route = Route(
        token=route.token, models=(pricey("mock-gpt+latency=100"),), issued_at=route.issued_at
    )
    key = "jk-credit-" + secrets.token_hex(8)  # Redis shares routes across tests
    routes = {hash_key(key): route}
    auth = {"authorization": f"Bearer {key}"}
    async with (
        build_engine(routes, redis_url=redis_url) as a,
        build_engine(routes, redis_url=redis_url) as b,
        build_engine(routes, redis_url=redis_url) as c,
    ):
        engines = (a, b, c)
        answers = await asyncio.gather(
            *(
                engines[n % 3].client.post("/v1/chat/completions", json=CALL, headers=auth)
                for n in range(50)
            )
        )
        assert sum(r.status_code == 200 for r in answers) == 10
        assert {r.status_code for r in answers} == {200, 402}
