"""The engine's /metrics: every family the README lists, with its labels, and nothing secret.

The README's table is the list: each documented family must appear in a
real scrape (after calls that give its labels values) with exactly the
labels documented, and every `junction_engine_` family scraped must be in
the table. A failover and a shed request move their counters.
"""

from __future__ import annotations

import asyncio
import secrets

from junction_engine.client_keys import hash_key
from tests.engine.conftest import KEY, MOCK_KEY, EngineHarness, build_engine
from tests.support.metrics_text import assert_matches_readme, samples, value
from tests.support.routes import deployment, model_route, route

HELLO = [{"role": "user", "content": "hello there"}]


def chain_route(token_id: str = "tok-1"):  # type: ignore[no-untyped-def]
    return route(
        model_route(name="gpt", deployments=(deployment("mock-gpt", key=MOCK_KEY, id="dep-gpt"),)),
        model_route(
            name="chain",
            deployments=(
                deployment("mock-gpt+fault=503", key=MOCK_KEY, priority=0, id="dep-0"),
                deployment("mock-gpt", key=MOCK_KEY, priority=1, id="dep-1"),
            ),
        ),
        model_route(
            name="slow",
            deployments=(deployment("mock-gpt+latency=800", key=MOCK_KEY, id="dep-slow"),),
        ),
        token_id=token_id,
    )


async def chat(e: EngineHarness, model: str, **body: object) -> int:
    resp = await e.client.post(
        "/v1/chat/completions", json={"model": model, "messages": HELLO, **body}
    )
    await resp.aread()
    return resp.status_code


async def scrape(e: EngineHarness) -> str:
    resp = await e.client.get("/metrics")
    assert resp.status_code == 200
    return resp.text


async def test_every_documented_engine_family_is_exposed_with_its_labels() -> None:
    async with build_engine({hash_key(KEY): chain_route()}) as e:
        assert await chat(e, "gpt") == 200
        assert await chat(e, "gpt", stream=True) == 200
        assert await chat(e, "chain") == 200
        images = await e.client.post(
            "/v1/images/generations", json={"model": "gpt", "prompt": "a cat", "size": "256x256"}
        )
        assert images.status_code == 200
        refused = await e.client.post(
            "/v1/chat/completions",
            json={"model": "gpt", "messages": HELLO},
            headers={"authorization": "Bearer jk-not-a-key"},
        )
        assert refused.status_code == 401
        await e.app.state.engine.telemetry.flush()
        text = await scrape(e)

    assert_matches_readme(text, "junction_engine_")
    # prometheus-client's own collectors ride on the engine's registry
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "python_info"):
        assert name in samples(text), name
    # two chats and the image call
    assert value(text, "junction_engine_requests_total", model="gpt", code="200") == 3
    assert value(text, "junction_engine_ttft_seconds_count", model="gpt") >= 1
    assert value(text, "junction_engine_refusals_total", code="invalid_api_key") == 1
    assert value(text, "junction_engine_route_cache_lookups_total", result="hit") >= 3
    assert value(text, "junction_engine_telemetry_sent_total") >= 4


async def test_a_failover_moves_the_failover_counter_of_the_deployment_left() -> None:
    async with build_engine({hash_key(KEY): chain_route()}) as e:
        assert await chat(e, "gpt") == 200
        before = await scrape(e)
        assert await chat(e, "chain") == 200
        after = await scrape(e)

    failover = {"deployment": "dep-0", "reason": "upstream_error"}
    assert value(before, "junction_engine_failovers_total", **failover) == 0
    assert value(after, "junction_engine_failovers_total", **failover) == 1
    assert value(after, "junction_engine_failovers_total") == 1  # the answer was no failover
    attempts = "junction_engine_upstream_attempts_total"
    failed = {"deployment": "dep-0", "outcome": "failed", "reason": "upstream_error"}
    assert value(after, attempts, **failed) == 1
    assert value(after, attempts, deployment="dep-1", outcome="answered", reason="none") == 1
    assert value(after, attempts, provider="prov-openai") == 3
    assert (
        value(
            after,
            "junction_engine_requests_total",
            model="chain",
            deployment="dep-1",
            status="success",
            code="200",
        )
        == 1
    )
    assert value(after, "junction_engine_breaker_state", kind="deployment", id="dep-0") == 0


async def test_a_request_shed_at_the_in_flight_cap_moves_the_shed_counter() -> None:
    async with build_engine({hash_key(KEY): chain_route()}, max_in_flight=1) as e:
        admission = e.app.state.engine.admission
        held = asyncio.create_task(chat(e, "slow"))
        for _ in range(500):
            if admission.in_flight == 1:
                break
            await asyncio.sleep(0.005)
        assert admission.in_flight == 1
        shed = await e.client.post("/v1/chat/completions", json={"model": "gpt", "messages": HELLO})
        during = await scrape(e)
        assert await held == 200
        after = await scrape(e)

    assert shed.status_code == 503
    assert shed.json()["error"]["code"] == "overloaded"
    assert value(during, "junction_engine_requests_in_flight") == 1
    assert value(after, "junction_engine_shed_total", reason="in_flight_cap") == 1
    assert value(after, "junction_engine_shed_total", reason="no_healthy_deployment") == 0
    assert value(after, "junction_engine_requests_shed_total") == 1  # the older name agrees
    assert value(after, "junction_engine_requests_total", model="gpt") == 0  # never forwarded


async def test_no_token_key_or_path_a_client_sent_appears_in_any_label() -> None:
    token_id = f"tok-{secrets.token_hex(8)}"
    path = f"/v1/{secrets.token_hex(6)}"
    async with build_engine({hash_key(KEY): chain_route(token_id)}) as e:
        assert await chat(e, "chain") == 200
        assert (await e.client.post(path, json={})).status_code == 404
        assert (await e.client.get(f"/v1/models/{secrets.token_hex(6)}")).status_code == 404
        text = await scrape(e)

    for secret in (token_id, KEY, hash_key(KEY), path, path.rsplit("/", 1)[1], "jk-test"):
        assert secret not in text
    labels = {v for seen in samples(text).values() for lbl in seen for v in lbl.values()}
    assert not any(v.startswith("/") for v in labels)  # no path of any kind
