"""Requests and tokens per minute, per key, across replicas when Redis is there."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest

from junction_engine.client_keys import hash_key
from junction_engine.rate_limits import RateLimiter
from junction_engine.redis_lane import RedisLane
from tests.engine.conftest import KEY, MOCK_KEY, build_engine
from tests.support.routes import deployment, model_route, route

HELLO = [{"role": "user", "content": "hi"}]


class Clock:
    def __init__(self) -> None:
        self.now = 6000.0  # the start of a window

    def __call__(self) -> float:
        return self.now


async def _allowed(limiter: RateLimiter, key: str, rpm: int | None, tpm: int | None = None) -> bool:
    return await limiter.admit(key, rpm, tpm) is None


async def test_requests_per_minute_slide_with_the_window() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    verdicts = [await limiter.admit("k", 3, None) for _ in range(4)]
    assert verdicts[:3] == [None, None, None]
    refused = verdicts[-1]
    assert refused is not None
    assert refused.kind == "requests"
    assert refused.verdict.limit == 3
    assert 0 < refused.verdict.retry_after <= 60
    clock.now += 60  # the next window: the previous one still weighs fully
    assert not await _allowed(limiter, "k", 3)
    clock.now += 30  # half of it has slid out: 1.5 used
    assert await _allowed(limiter, "k", 3)
    assert await limiter.admit("k", None, None) is None  # no limit, nothing counted


async def test_tokens_per_minute_count_finished_calls() -> None:
    limiter = RateLimiter(clock=Clock())
    assert await _allowed(limiter, "k", None, 100)
    limiter.add_tokens("k", 60)
    limiter.add_tokens("k", 50)
    await limiter.flush()
    refused = await limiter.admit("k", 1000, 100)
    assert refused is not None
    assert refused.kind == "tokens"
    assert refused.verdict.retry_after > 0
    # a refusal for tokens counts no request
    assert await _allowed(limiter, "k", 1)


@pytest.mark.redis
async def test_replicas_share_one_limit_through_redis(lane: RedisLane) -> None:
    key = "k-" + secrets.token_hex(6)
    a, b = RateLimiter(lane), RateLimiter(lane)
    allowed = [await _allowed(limiter, key, 4) for limiter in (a, b, a, b, a, b)]
    assert allowed == [True, True, True, True, False, False]


@pytest.mark.redis
async def test_concurrent_admissions_never_pass_the_limit(lane: RedisLane) -> None:
    """One script per admission: 50 at once against rpm 10 across two replicas admit 10."""
    key = "k-" + secrets.token_hex(6)
    a, b = RateLimiter(lane), RateLimiter(lane)
    answers = await asyncio.gather(
        *((a if n % 2 else b).admit(key, 10, 1_000_000) for n in range(50))
    )
    assert sum(answer is None for answer in answers) == 10


@pytest.mark.redis
async def test_tokens_of_calls_finishing_together_go_in_one_batch(lane: RedisLane) -> None:
    key = "k-" + secrets.token_hex(6)
    a, b = RateLimiter(lane), RateLimiter(lane)
    assert await a.admit(key, None, 10**6) is None  # connected (any SELECT is sent now)
    sent: list[int] = []
    real = lane.pipeline

    def counting_pipeline(*args: Any, **kwargs: Any) -> Any:
        sent.append(1)
        return real(*args, **kwargs)

    lane.pipeline = counting_pipeline  # type: ignore[method-assign]
    for _ in range(30):
        a.add_tokens(key, 10)  # the same loop turn: one batch, one round trip
    await a.flush()
    assert len(sent) == 1
    # the other replica sees them: 300 tokens, a limit of 300 is reached
    refused = await b.admit(key, None, 300)
    assert refused is not None
    assert refused.kind == "tokens"
    assert await b.admit(key, None, 301) is None


async def test_redis_down_falls_back_to_local_counters() -> None:
    dead = RedisLane("redis://127.0.0.1:1/0", timeout=0.2)
    try:
        limiter = RateLimiter(dead)
        allowed = [await _allowed(limiter, "k", 2) for _ in range(3)]
        limiter.add_tokens("k", 50)
        await limiter.flush()  # Redis refused the batch: counted here instead
        tokens_refused = await limiter.admit("k", None, 50)
    finally:
        await dead.aclose()
    assert allowed == [True, True, False]
    assert tokens_refused is not None
    assert tokens_refused.kind == "tokens"


def limited_route(**limits: int) -> dict[str, object]:
    model = model_route(name="gpt", deployments=(deployment("mock-gpt", key=MOCK_KEY),))
    return {hash_key(KEY): route(model, token_id="tok-" + secrets.token_hex(4), **limits)}


async def test_over_rpm_is_a_429_in_each_protocol_with_retry_after() -> None:
    async with build_engine(limited_route(rpm=2)) as e:  # type: ignore[arg-type]
        for _ in range(2):
            ok = await e.client.post(
                "/v1/chat/completions", json={"model": "gpt", "messages": HELLO}
            )
            assert ok.status_code == 200
        refused = await e.client.post(
            "/v1/chat/completions", json={"model": "gpt", "messages": HELLO}
        )
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "requests_per_minute_exceeded"
        assert refused.json()["error"]["type"] == "rate_limit_error"
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["x-ratelimit-limit-requests"] == "2"
        anthropic = await e.client.post(
            "/v1/messages",
            headers={"anthropic-version": "2023-06-01"},
            json={"model": "gpt", "max_tokens": 5, "messages": HELLO},
        )
        assert anthropic.status_code == 429
        assert anthropic.json()["error"]["type"] == "rate_limit_error"
        assert len(await e.upstream_requests()) == 2  # refused calls never reach a provider


async def test_over_tpm_is_refused_until_the_window_slides() -> None:
    async with build_engine(limited_route(tpm=5)) as e:  # type: ignore[arg-type]
        first = await e.client.post(
            "/v1/chat/completions", json={"model": "gpt", "messages": HELLO}
        )
        assert first.status_code == 200
        assert first.json()["usage"]["total_tokens"] > 5
        limiter: RateLimiter = e.app.state.engine.limits
        await limiter.flush()
        second = await e.client.post(
            "/v1/chat/completions", json={"model": "gpt", "messages": HELLO}
        )
        assert second.status_code == 429
        assert second.json()["error"]["code"] == "tokens_per_minute_exceeded"


@pytest.mark.redis
async def test_two_engines_enforce_one_rpm_through_redis(redis_url: str) -> None:
    key = "jk-rpm-" + secrets.token_hex(8)  # Redis outlives test runs: a key of its own
    model = model_route(name="gpt", deployments=(deployment("mock-gpt", key=MOCK_KEY),))
    routes = {hash_key(key): route(model, token_id="tok-" + secrets.token_hex(4), rpm=3)}
    async with (
        build_engine(routes, redis_url=redis_url) as a,
        build_engine(routes, redis_url=redis_url) as b,
    ):
        statuses = []
        for engine in (a, b, a, b):
            resp = await engine.client.post(
                "/v1/chat/completions",
                json={"model": "gpt", "messages": HELLO},
                headers={"authorization": f"Bearer {key}"},
            )
            statuses.append(resp.status_code)
    assert statuses == [200, 200, 200, 429]
