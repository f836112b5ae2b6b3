"""What the control plane announces to the engines when keys or their routes change."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sqlmodel import select

from junction_contracts.cache import ROUTE_KEY_PREFIX
from junction_control.app import create_admin_app
from junction_control.cli import main
from junction_control.db import Database
from junction_control.settings import ControlSettings
from junction_control.tenants import service as tenant_service
from junction_control.tokens import service as tokens
from junction_control.tokens.models import UserToken
from tests.control.conftest import World

pytestmark = pytest.mark.redis


async def _admin(
    settings: ControlSettings, database: Database, redis_url: str
) -> httpx.AsyncClient:
    app = create_admin_app(replace(settings, redis_url=redis_url), database=database)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://admin/api/v1")


async def _our_hashes(database: Database) -> set[str]:
    async with database.session() as session:
        return set((await session.exec(select(UserToken.token_hash))).all())


async def _wait(heard: list[str], count: int) -> None:
    for _ in range(100):
        if len(heard) >= count:
            return
        await asyncio.sleep(0.02)


async def test_revoking_a_token_announces_its_hash_and_drops_the_shared_route(
    settings: ControlSettings,
    database: Database,
    world: World,
    redis_url: str,
    announced: list[str],
) -> None:
    redis = Redis.from_url(redis_url)
    await redis.set(ROUTE_KEY_PREFIX + world.acme.token_hash, b"stale")
    async with await _admin(settings, database, redis_url) as admin:
        resp = await admin.post(
            f"/tenants/{world.acme.tenant_id}/tokens/{world.acme.token_id}/revoke",
            headers=world["admin"].headers,
        )
        assert resp.status_code == 200, resp.text
    await _wait(announced, 1)
    # other test runs may share this Redis: judge only this database's keys
    assert [h for h in announced if h in await _our_hashes(database)] == [world.acme.token_hash]
    assert await redis.get(ROUTE_KEY_PREFIX + world.acme.token_hash) is None
    await redis.aclose()


async def test_a_provider_change_announces_every_live_key_of_the_tenant(
    settings: ControlSettings,
    database: Database,
    world: World,
    redis_url: str,
    announced: list[str],
) -> None:
    async with database.session() as session:
        acme = await tenant_service.get_tenant(session, "acme")
        second = await tokens.create_token(session, acme, "second")
        revoked = await tokens.create_token(session, acme, "gone")
        await tokens.revoke_token(session, revoked.token)
        await session.commit()
    async with await _admin(settings, database, redis_url) as admin:
        resp = await admin.patch(
            f"/tenants/{world.acme.tenant_id}/providers/{world.acme.provider_id}",
            headers=world["admin"].headers,
            # a new base URL takes the provider's key and headers entered again
            json={
                "base_url": "http://127.0.0.1:9999/v1",
                "keys": {"default": world.acme.provider_key},
                "headers": {"x-team": "core"},
            },
        )
        assert resp.status_code == 200, resp.text
    await _wait(announced, 2)
    ours = [h for h in announced if h in await _our_hashes(database)]
    assert sorted(ours) == sorted([world.acme.token_hash, second.token.token_hash])


async def test_reads_announce_nothing(
    settings: ControlSettings,
    database: Database,
    world: World,
    redis_url: str,
    announced: list[str],
) -> None:
    async with await _admin(settings, database, redis_url) as admin:
        resp = await admin.get(
            f"/tenants/{world.acme.tenant_id}/providers", headers=world["admin"].headers
        )
        assert resp.status_code == 200
    await asyncio.sleep(0.2)
    assert [h for h in announced if h in await _our_hashes(database)] == []


async def test_a_model_write_announces_the_tenants_keys_on_every_path(
    settings: ControlSettings,
    database: Database,
    world: World,
    redis_url: str,
    announced: list[str],
    cli_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("JUNCTION_REDIS_URL", redis_url)
    ours = world.acme.token_hash

    async def heard() -> bool:
        await _wait(announced, 1)
        found = ours in announced
        announced.clear()
        return found

    async with await _admin(settings, database, redis_url) as admin:
        resp = await admin.patch(
            f"/tenants/{world.acme.tenant_id}/ai-models/{world.acme_model_id}",
            json={"name": "chat-v2"},
            headers=world["admin"].headers,
        )
        assert resp.status_code == 200, resp.text
    assert await heard()

    create = ["model", "create", "--tenant", "acme", "--name", "extra", "--free"]
    assert await asyncio.to_thread(main, [*create, "--deployment", "mock-openai:gpt"]) == 0
    assert await heard()

    spec = tmp_path / "junction.yaml"
    spec.write_text(
        "tenants:\n  - name: acme\n    models:\n      - name: extra\n"
        "        pricing: {input_per_mtok: 1}\n"
        "        deployments: [{provider: mock-openai, model: gpt}]\n"
    )
    assert await asyncio.to_thread(main, ["apply", "-f", str(spec)]) == 0
    assert await heard()
    # a file that changes nothing announces nothing
    assert await asyncio.to_thread(main, ["apply", "-f", str(spec)]) == 0
    await asyncio.sleep(0.2)
    assert ours not in announced
