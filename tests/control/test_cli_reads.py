"""`junction-control ... list/show`: the admin API's reads, as JSON or a table, with no secret."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from junction_control.app import create_admin_app
from junction_control.cli import main
from junction_control.columns import utcnow
from junction_control.db import Database
from junction_control.settings import ControlSettings
from junction_control.tenants import service as tenants

from .conftest import PASSWORD
from .test_usage import add_calls, call

PROVIDER_KEY = "sk-read-provider-key-0123456789abcd"
HEADER_VALUE = "team-secret-header-value"
ROOT = "root@junction.test"


class Shell:
    """The CLI against the test database, and the admin API beside it."""

    def __init__(self, env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
        self.env = env
        self.capsys = capsys
        self.raw: list[str] = []  # the keys' values, as created

    def run(self, *argv: str) -> str:
        """Run one command that must succeed; its stdout."""
        code = main(list(argv))
        captured = self.capsys.readouterr()
        assert code == 0, captured.err
        return captured.out

    def json(self, *argv: str) -> Any:
        return json.loads(self.run(*argv, "--json"))

    def api(self, path: str) -> Any:
        """GET `path` of the admin API as the platform admin."""

        async def get() -> Any:
            settings = ControlSettings.from_env(environ=self.env, env_file=None)
            database = Database(settings.database_url)
            app = create_admin_app(settings, database=database)
            transport = httpx.ASGITransport(app=app)
            try:
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://a/api/v1"
                ) as client:
                    login = await client.post(
                        "/auth/login", json={"email": ROOT, "password": PASSWORD}
                    )
                    headers = {"authorization": f"Bearer {login.json()['token']}"}
                    found = await client.get(path, headers=headers)
                    assert found.status_code == 200, found.text
                    return found.json()
            finally:
                await database.dispose()

        return asyncio.run(get())

    def tenant_id(self, name: str) -> str:
        async def find() -> str:
            settings = ControlSettings.from_env(environ=self.env, env_file=None)
            database = Database(settings.database_url)
            try:
                async with database.session() as session:
                    return (await tenants.get_tenant(session, name)).id
            finally:
                await database.dispose()

        return asyncio.run(find())


@pytest.fixture
def shell(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Shell:
    """Tenant acme with an owner, a viewer, a provider (key, header), a model and two keys."""
    monkeypatch.setenv("PW", PASSWORD)
    monkeypatch.setenv("PROVIDER_KEY", PROVIDER_KEY)
    sh = Shell(cli_env, capsys)
    sh.run("user", "create", "--email", ROOT, "--password-env", "PW", "--platform-admin")
    sh.run("user", "create", "--email", "ana@acme.test", "--password-env", "PW")
    sh.run("tenant", "create", "acme", "--owner", "ana@acme.test")
    sh.run("tenant", "create", "globex", "--owner", "ana@acme.test")
    t = ("--tenant", "acme")
    sh.run(
        "member", "add", *t, "--email", "bo@acme.test", "--role", "viewer", "--password-env", "PW"
    )
    sh.run(
        "provider", "create", *t, "--name", "mock", "--type", "openai",
        "--base-url", "http://127.0.0.1:8100/v1", "--key-env", "PROVIDER_KEY",
        "--header", f"x-team={HEADER_VALUE}",
    )  # fmt: skip
    sh.run(
        "model", "create", *t, "--name", "chat", "--input-price", "1", "--output-price", "2",
        "--deployment", "mock:gpt-big:1", "--deployment", "mock:gpt-small:0",
    )  # fmt: skip
    sh.raw = [sh.json("token", "create", *t, "--name", name)["token"] for name in ("app", "batch")]
    sh.run("token", "revoke", *t, "--name", "batch")
    return sh


def _no_secret(shell: Shell, text: str) -> None:
    for secret in (PROVIDER_KEY, HEADER_VALUE, PASSWORD, *shell.raw):
        assert secret not in text


def test_tenants_list_and_show(shell: Shell) -> None:
    listed = shell.json("tenants", "list")
    shown = shell.json("tenants", "show", "acme")
    table = shell.run("tenants", "list")

    assert [t["name"] for t in listed] == ["acme", "globex"]
    assert listed == shell.api("/tenants")["items"]
    assert shown["owners"] == ["ana@acme.test"]
    assert (shown["members"], shown["providers"], shown["models"], shown["live_keys"]) == (
        2,
        1,
        1,
        1,
    )
    assert shown["budget"] is None
    assert table.splitlines()[0].split() == ["NAME", "ID", "CREATED"]
    assert [line.split()[0] for line in table.splitlines()[1:]] == ["acme", "globex"]
    assert "owners:      ana@acme.test" in shell.run("tenant", "show", "acme")


def test_members_list_is_what_the_api_lists(shell: Shell) -> None:
    listed = shell.json("members", "list", "--tenant", "acme")
    api = shell.api(f"/tenants/{shell.tenant_id('acme')}/members")["items"]
    table = shell.run("members", "list", "--tenant", "acme")

    assert listed == api
    assert [(m["email"], m["role"]) for m in listed] == [
        ("ana@acme.test", "owner"),
        ("bo@acme.test", "viewer"),
    ]
    assert [line.split()[:2] for line in table.splitlines()] == [
        ["EMAIL", "ROLE"],
        ["ana@acme.test", "owner"],
        ["bo@acme.test", "viewer"],
    ]


def test_keys_show_their_prefix_and_never_their_value(shell: Shell) -> None:
    listed = shell.json("keys", "list", "--tenant", "acme")
    table = shell.run("tokens", "list", "--tenant", "acme")
    api = shell.api(f"/tenants/{shell.tenant_id('acme')}/tokens")["items"]

    assert listed == api
    assert [(k["name"], k["revoked_at"] is None) for k in listed] == [
        ("app", True),
        ("batch", False),
    ]
    for key, raw in zip(listed, shell.raw, strict=True):
        assert raw.startswith(key["prefix"])
        assert len(key["prefix"]) < len(raw)
    assert "token" not in listed[0]
    _no_secret(shell, json.dumps(listed) + table)
    assert [line.split()[-1] for line in table.splitlines()[1:]] == ["live", "revoked"]


def test_providers_show_their_keys_last_four_and_masked_headers(shell: Shell) -> None:
    [provider] = shell.json("providers", "list", "--tenant", "acme")
    table = shell.run("providers", "list", "--tenant", "acme")
    tenant_id = shell.tenant_id("acme")
    credentials = shell.api(f"/tenants/{tenant_id}/providers/{provider['id']}/credentials")

    assert provider["header_names"] == ["x-team"]
    assert provider["keys"] == credentials["items"]
    assert [k["last4"] for k in provider["keys"]] == [PROVIDER_KEY[-4:]]
    assert f"…{PROVIDER_KEY[-4:]}" in table
    _no_secret(shell, json.dumps(provider) + table)


def test_models_list_their_deployments_in_failover_order(shell: Shell) -> None:
    [model] = shell.json("models", "list", "--tenant", "acme")
    table = shell.run("models", "list", "--tenant", "acme")

    assert (model["name"], model["pricing"]["input_per_mtok"]) == ("chat", 1.0)
    assert [(d["provider"], d["upstream_model"], d["priority"]) for d in model["deployments"]] == [
        ("mock", "gpt-small", 0),
        ("mock", "gpt-big", 1),
    ]
    assert "mock:gpt-small, mock:gpt-big" in table


def test_usage_summary_adds_up_the_tenants_recent_calls(shell: Shell) -> None:
    acme, globex = shell.tenant_id("acme"), shell.tenant_id("globex")
    now = utcnow()

    async def record() -> None:
        settings = ControlSettings.from_env(environ=shell.env, env_file=None)
        database = Database(settings.database_url)
        try:
            await add_calls(
                database,
                call(acme, "c1", now - timedelta(hours=2), input_tokens=10, output_tokens=5),
                call(acme, "c2", now - timedelta(hours=1), input_tokens=7, status="failed"),
                call(acme, "old", now - timedelta(days=9), input_tokens=1000),
                call(globex, "g1", now - timedelta(hours=1), input_tokens=99),
            )
        finally:
            await database.dispose()

    asyncio.run(record())
    week = shell.json("usage", "summary", "--tenant", "acme", "--days", "7")
    month = shell.json("usage", "summary", "--tenant", "acme")
    table = shell.run("usage", "summary", "--tenant", "acme", "--days", "7")

    assert [
        (m["model"], m["calls"], m["failed_calls"], m["input_tokens"]) for m in week["models"]
    ] == [("chat", 2, 1, 17)]
    assert month["models"][0]["input_tokens"] == 1017
    assert table.splitlines()[1].split()[:2] == ["MODEL", "CALLS"]
    assert table.splitlines()[2].split()[:3] == ["chat", "2", "1"]


def test_reads_of_an_unknown_tenant_fail_as_a_user_mistake(
    shell: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["tenants", "show", "nope"], ["members", "list", "--tenant", "nope"]):
        assert main(argv) == 2
        assert "'nope' does not exist" in capsys.readouterr().err
    assert main(["usage", "summary", "--tenant", "acme", "--days", "0"]) == 2
    assert "--days" in capsys.readouterr().err
