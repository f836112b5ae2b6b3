"""Two control replicas behind the same engines share one replay cache, in Redis.

A signed call answered by one replica is refused as a replay by the other;
with Redis unreachable a signed call is refused (503), never let through on
one replica's memory alone.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import httpx
import redis.asyncio as aioredis

from junction_contracts.signing import sign
from junction_control.app import create_internal_app
from junction_control.db import Database
from junction_control.internal.replays import NONCE_KEY_PREFIX
from junction_control.settings import ControlSettings
from tests.support.stack import free_port

from .conftest import RESOLVE_PATH

BODY = json.dumps({"token_hash": "0" * 64}, separators=(",", ":")).encode()


@asynccontextmanager
async def replica(
    settings: ControlSettings, database: Database
) -> AsyncIterator[httpx.AsyncClient]:
    """One replica's internal API (its own verifier and replay cache client)."""
    app = create_internal_app(settings, database=database)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://control") as c,
    ):
        yield c


def signed_headers(settings: ControlSettings) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    headers.update(sign(settings.internal_secret, "POST", RESOLVE_PATH, BODY))
    return headers


async def test_a_call_one_replica_took_is_a_replay_on_the_other(
    settings: ControlSettings, database: Database, redis_url: str
) -> None:
    shared = replace(settings, redis_url=redis_url)
    headers = signed_headers(shared)
    async with replica(shared, database) as a, replica(shared, database) as b:
        first = await a.post(RESOLVE_PATH, content=BODY, headers=headers)
        again = await b.post(RESOLVE_PATH, content=BODY, headers=headers)
        fresh = await b.post(RESOLVE_PATH, content=BODY, headers=signed_headers(shared))
    assert first.status_code == 404  # signed and new: answered (no key has this hash)
    assert again.status_code == 401
    assert again.json()["error"] == {"code": "bad_signature", "message": "replayed request"}
    assert fresh.status_code == 404
    # the claim outlives the signature window on both sides of the timestamp
    client = aioredis.Redis.from_url(redis_url)
    try:
        ttl = await client.ttl(NONCE_KEY_PREFIX + headers["x-junction-nonce"])
    finally:
        await client.aclose()
    assert 60 < ttl <= 61


async def test_without_redis_each_replica_remembers_only_what_it_saw(
    settings: ControlSettings, database: Database
) -> None:
    # one process is the documented setup without Redis; two would not share
    assert settings.redis_url is None
    headers = signed_headers(settings)
    async with replica(settings, database) as a, replica(settings, database) as b:
        assert (await a.post(RESOLVE_PATH, content=BODY, headers=headers)).status_code == 404
        assert (await a.post(RESOLVE_PATH, content=BODY, headers=headers)).status_code == 401
        assert (await b.post(RESOLVE_PATH, content=BODY, headers=headers)).status_code == 404


async def test_an_unreachable_replay_cache_refuses_signed_calls_with_503(
    settings: ControlSettings, database: Database
) -> None:
    # nothing listens there: connection refused
    down = replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with replica(down, database) as a:
        answers = [
            await a.post(RESOLVE_PATH, content=BODY, headers=signed_headers(down)) for _ in range(2)
        ]
        unsigned = await a.post(RESOLVE_PATH, content=BODY)
        metrics = (await a.get("/metrics")).text
    for answer in answers:
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "replay_check_unavailable"
    # the signature is still checked first: an unsigned call is a 401, as ever
    assert unsigned.status_code == 401
    assert 'junction_control_internal_rejected_total{reason="replay check unavailable"} 2.0' in (
        metrics
    )
