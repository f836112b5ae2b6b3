"""A tenant always has an owner: created with one, never left without one, on every path."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest
import yaml

from junction_control.app import create_admin_app
from junction_control.cli import main
from junction_control.db import Database
from junction_control.declarative import apply_spec, parse_spec
from junction_control.settings import ControlSettings
from junction_control.tenants import service as tenants
from junction_control.tokens.service import hash_token
from junction_control.users import service as users
from junction_control.users.service import LastOwner

from .conftest import PASSWORD, World, add_person

# --- the admin API ------------------------------------------------------------


def _members_of(tenant_id: str) -> str:
    return f"/tenants/{tenant_id}/members"


async def _roles(admin: httpx.AsyncClient, world: World, tenant_id: str) -> dict[str, str]:
    found = await admin.get(_members_of(tenant_id), headers=world["platform"].headers)
    assert found.status_code == 200, found.text
    return {m["email"]: m["role"] for m in found.json()["items"]}


async def test_a_tenant_created_without_an_owner_email_is_owned_by_its_creator(
    admin: httpx.AsyncClient, world: World
) -> None:
    created = await admin.post(
        "/tenants", json={"name": "initech"}, headers=world["platform"].headers
    )

    assert created.status_code == 201, created.text
    assert await _roles(admin, world, created.json()["id"]) == {"root@junction.test": "owner"}


async def test_a_tenant_created_for_an_owner_is_theirs_to_run(
    admin: httpx.AsyncClient, world: World
) -> None:
    created = await admin.post(
        "/tenants",
        json={"name": "initech", "owner_email": "ADMIN@globex.test"},
        headers=world["platform"].headers,
    )
    assert created.status_code == 201, created.text
    tenant_id = created.json()["id"]
    # the new owner can now run it: invite an admin, which only members may do
    invite = await admin.post(
        _members_of(tenant_id),
        json={"email": "new@initech.test", "role": "admin", "password": "initech password 1"},
        headers=world["outsider"].headers,
    )

    assert invite.status_code == 201, invite.text
    assert await _roles(admin, world, tenant_id) == {
        "admin@globex.test": "owner",
        "new@initech.test": "admin",
    }


async def test_an_unknown_owner_email_is_refused_and_creates_nothing(
    admin: httpx.AsyncClient, world: World
) -> None:
    headers = world["platform"].headers
    refused = await admin.post(
        "/tenants", json={"name": "initech", "owner_email": "nobody@x.test"}, headers=headers
    )
    listed = await admin.get("/tenants", headers=headers)

    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "owner_email"
    assert "initech" not in {t["name"] for t in listed.json()["items"]}


async def test_only_platform_admins_create_tenants(admin: httpx.AsyncClient, world: World) -> None:
    refused = await admin.post("/tenants", json={"name": "initech"}, headers=world["owner"].headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"


async def test_the_last_owner_can_be_neither_demoted_nor_removed(
    admin: httpx.AsyncClient, world: World
) -> None:
    members = _members_of(world.acme.tenant_id)
    owner = f"{members}/{world['owner'].user_id}"
    headers = world["owner"].headers

    demoted = await admin.patch(owner, json={"role": "admin"}, headers=headers)
    removed = await admin.delete(owner, headers=world["platform"].headers)

    for refused in (demoted, removed):
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "last_owner"
    assert (await _roles(admin, world, world.acme.tenant_id))["owner@acme.test"] == "owner"


async def test_with_a_second_owner_the_first_may_step_down(
    admin: httpx.AsyncClient, world: World
) -> None:
    members = _members_of(world.acme.tenant_id)
    headers = world["owner"].headers
    promoted = await admin.patch(
        f"{members}/{world['admin'].user_id}", json={"role": "owner"}, headers=headers
    )
    stepped_down = await admin.patch(
        f"{members}/{world['owner'].user_id}", json={"role": "viewer"}, headers=headers
    )
    # the admin, now the only owner, is the last one again
    last = await admin.patch(
        f"{members}/{world['admin'].user_id}",
        json={"role": "member"},
        headers=world["admin"].headers,
    )

    assert promoted.status_code == 200, promoted.text
    assert stepped_down.status_code == 200, stepped_down.text
    assert last.status_code == 409
    assert last.json()["error"]["code"] == "last_owner"
    roles = await _roles(admin, world, world.acme.tenant_id)
    assert (roles["admin@acme.test"], roles["owner@acme.test"]) == ("owner", "viewer")


async def test_admins_cannot_make_owners(admin: httpx.AsyncClient, world: World) -> None:
    members = _members_of(world.acme.tenant_id)
    refused = await admin.patch(
        f"{members}/{world['viewer'].user_id}",
        json={"role": "owner"},
        headers=world["admin"].headers,
    )
    assert refused.status_code == 403
    assert (await _roles(admin, world, world.acme.tenant_id))["viewer@acme.test"] == "viewer"


async def _heard(heard: list[str], count: int) -> list[str]:
    for _ in range(100):
        if len(heard) >= count:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)  # and nothing more
    return sorted(heard)


@pytest.mark.redis
async def test_changing_a_role_announces_that_members_keys_only(
    settings: ControlSettings,
    database: Database,
    world: World,
    redis_url: str,
    announced: list[str],
) -> None:
    app = create_admin_app(replace(settings, redis_url=redis_url), database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin/api/v1") as admin:
        tokens = f"/tenants/{world.acme.tenant_id}/tokens"
        theirs = await admin.post(tokens, json={"name": "mine"}, headers=world["member"].headers)
        assert theirs.status_code == 201, theirs.text
        await _heard(announced, 1)  # the creation may announce nothing; wait it out
        announced.clear()

        changed = await admin.patch(
            f"{_members_of(world.acme.tenant_id)}/{world['member'].user_id}",
            json={"role": "viewer"},
            headers=world["admin"].headers,
        )
        assert changed.status_code == 200, changed.text

    mine = hash_token(theirs.json()["token"])
    known = {mine, world.acme.token_hash}  # other runs may share this Redis
    assert [h for h in await _heard(announced, 1) if h in known] == [mine]


# --- the CLI and apply -f -----------------------------------------------------


def _roles_in(env: dict[str, str], tenant: str) -> dict[str, str]:
    async def read() -> dict[str, str]:
        database = Database(ControlSettings.from_env(environ=env, env_file=None).database_url)
        try:
            async with database.session() as session:
                found = await tenants.get_tenant(session, tenant)
                rows = (await session.exec(users.members_query(found.id))).all()
                by_id = await users.users_by_id(session, [m.user_id for m in rows])
                return {by_id[m.user_id].email: m.role for m in rows}
        finally:
            await database.dispose()

    return asyncio.run(read())


def _user(email: str) -> list[str]:
    return ["user", "create", "--email", email, "--password-env", "PW"]


def test_the_cli_creates_a_tenant_for_its_owner_and_keeps_one(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PW", PASSWORD)
    assert main(_user("ana@acme.test")) == 0
    assert main(_user("bo@acme.test")) == 0
    assert main(["tenant", "create", "acme", "--owner", "ana@acme.test"]) == 0
    assert "owned by ana@acme.test" in capsys.readouterr().out

    base = ["--tenant", "acme", "--email", "ana@acme.test"]
    assert main(["member", "role", *base, "--role", "admin"]) == 2
    demote_err = capsys.readouterr().err
    assert main(["member", "remove", *base]) == 2
    remove_err = capsys.readouterr().err
    assert "[last_owner]" in demote_err
    assert "[last_owner]" in remove_err

    bo = ["--tenant", "acme", "--email", "bo@acme.test"]
    assert main(["member", "add", *bo, "--role", "owner"]) == 0
    assert main(["member", "role", *base, "--role", "viewer"]) == 0
    assert _roles_in(cli_env, "acme") == {"ana@acme.test": "viewer", "bo@acme.test": "owner"}
    assert main(["members", "remove", *bo]) == 2
    assert "[last_owner]" in capsys.readouterr().err


def test_the_cli_refuses_an_owner_who_does_not_exist(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tenant", "create", "acme", "--owner", "ghost@acme.test"]) == 2
    assert "ghost@acme.test" in capsys.readouterr().err
    assert main(["tenants", "list", "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"


def test_a_tenant_created_without_an_owner_says_how_to_add_one(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tenant", "create", "acme"]) == 0
    out = capsys.readouterr().out
    assert "has no owner yet" in out
    assert "--role owner" in out


async def test_apply_cannot_demote_the_last_owner(
    database: Database, settings: ControlSettings, password_hash: str
) -> None:
    async with database.session() as session:
        tenant = await tenants.create_tenant(session, "acme")
        await add_person(session, "ana@acme.test", password_hash, tenant_id=tenant.id, role="owner")
        await session.commit()
    spec = parse_spec(
        yaml.safe_load(
            "tenants:\n  - name: acme\n    users:\n      - {email: ana@acme.test, role: admin}\n"
        ),
        {},
    )

    async with database.session() as session:
        with pytest.raises(LastOwner):
            await apply_spec(session, settings.keyring, spec)


async def test_apply_warns_about_a_tenant_it_leaves_without_an_owner(
    database: Database, settings: ControlSettings, password_hash: str
) -> None:
    async with database.session() as session:
        await add_person(session, "ana@acme.test", password_hash)
        await session.commit()
    bare = "tenants:\n  - name: acme\n"
    owned = bare + "    users:\n      - {email: ana@acme.test, role: owner}\n"

    async with database.session() as session:
        report = await apply_spec(session, settings.keyring, parse_spec(yaml.safe_load(bare), {}))
        await session.commit()
    assert report.warnings == [
        "tenant acme has no owner: name one under its users with role: owner"
    ]
    async with database.session() as session:
        report = await apply_spec(session, settings.keyring, parse_spec(yaml.safe_load(owned), {}))
        await session.commit()
    assert report.warnings == []
    async with database.session() as session:
        tenant = await tenants.get_tenant(session, "acme")
        assert await users.owner_count(session, tenant.id) == 1
