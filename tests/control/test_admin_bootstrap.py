"""Getting the first users in: `junction-control user create` and `users:` in the file."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import yaml

from junction_control.app import create_admin_app
from junction_control.cli import main
from junction_control.db import Database
from junction_control.declarative import apply_spec, parse_spec
from junction_control.errors import InvalidInput
from junction_control.settings import ControlSettings
from junction_control.users.service import find_user_by_email

PASSWORD = "bootstrap password 123"


def _login(env: dict[str, str], email: str, password: str) -> httpx.Response:
    async def call() -> httpx.Response:
        settings = ControlSettings.from_env(environ=env, env_file=None)
        database = Database(settings.database_url)
        app = create_admin_app(settings, database=database)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://a") as client:
                login = await client.post(
                    "/api/v1/auth/login", json={"email": email, "password": password}
                )
                if login.status_code != 200:
                    return login
                token = login.json()["token"]
                return await client.get(
                    "/api/v1/auth/me", headers={"authorization": f"Bearer {token}"}
                )
        finally:
            await database.dispose()

    return asyncio.run(call())


def test_user_create_makes_a_platform_admin_who_can_log_in(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROOT_PASSWORD", PASSWORD)
    assert main(["tenant", "create", "acme"]) == 0
    assert (
        main(
            [
                "user",
                "create",
                "--email",
                "root@x.test",
                "--password-env",
                "ROOT_PASSWORD",
                "--platform-admin",
                "--tenant",
                "acme",
                "--role",
                "owner",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "user root@x.test created" in out
    assert PASSWORD not in out

    me = _login(cli_env, "root@x.test", PASSWORD)
    assert me.status_code == 200
    assert me.json()["is_platform_admin"] is True
    assert [m["role"] for m in me.json()["memberships"]] == ["owner"]

    assert (
        main(["user", "create", "--email", "ROOT@x.test", "--password-env", "ROOT_PASSWORD"]) == 2
    )
    assert "already exists" in capsys.readouterr().err
    assert main(["user", "create", "--email", "a@x.test", "--password-env", "UNSET_VAR"]) == 2


FILE = """
tenants:
  - name: acme
    users:
      - {email: ana@acme.test, role: owner, password: env:ANA_PASSWORD, name: Ana}
      - {email: bo@acme.test, role: viewer, password: env:BO_PASSWORD}
"""


async def test_declared_users_apply_idempotently(
    database: Database, settings: ControlSettings
) -> None:
    env = {"ANA_PASSWORD": PASSWORD, "BO_PASSWORD": "another password 456"}

    async def apply(text: str, environ: dict[str, str]) -> list[str]:
        async with database.session() as session:
            report = await apply_spec(
                session, settings.keyring, parse_spec(yaml.safe_load(text), environ)
            )
            await session.commit()
        return [c.line() for c in report.changes if c.kind == "user"]

    first = await apply(FILE, env)
    second = await apply(FILE, env)
    changed = await apply(
        FILE.replace("role: viewer", "role: admin"), {**env, "ANA_PASSWORD": "a new password 789"}
    )

    assert first == ["user acme/ana@acme.test: created", "user acme/bo@acme.test: created"]
    assert second == [
        "user acme/ana@acme.test: unchanged",
        "user acme/bo@acme.test: unchanged",
    ]
    assert changed == [
        "user acme/ana@acme.test: updated (password)",
        "user acme/bo@acme.test: updated (role)",
    ]
    async with database.session() as session:
        ana = await find_user_by_email(session, "ana@acme.test")
    assert ana is not None
    assert ana.name == "Ana"
    assert "a new password" not in ana.password_hash
    assert ana.password_hash.startswith("$argon2id$")


def test_a_declared_user_needs_a_valid_email_and_role() -> None:
    with pytest.raises(InvalidInput, match=r"tenants\[0\]\.users\[0\]\.role"):
        parse_spec(
            yaml.safe_load(FILE.replace("role: owner", "role: boss")),
            {"ANA_PASSWORD": PASSWORD, "BO_PASSWORD": PASSWORD},
        )
    with pytest.raises(InvalidInput, match=r"tenants\[0\]\.users\[1\]\.password"):
        parse_spec(yaml.safe_load(FILE), {"ANA_PASSWORD": PASSWORD})
