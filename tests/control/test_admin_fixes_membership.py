"""Who a tenant admin may add, what removing people cuts off, and what errors never echo."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest

from junction_contracts.route import Route
from junction_control.app import create_admin_app
from junction_control.db import Database
from junction_control.errors import InvalidInput
from junction_control.settings import ControlSettings
from junction_control.tokens.service import hash_token
from junction_control.users.service import check_email

from .conftest import PASSWORD, RESOLVE_PATH, World, add_person, signed_post

NEW_PASSWORD = "another long enough password"


def _members(world: World) -> str:
    return f"/tenants/{world.acme.tenant_id}/members"


# --- adding members ------------------------------------------------------------


async def test_another_tenants_user_is_refused_exactly_like_an_unknown_email(
    admin: httpx.AsyncClient, world: World
) -> None:
    headers = world["admin"].headers
    unknown = await admin.post(
        _members(world), json={"email": "nobody@acme.test", "role": "viewer"}, headers=headers
    )
    foreign = await admin.post(
        _members(world), json={"email": world["outsider"].email, "role": "viewer"}, headers=headers
    )
    platform = await admin.post(
        _members(world), json={"email": world["platform"].email, "role": "admin"}, headers=headers
    )

    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "password"
    assert (foreign.status_code, foreign.json()) == (unknown.status_code, unknown.json())
    assert (platform.status_code, platform.json()) == (unknown.status_code, unknown.json())
    assert world["outsider"].user_id not in foreign.text
    assert world["platform"].user_id not in platform.text


async def test_with_a_password_another_tenants_user_gets_a_generic_conflict(
    admin: httpx.AsyncClient, world: World
) -> None:
    body = {"email": world["outsider"].email, "role": "admin", "password": NEW_PASSWORD}
    resp = await admin.post(_members(world), json=body, headers=world["owner"].headers)
    members = await admin.get(_members(world), headers=world["owner"].headers)
    outsider_login = await admin.post(
        "/auth/login", json={"email": world["outsider"].email, "password": PASSWORD}
    )

    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "conflict"
    assert world["outsider"].email not in resp.text
    assert world["outsider"].user_id not in resp.text
    assert world["outsider"].user_id not in {m["user_id"] for m in members.json()["items"]}
    assert outsider_login.status_code == 200  # the password was not touched


async def test_a_user_in_no_tenant_may_be_linked(
    admin: httpx.AsyncClient, database: Database, world: World, password_hash: str
) -> None:
    async with database.session() as session:
        loner = await add_person(session, "loner@example.test", password_hash)
        await session.commit()

    resp = await admin.post(
        _members(world),
        json={"email": "LONER@example.test", "role": "member"},
        headers=world["admin"].headers,
    )

    assert resp.status_code == 201, resp.text
    assert resp.json()["user_id"] == loner.user_id


async def test_platform_admins_may_link_anyone(admin: httpx.AsyncClient, world: World) -> None:
    resp = await admin.post(
        _members(world),
        json={"email": world["outsider"].email, "role": "viewer"},
        headers=world["platform"].headers,
    )

    assert resp.status_code == 201, resp.text
    assert resp.json()["user_id"] == world["outsider"].user_id


async def test_adding_someone_already_here_is_a_conflict(
    admin: httpx.AsyncClient, world: World
) -> None:
    resp = await admin.post(
        _members(world),
        json={"email": world["viewer"].email, "role": "viewer"},
        headers=world["admin"].headers,
    )

    assert resp.status_code == 409
    assert world["viewer"].email not in resp.text


# --- errors never quote submitted values ----------------------------------------


async def test_a_base_url_with_credentials_is_not_echoed(
    admin: httpx.AsyncClient, world: World
) -> None:
    providers = f"/tenants/{world.acme.tenant_id}/providers"
    bad = "ftp://user:hunter2-secret@upstream.test/v1"
    created = await admin.post(
        providers,
        json={"name": "leaky", "type": "openai", "base_url": bad},
        headers=world["admin"].headers,
    )
    patched = await admin.patch(
        f"{providers}/{world.acme.provider_id}",
        json={"base_url": bad},
        headers=world["admin"].headers,
    )

    for resp in (created, patched):
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["field"] == "base_url"
        assert "hunter2-secret" not in resp.text


async def test_a_refused_email_is_not_echoed(admin: httpx.AsyncClient, world: World) -> None:
    local = "x" * 70  # too long a local part for an address
    resp = await admin.post(
        _members(world),
        json={"email": f"{local}@acme.test", "role": "viewer", "password": NEW_PASSWORD},
        headers=world["admin"].headers,
    )

    assert resp.status_code == 400, resp.text
    assert local not in resp.text
    with pytest.raises(InvalidInput) as refused:
        check_email("secret-looking-value")
    assert "secret-looking-value" not in str(refused.value)


# --- removing people cuts off their keys ---------------------------------------


async def _resolve(internal: httpx.AsyncClient, secret: bytes, raw: str) -> httpx.Response:
    return await signed_post(internal, secret, RESOLVE_PATH, {"token_hash": hash_token(raw)})


async def test_removing_a_member_revokes_the_keys_they_own_there(
    admin: httpx.AsyncClient,
    internal_client: httpx.AsyncClient,
    settings: ControlSettings,
    world: World,
) -> None:
    tokens = f"/tenants/{world.acme.tenant_id}/tokens"
    theirs = await admin.post(tokens, json={"name": "mine"}, headers=world["member"].headers)
    assert theirs.status_code == 201, theirs.text

    removed = await admin.delete(
        f"{_members(world)}/{world['member'].user_id}", headers=world["admin"].headers
    )
    their_route = await _resolve(internal_client, settings.internal_secret, theirs.json()["token"])
    other_route = await _resolve(internal_client, settings.internal_secret, world.acme.raw_token)

    assert removed.status_code == 204
    assert Route.from_dict(their_route.json()).token.revoked is True
    assert Route.from_dict(other_route.json()).token.revoked is False


def _announcing_admin(
    settings: ControlSettings, database: Database, redis_url: str
) -> httpx.AsyncClient:
    app = create_admin_app(replace(settings, redis_url=redis_url), database=database)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://admin/api/v1")


async def _heard(heard: list[str], count: int) -> list[str]:
    for _ in range(100):
        if len(heard) >= count:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)  # and nothing more
    return sorted(heard)


@pytest.mark.redis
async def test_deleting_a_tenant_announces_its_live_keys(
    settings: ControlSettings,
    database: Database,
    world: World,
    redis_url: str,
    announced: list[str],
) -> None:
    async with _announcing_admin(settings, database, redis_url) as admin:
        tokens = f"/tenants/{world.acme.tenant_id}/tokens"
        second = await admin.post(tokens, json={"name": "second"}, headers=world["owner"].headers)
        gone = await admin.post(tokens, json={"name": "gone"}, headers=world["owner"].headers)
        await admin.post(f"{tokens}/{gone.json()['id']}/revoke", headers=world["owner"].headers)
        await _heard(announced, 1)
        announced.clear()

        resp = await admin.delete(
            f"/tenants/{world.acme.tenant_id}", headers=world["owner"].headers
        )
        assert resp.status_code == 204, resp.text

    expected = sorted([world.acme.token_hash, hash_token(second.json()["token"])])
    gone_hash = hash_token(gone.json()["token"])
    # other runs may share this Redis: judge only the keys this test knows
    known = {*expected, gone_hash}
    assert [h for h in await _heard(announced, 2) if h in known] == expected


@pytest.mark.redis
async def test_removing_a_member_announces_the_keys_it_revoked(
    settings: ControlSettings,
    database: Database,
    world: World,
    redis_url: str,
    announced: list[str],
) -> None:
    async with _announcing_admin(settings, database, redis_url) as admin:
        tokens = f"/tenants/{world.acme.tenant_id}/tokens"
        theirs = await admin.post(tokens, json={"name": "mine"}, headers=world["member"].headers)
        assert theirs.status_code == 201, theirs.text

        resp = await admin.delete(
            f"{_members(world)}/{world['member'].user_id}", headers=world["admin"].headers
        )
        assert resp.status_code == 204, resp.text

    mine = hash_token(theirs.json()["token"])
    known = {mine, world.acme.token_hash}
    assert [h for h in await _heard(announced, 1) if h in known] == [mine]
