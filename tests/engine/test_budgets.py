"""Spending caps: a key over its budget is refused with insufficient_quota."""

from __future__ import annotations

import time

from junction_contracts import ModelRoute, Pricing, Route, TokenRoute
from junction_engine.budgets import SpendLedger
from junction_engine.client_keys import hash_key
from tests.engine.conftest import KEY, MOCK_KEY, build_engine
from tests.support.routes import deployment

HELLO = [{"role": "user", "content": "hi"}]
# 1 input + 6 output tokens at $1000 / $1000 per Mtok: $0.007 a call
PRICEY = ModelRoute(
    name="gpt",
    deployments=(deployment("mock-gpt", key=MOCK_KEY),),
    pricing=Pricing(input_per_mtok=1000.0, output_per_mtok=1000.0),
)


def budget_route(budget: float, spent: float = 0.0) -> Route:
    return Route(
        token=TokenRoute(
            id="tok-b", tenant_id="t", name="b", prefix="jk-b", budget_usd=budget, spent_usd=spent
        ),
        models=(PRICEY,),
        issued_at=time.time(),
    )


async def test_a_key_is_refused_once_its_own_calls_reach_the_budget() -> None:
    async with build_engine({hash_key(KEY): budget_route(0.01)}) as e:
        statuses = []
        for _ in range(3):
            resp = await e.client.post(
                "/v1/chat/completions", json={"model": "gpt", "messages": HELLO}
            )
            statuses.append(resp.status_code)
        # $0.007 spent after one call, $0.014 after two: the third is refused
        assert statuses == [200, 200, 402]
        error = resp.json()["error"]
        assert error["code"] == "insufficient_quota"
        assert error["type"] == "insufficient_quota"
        assert len(await e.upstream_requests()) == 2


async def test_spend_the_control_plane_recorded_counts_too() -> None:
    async with build_engine({hash_key(KEY): budget_route(5.0, spent=5.0)}) as e:
        resp = await e.client.post(
            "/v1/messages",
            headers={"anthropic-version": "2023-06-01"},
            json={"model": "gpt", "max_tokens": 5, "messages": HELLO},
        )
        assert resp.status_code == 402
        assert resp.json()["error"]["type"] == "billing_error"
        assert await e.upstream_requests() == []


def test_the_ledger_counts_only_what_came_after_the_route() -> None:
    now = [1000.0]
    ledger = SpendLedger(clock=lambda: now[0])
    ledger.add("k", 1.0)
    now[0] = 1010.0
    ledger.add("k", 2.0)
    route = Route(
        token=TokenRoute(id="k", tenant_id="t", name="n", prefix="p", budget_usd=10, spent_usd=1.0),
        models=(),
        issued_at=1005.0,
    )
    assert ledger.spent(route) == 3.0  # 1.0 recorded by control + 2.0 since the route
