"""Requests and tokens per minute, per key, across replicas when Redis is there."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from junction_contracts import ModelRoute
from junction_engine.client_keys import hash_key
from junction_engine.rate_limits import RateLimiter
from tests.engine.conftest import KEY, MOCK_KEY, build_engine
from tests.support.routes import deployment, route

HELLO = [{"role": "user", "content": "hi"}]


class Clock:
    def __init__(self) -> None:
        self.now = 6000.0  # the start of a window

    def __call__(self) -> float:
        return self.now


async def test_requests_per_minute_slide_with_the_window() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    verdicts = [await limiter.admit_request("k", 3) for _ in range(4)]
    assert [v.allowed for v in verdicts if v] == [True, True, True, False]
    refused = verdicts[-1]
    assert refused is not None
    assert 0 < refused.retry_after <= 60
    clock.now += 60  # the next window: the previous one still weighs fully
    assert not (await limiter.admit_request("k", 3)).allowed  # type: ignore[union-attr]
    clock.now += 30  # half of it has slid out: 1.5 used
    assert (await limiter.admit_request("k", 3)).allowed  # type: ignore[union-attr]
    assert await limiter.admit_request("k", None) is None  # no limit, nothing counted


async def test_tokens_per_minute_count_finished_calls() -> None:
    limiter = RateLimiter(clock=Clock())
    assert (await limiter.check_tokens("k", 100)).allowed  # type: ignore[union-attr]
    limiter.add_tokens("k", 60)
    limiter.add_tokens("k", 50)
    for task in list(limiter._pending):
        await task
    verdict = await limiter.check_tokens("k", 100)
    assert verdict is not None
    assert not verdict.allowed
    assert verdict.retry_after > 0


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.mark.redis
async def test_replicas_share_one_limit_through_redis(redis: Redis) -> None:
    key = "k-" + secrets.token_hex(6)
    a, b = RateLimiter(redis), RateLimiter(redis)
    allowed = [
        (await limiter.admit_request(key, 4)).allowed  # type: ignore[union-attr]
        for limiter in (a, b, a, b, a, b)
    ]
    assert allowed == [True, True, True, True, False, False]


async def test_redis_down_falls_back_to_local_counters() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        limiter = RateLimiter(dead)
        allowed = [
            (await limiter.admit_request("k", 2)).allowed  # type: ignore[union-attr]
            for _ in range(3)
        ]
    finally:
        await dead.aclose()
    assert allowed == [True, True, False]


def limited_route(**limits: int) -> dict[str, object]:
    model = ModelRoute(name="gpt", deployments=(deployment("mock-gpt", key=MOCK_KEY),))
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
        for task in list(limiter._pending):
            await task
        second = await e.client.post(
            "/v1/chat/completions", json={"model": "gpt", "messages": HELLO}
        )
        assert second.status_code == 429
        assert second.json()["error"]["code"] == "tokens_per_minute_exceeded"


@pytest.mark.redis
async def test_two_engines_enforce_one_rpm_through_redis(redis_url: str) -> None:
    key = "jk-rpm-" + secrets.token_hex(8)  # Redis outlives test runs: a key of its own
    model = ModelRoute(name="gpt", deployments=(deployment("mock-gpt", key=MOCK_KEY),))
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
