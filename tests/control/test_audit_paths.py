"""Every write path leaves an audit row, and so does every refused attempt; none holds a secret."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from junction_control.audit.models import AuditEntry
from junction_control.cli import main
from junction_control.db import Database
from junction_control.settings import ControlSettings

from .conftest import PASSWORD, World

PROVIDER_KEY = "sk-audited-provider-key-0123456789"
TOKEN_VALUE = "jk-audited-token-value-abcdefghijklmnop"
PROVIDER_ARGS = ("--base-url", "http://127.0.0.1:8100/v1", "--key-env", "PROVIDER_KEY")


async def _rows(database: Database, *, action: str | None = None) -> Sequence[AuditEntry]:
    async with database.session() as session:
        query = select(AuditEntry).order_by(col(AuditEntry.at), col(AuditEntry.id))
        if action is not None:
            query = query.where(AuditEntry.action == action)
        return (await session.exec(query)).all()


def _shell_rows(env: dict[str, str]) -> Sequence[AuditEntry]:
    async def read() -> Sequence[AuditEntry]:
        database = Database(ControlSettings.from_env(environ=env, env_file=None).database_url)
        try:
            return await _rows(database)
        finally:
            await database.dispose()

    return asyncio.run(read())


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


# --- the three write paths ------------------------------------------------------


async def test_an_api_write_is_audited_under_its_user(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    changed = await admin.patch(
        f"/tenants/{world.acme.tenant_id}/members/{world['viewer'].user_id}",
        json={"role": "member"},
        headers=world["admin"].headers,
    )
    assert changed.status_code == 200, changed.text

    [row] = await _rows(database, action="member.update")
    assert (row.tenant_id, row.user_id, row.object_id) == (
        world.acme.tenant_id,
        world["admin"].user_id,
        world["viewer"].user_id,
    )
    assert row.details == {"role": "member", "previous_role": "viewer", "via": "api"}


def test_cli_writes_are_audited_under_the_shell(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PW", PASSWORD)
    monkeypatch.setenv("PROVIDER_KEY", PROVIDER_KEY)
    tenant = ["--tenant", "acme"]
    for argv in (
        ["user", "create", "--email", "ana@acme.test", "--password-env", "PW"],
        ["tenant", "create", "acme", "--owner", "ana@acme.test"],
        ["provider", "create", *tenant, "--name", "p", "--type", "openai", *PROVIDER_ARGS],
        ["model", "create", *tenant, "--name", "chat", "--deployment", "p:gpt", "--free"],
        ["token", "create", *tenant, "--name", "app"],
        ["token", "revoke", *tenant, "--name", "app"],
    ):
        assert main(argv) == 0, capsys.readouterr().err
    raw_token = capsys.readouterr().out.split("not shown again:\n")[1].split()[0]

    rows = _shell_rows(cli_env)
    assert [r.action for r in rows] == [
        "user.create",
        "tenant.create",
        "member.add",
        "provider.create",
        "credential.create",
        "model.create",
        "deployment.create",
        "token.create",
        "token.revoke",
    ]
    for row in rows:
        assert row.user_id is None  # no admin user: the shell
        assert row.details["via"] == "cli"
        assert row.details.get("os_user") == _os_user()
        assert PROVIDER_KEY not in str(row.details)
        assert raw_token not in str(row.details)
    tenant_id = rows[1].object_id
    assert {r.tenant_id for r in rows[1:]} == {tenant_id}
    assert rows[4].details["last4"] == PROVIDER_KEY[-4:]


SPEC = f"""
tenants:
  - name: acme
    providers:
      - name: p
        type: openai
        base_url: http://127.0.0.1:8100/v1
        keys: [{{name: default, value: env:PROVIDER_KEY}}]
    models:
      - name: chat
        pricing: {{free: true}}
        deployments: [{{provider: p, model: gpt}}]
    tokens:
      - {{name: app, value: {TOKEN_VALUE}}}
    users:
      - {{email: ana@acme.test, role: owner, password: env:PW}}
"""


def test_apply_writes_are_audited_once_and_a_second_run_adds_none(
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("PW", PASSWORD)
    monkeypatch.setenv("PROVIDER_KEY", PROVIDER_KEY)
    spec = tmp_path / "junction.yaml"
    spec.write_text(SPEC)

    assert main(["apply", "-f", str(spec)]) == 0, capsys.readouterr().err
    first = _shell_rows(cli_env)
    assert main(["apply", "-f", str(spec)]) == 0
    again = _shell_rows(cli_env)
    spec.write_text(SPEC.replace("role: owner, password: env:PW", "role: owner, password: env:PW2"))
    monkeypatch.setenv("PW2", "a brand new password 42")
    assert main(["apply", "-f", str(spec)]) == 0, capsys.readouterr().err
    changed = _shell_rows(cli_env)[len(first) :]

    assert [r.action for r in first] == [
        "tenant.create",
        "provider.create",
        "credential.create",
        "model.create",
        "deployment.create",
        "token.create",
        "member.add",
    ]
    assert len(again) == len(first)
    assert [(r.action, r.details.get("fields")) for r in changed] == [("user.update", ["password"])]
    for row in _shell_rows(cli_env):
        assert (row.user_id, row.details["via"]) == (None, "apply")
        assert row.details.get("os_user") == _os_user()
        for secret in (PROVIDER_KEY, TOKEN_VALUE, PASSWORD, "a brand new password 42"):
            assert secret not in str(row.details)


# --- refused attempts ---------------------------------------------------------


async def test_a_denied_cross_tenant_read_is_audited_in_the_tenant_aimed_at(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    outsider = world["outsider"].headers
    aimed = await admin.get(f"/tenants/{world.acme.tenant_id}/tokens", headers=outsider)
    unknown = await admin.get("/tenants/no-such-tenant/tokens", headers=outsider)

    # the answer does not tell an existing tenant from a missing one
    assert aimed.status_code == unknown.status_code == 404
    assert aimed.json() == unknown.json()
    first, second = await _rows(database, action="denied")
    assert (first.user_id, first.tenant_id, first.object_type, first.object_id) == (
        world["outsider"].user_id,
        world.acme.tenant_id,
        "tenant",
        world.acme.tenant_id,
    )
    assert first.details == {
        "wanted": "tokens:read",
        "method": "GET",
        "route": "/api/v1/tenants/{tenant_id}/tokens",
        "path": f"/api/v1/tenants/{world.acme.tenant_id}/tokens",
        "status": 404,
    }
    assert (second.user_id, second.tenant_id) == (world["outsider"].user_id, None)
    # acme's admins see who knocked
    trail = await admin.get(
        f"/tenants/{world.acme.tenant_id}/audit", headers=world["owner"].headers
    )
    assert [e["user_id"] for e in trail.json()["items"] if e["action"] == "denied"] == [
        world["outsider"].user_id
    ]


async def test_a_role_forbidden_write_is_audited_without_its_body(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    secret = "sk-never-stored-in-the-trail-9876"
    refused = await admin.post(
        f"/tenants/{world.acme.tenant_id}/providers/{world.acme.provider_id}/credentials",
        json={"name": "extra", "key": secret},
        headers=world["viewer"].headers,
    )
    owner_grant = await admin.patch(
        f"/tenants/{world.acme.tenant_id}/members/{world['viewer'].user_id}",
        json={"role": "owner"},
        headers=world["admin"].headers,
    )

    assert refused.status_code == owner_grant.status_code == 403
    rows = await _rows(database, action="denied")
    assert [(r.user_id, r.details["wanted"], r.details["status"]) for r in rows] == [
        (world["viewer"].user_id, "credentials:write", 403),
        (world["admin"].user_id, "users:owner:write", 403),
    ]
    assert {r.tenant_id for r in rows} == {world.acme.tenant_id}
    assert all(secret not in str(r.details) for r in rows)
    assert await _rows(database, action="credential.create") == []


async def test_an_id_of_another_tenant_is_audited_in_its_owners_trail(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    acme = f"/tenants/{world.acme.tenant_id}"
    headers = world["admin"].headers
    secret = "sk-never-stored-in-the-trail-5555"
    attempts = [
        admin.get(f"{acme}/tokens/{world.globex_token_id}", headers=headers),
        admin.patch(
            f"{acme}/ai-models/{world.globex_model_id}", json={"name": "mine"}, headers=headers
        ),
        admin.put(
            f"{acme}/providers/{world.acme.provider_id}/credentials/"
            f"{world.globex_credential_id}/key",
            json={"key": secret},
            headers=headers,
        ),
    ]
    answers = [await a for a in attempts]
    unknown = await admin.get(f"{acme}/tokens/no-such-token", headers=headers)

    # the caller cannot tell another tenant's id from one that does not exist
    assert {r.status_code for r in answers} == {unknown.status_code} == {404}
    assert answers[0].json() == unknown.json()
    rows = await _rows(database, action="denied")
    assert [r.object_id for r in rows] == [
        world.globex_token_id,
        world.globex_model_id,
        world.globex_credential_id,
    ]
    assert [(r.tenant_id, r.user_id, r.object_type, r.details["route"]) for r in rows] == [
        (
            world.globex_id,
            world["admin"].user_id,
            "token",
            "/api/v1/tenants/{tenant_id}/tokens/{token_id}",
        ),
        (
            world.globex_id,
            world["admin"].user_id,
            "model",
            "/api/v1/tenants/{tenant_id}/ai-models/{model_id}",
        ),
        (
            world.globex_id,
            world["admin"].user_id,
            "credential",
            "/api/v1/tenants/{tenant_id}/providers/{provider_id}/credentials/{credential_id}/key",
        ),
    ]
    assert [(r.details["method"], r.details["wanted"], r.details["status"]) for r in rows] == [
        ("GET", "tokens:read", 404),
        ("PATCH", "models:write", 404),
        ("PUT", "credentials:write", 404),
    ]
    assert all(secret not in str(r.details) and "mine" not in str(r.details) for r in rows)
    # globex's admin sees who reached for its rows; nothing was changed
    trail = await admin.get(f"/tenants/{world.globex_id}/audit", headers=world["outsider"].headers)
    assert [e["action"] for e in trail.json()["items"]] == ["denied"] * 3
    assert await _rows(database, action="model.update") == []


async def test_a_provider_id_of_another_tenant_in_a_body_is_audited(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    path = f"/tenants/{world.acme.tenant_id}/ai-models/{world.acme_model_id}/deployments"
    body = {"provider_id": world.globex_provider_id, "upstream_model": "gpt"}
    refused = await admin.post(path, json=body, headers=world["admin"].headers)
    unknown = await admin.post(
        path, json={**body, "provider_id": "no-such-provider"}, headers=world["admin"].headers
    )

    assert refused.status_code == unknown.status_code == 422
    assert refused.json() == unknown.json()
    [row] = await _rows(database, action="denied")
    assert row.details["status"] == 422
    assert (row.tenant_id, row.object_type, row.object_id, row.details["wanted"]) == (
        world.globex_id,
        "provider",
        world.globex_provider_id,
        "models:write",
    )
    assert row.details["route"] == "/api/v1/tenants/{tenant_id}/ai-models/{model_id}/deployments"
    assert await _rows(database, action="deployment.create") == []


async def test_a_member_reaching_for_someone_elses_key_is_audited(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    path = f"/tenants/{world.acme.tenant_id}/tokens/{world.acme.token_id}/revoke"
    refused = await admin.post(path, headers=world["member"].headers)

    assert refused.status_code == 404  # theirs only: another's key is not found
    [row] = await _rows(database, action="denied")
    assert (row.tenant_id, row.user_id, row.object_type, row.object_id) == (
        world.acme.tenant_id,
        world["member"].user_id,
        "token",
        world.acme.token_id,
    )
    assert row.details["wanted"] == "tokens:write"
    assert await _rows(database, action="token.revoke") == []


async def test_no_session_is_refused_without_a_row(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    anonymous = await admin.get(f"/tenants/{world.acme.tenant_id}/tokens")
    assert anonymous.status_code == 401
    assert await _rows(database, action="denied") == []
