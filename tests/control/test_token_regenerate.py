"""Regenerating a key: a new value for the same key, shown once; the old value dies at once."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import select

from junction_control.app import create_admin_app, create_internal_app
from junction_control.audit.models import AuditEntry
from junction_control.db import Database
from junction_control.settings import ControlSettings
from junction_control.tokens.service import hash_token
from junction_engine.app import create_app as create_engine_app
from junction_engine.settings import EngineSettings
from junction_mockllm.app import create_app as create_mock_app

from .conftest import RESOLVE_PATH, World, signed_post

# what a regeneration must leave as it was
KEPT = (
    "id",
    "name",
    "owner_user_id",
    "models",
    "rpm",
    "tpm",
    "budget_usd",
    "budget_period",
    "budget_timezone",
    "spent_usd",
    "expires_at",
    "created_at",
)


def _path(world: World, token_id: str | None = None) -> str:
    return f"/tenants/{world.acme.tenant_id}/tokens/{token_id or world.acme.token_id}/regenerate"


async def _resolve(
    internal: httpx.AsyncClient, settings: ControlSettings, raw: str
) -> httpx.Response:
    return await signed_post(
        internal, settings.internal_secret, RESOLVE_PATH, {"token_hash": hash_token(raw)}
    )


async def test_a_regenerated_key_keeps_everything_but_its_value(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    base = f"/tenants/{world.acme.tenant_id}/tokens"
    headers = world["admin"].headers
    made = await admin.post(
        base,
        json={
            "name": "ci",
            "models": ["chat"],
            "rpm": 60,
            "tpm": 9000,
            "budget_usd": 5,
            "expires_at": "2030-01-01T00:00:00Z",
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    old = made.json()
    async with database.engine.begin() as conn:
        await conn.execute(
            text("UPDATE user_tokens SET spent_usd = 1.25 WHERE id = :id"), {"id": old["id"]}
        )
    before = (await admin.get(f"{base}/{old['id']}", headers=headers)).json()

    resp = await admin.post(f"{base}/{old['id']}/regenerate", headers=headers)

    assert resp.status_code == 200, resp.text
    fresh = resp.json()
    assert fresh["token"].startswith("jk-")
    assert fresh["token"] != old["token"]
    assert fresh["prefix"] == fresh["token"][:12] != old["prefix"]
    assert {k: fresh[k] for k in KEPT} == {k: before[k] for k in KEPT}
    assert before["spent_usd"] == 1.25
    again = await admin.get(f"{base}/{old['id']}", headers=headers)
    assert "token" not in again.json()
    assert fresh["token"] not in again.text
    async with database.engine.connect() as conn:
        stored = (
            await conn.execute(
                text("SELECT token_hash FROM user_tokens WHERE id = :id"), {"id": old["id"]}
            )
        ).scalar_one()
    assert stored == hash_token(fresh["token"])


async def test_the_old_value_stops_resolving_and_the_new_one_resolves(
    admin: httpx.AsyncClient,
    world: World,
    internal_client: httpx.AsyncClient,
    settings: ControlSettings,
) -> None:
    assert (await _resolve(internal_client, settings, world.acme.raw_token)).status_code == 200

    resp = await admin.post(_path(world), headers=world["admin"].headers)
    assert resp.status_code == 200, resp.text

    gone = await _resolve(internal_client, settings, world.acme.raw_token)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "unknown_token"
    now = await _resolve(internal_client, settings, resp.json()["token"])
    assert now.status_code == 200
    assert now.json()["token"]["id"] == world.acme.token_id


async def test_regeneration_is_audited_without_the_secret(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    resp = await admin.post(_path(world), headers=world["owner"].headers)
    assert resp.status_code == 200, resp.text

    async with database.session() as session:
        rows = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "token.regenerate"))
        ).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.object_id, row.user_id, row.tenant_id) == (
        world.acme.token_id,
        world["owner"].user_id,
        world.acme.tenant_id,
    )
    raw = resp.json()["token"]
    assert raw not in repr(row.details)
    assert raw[:12] not in repr(row.details)
    assert world.acme.raw_token not in repr(row.details)


@pytest.mark.parametrize(("who", "status"), [("viewer", 403), ("member", 404), ("outsider", 404)])
async def test_who_may_not_regenerate_a_key(
    admin: httpx.AsyncClient, world: World, who: str, status: int
) -> None:
    # the member owns no key of acme's demo: theirs only, so this one is not found
    resp = await admin.post(_path(world), headers=world[who].headers)

    assert resp.status_code == status
    assert resp.json()["error"]["code"] == {403: "forbidden", 404: "not_found"}[status]


async def test_a_member_regenerates_their_own_key(admin: httpx.AsyncClient, world: World) -> None:
    headers = world["member"].headers
    base = f"/tenants/{world.acme.tenant_id}/tokens"
    own = await admin.post(base, json={"name": "mine"}, headers=headers)
    assert own.status_code == 201, own.text

    resp = await admin.post(_path(world, own.json()["id"]), headers=headers)

    assert resp.status_code == 200, resp.text
    assert resp.json()["owner_user_id"] == world["member"].user_id


async def test_a_revoked_key_is_not_brought_back(admin: httpx.AsyncClient, world: World) -> None:
    headers = world["admin"].headers
    revoke = f"/tenants/{world.acme.tenant_id}/tokens/{world.acme.token_id}/revoke"
    assert (await admin.post(revoke, headers=headers)).status_code == 200

    resp = await admin.post(_path(world), headers=headers)

    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "conflict"
    assert "token" not in resp.json()


async def test_an_unknown_key_is_not_found(admin: httpx.AsyncClient, world: World) -> None:
    resp = await admin.post(_path(world, "no-such-token"), headers=world["admin"].headers)

    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"


@pytest.mark.redis
async def test_regeneration_announces_the_old_hash(
    settings: ControlSettings,
    database: Database,
    world: World,
    redis_url: str,
    announced: list[str],
) -> None:
    app = create_admin_app(replace(settings, redis_url=redis_url), database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin/api/v1") as admin:
        resp = await admin.post(_path(world), headers=world["admin"].headers)
    assert resp.status_code == 200, resp.text
    for _ in range(100):
        if world.acme.token_hash in announced:
            break
        await asyncio.sleep(0.02)
    assert world.acme.token_hash in announced
    assert hash_token(resp.json()["token"]) not in announced


@pytest.mark.redis
async def test_an_engine_refuses_the_old_value_at_once_and_serves_the_new_one(
    settings: ControlSettings, database: Database, world: World, redis_url: str
) -> None:
    control = replace(settings, redis_url=redis_url)
    internal = create_internal_app(control, database=database)
    app = create_admin_app(control, database=database)
    engine = create_engine_app(
        EngineSettings.from_env(
            {
                "JUNCTION_VAR_DIR": str(settings.var_dir),
                "JUNCTION_REDIS_URL": redis_url,
                "JUNCTION_CONTROL_URL": "http://control",
                "JUNCTION_ROUTE_TTL_SECONDS": "600",  # the TTL alone would take 10 minutes
            },
            env_file=None,
        ),
        upstream_transport=httpx.ASGITransport(app=create_mock_app()),
        control_transport=httpx.ASGITransport(app=internal),
    )
    old = {"authorization": f"Bearer {world.acme.raw_token}"}
    async with (
        engine.router.lifespan_context(engine),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=engine), base_url="http://e") as e,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://admin/api/v1"
        ) as admin,
    ):
        assert (await e.get("/v1/models", headers=old)).status_code == 200
        await asyncio.wait_for(engine.state.revocations.subscribed.wait(), 5)

        resp = await admin.post(_path(world), headers=world["admin"].headers)
        assert resp.status_code == 200, resp.text

        for _ in range(100):
            refused = await e.get("/v1/models", headers=old)
            if refused.status_code == 401:
                break
            await asyncio.sleep(0.02)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "invalid_api_key"
        new = {"authorization": f"Bearer {resp.json()['token']}"}
        assert (await e.get("/v1/models", headers=new)).status_code == 200
