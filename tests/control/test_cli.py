"""The `junction-control` command, driven through `main([...])`."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import httpx
import pytest

from junction_contracts.provider_headers import open_headers
from junction_contracts.route import Route
from junction_contracts.sealing import derive_sealing_key, unseal
from junction_control.app import create_internal_app
from junction_control.cli import main
from junction_control.db import Database
from junction_control.settings import ControlSettings
from junction_control.tokens.service import hash_token

from .conftest import RESOLVE_PATH, signed_post
from .test_declarative import FILE

PROVIDER_KEY = "sk-cli-provider-key-abcdef123456"


def _resolve(env: dict[str, str], raw_token: str) -> httpx.Response:
    async def call() -> httpx.Response:
        settings = ControlSettings.from_env(environ=env, env_file=None)
        database = Database(settings.database_url)
        app = create_internal_app(settings, database=database)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
                return await signed_post(
                    client,
                    settings.internal_secret,
                    RESOLVE_PATH,
                    {"token_hash": hash_token(raw_token)},
                )
        finally:
            await database.dispose()

    return asyncio.run(call())


def test_building_a_tenant_from_commands_gives_a_working_route(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_KEY", PROVIDER_KEY)
    assert main(["migrate"]) == 0
    assert main(["tenant", "create", "acme"]) == 0
    assert (
        main(
            [
                "provider",
                "create",
                "--tenant",
                "acme",
                "--name",
                "oai",
                "--type",
                "openai",
                "--base-url",
                "http://127.0.0.1:8100/v1",
                "--key-env",
                "OPENAI_KEY",
                "--header",
                "x-org=acme",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "model",
                "create",
                "--tenant",
                "acme",
                "--name",
                "gpt",
                "--deployment",
                "oai:mock-gpt:1:3",
                "--input-price",
                "0.5",
                "--output-price",
                "1.5",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "token",
                "create",
                "--tenant",
                "acme",
                "--name",
                "app",
                "--models",
                "gpt",
                "--rpm",
                "60",
                "--expires-in-days",
                "30",
                "--json",
            ]
        )
        == 0
    )
    created = json.loads(capsys.readouterr().out)

    assert created["token"].startswith("jk-")
    assert created["prefix"] == created["token"][:12]
    assert PROVIDER_KEY not in capsys.readouterr().out
    route = Route.from_dict(_resolve(cli_env, created["token"]).json())
    model = route.model("gpt")
    assert model is not None
    (deployment,) = model.deployments
    assert (deployment.upstream_model, deployment.priority, deployment.weight) == ("mock-gpt", 1, 3)
    secret = ControlSettings.from_env(environ=cli_env, env_file=None).internal_secret
    sealed = deployment.provider.sealed_headers
    assert open_headers(derive_sealing_key(secret), deployment.provider.id, sealed) == {
        "x-org": "acme"
    }
    assert route.token.rpm == 60
    assert route.token.expires_at is not None
    credential = deployment.credentials[0]
    assert (
        unseal(derive_sealing_key(secret), credential.sealed_key, context=credential.id)
        == PROVIDER_KEY
    )


def test_token_create_prints_the_raw_token_once(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["tenant", "create", "acme"])
    capsys.readouterr()

    assert main(["token", "create", "--tenant", "acme", "--name", "app"]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("token acme/app created")
    assert out[-1].startswith("jk-")
    assert len(out[-1]) == 43


def test_apply_twice_reports_unchanged(
    cli_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "junction.yaml").write_text(FILE)
    monkeypatch.setenv("TEAM", "core")
    monkeypatch.setenv("JUNCTION_DEMO_TOKEN", "jk-demo-token-for-the-demo-only")
    # values may also come from ./.env; the process environment wins
    (tmp_path / ".env").write_text("MOCK_KEY=sk-mock-key-from-dotenv\n")

    assert main(["apply", "-f", "junction.yaml"]) == 0
    first = capsys.readouterr().out
    assert main(["apply", "-f", "junction.yaml"]) == 0
    second = capsys.readouterr().out

    assert "tenant demo: created" in first
    assert "token demo/generated value (shown once): jk-" in first
    assert "tenant demo: unchanged" in second
    assert "created" not in second
    assert "updated" not in second
    assert second.strip().endswith("nothing changed")
    assert _resolve(cli_env, "jk-demo-token-for-the-demo-only").status_code == 200


def test_apply_with_a_missing_variable_exits_2_without_traceback(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "junction.yaml").write_text(FILE)

    assert main(["apply", "-f", "junction.yaml"]) == 2

    err = capsys.readouterr().err
    assert "environment variable TEAM is not set" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tenant", "create", "acme"], "tenant 'acme' already exists"),
        (["token", "create", "--tenant", "nope", "--name", "x"], "tenant 'nope' does not exist"),
        (
            [
                "provider",
                "create",
                "--tenant",
                "acme",
                "--name",
                "p",
                "--type",
                "openai",
                "--base-url",
                "ftp://x",
            ],
            "must be an absolute http",
        ),
        (
            [
                "provider",
                "create",
                "--tenant",
                "acme",
                "--name",
                "p",
                "--type",
                "openai",
                "--base-url",
                "http://x",
                "--key-env",
                "NOT_SET_ANYWHERE",
            ],
            "environment variable NOT_SET_ANYWHERE is not set",
        ),
        (
            ["model", "create", "--tenant", "acme", "--name", "m", "--deployment", "nocolon"],
            "must be PROVIDER:UPSTREAM_MODEL",
        ),
        (["apply", "-f", "missing.yaml"], "cannot read missing.yaml"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    main(["tenant", "create", "acme"])
    capsys.readouterr()

    assert main(argv) == 2

    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("junction-control: error:")
    assert "Traceback" not in err


def test_bad_master_key_stops_every_command(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUNCTION_MASTER_KEY", "c2hvcnQ=")

    assert main(["migrate"]) == 2
    assert "master key must be 32 bytes" in capsys.readouterr().err


def test_master_key_rotation_keeps_every_key_readable(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_KEY", PROVIDER_KEY)
    main(["tenant", "create", "acme"])
    main(
        [
            "provider",
            "create",
            "--tenant",
            "acme",
            "--name",
            "oai",
            "--type",
            "openai",
            "--base-url",
            "http://127.0.0.1:8100/v1",
            "--key-env",
            "OPENAI_KEY",
        ]
    )
    main(["model", "create", "--tenant", "acme", "--name", "gpt", "--deployment", "oai:gpt-x"])
    main(["token", "create", "--tenant", "acme", "--name", "app", "--json"])
    raw = json.loads(capsys.readouterr().out.splitlines()[-1])["token"]

    assert main(["add-master-key"]) == 0
    assert main(["rotate-master-key"]) == 0
    out = capsys.readouterr().out

    key_file = Path(cli_env["JUNCTION_VAR_DIR"]) / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [line.split(":")[0] for line in key_file.read_text().splitlines()] == ["v1", "v2"]
    assert "re-wrapped 1 credential(s) under master key v2" in out
    route = Route.from_dict(_resolve(cli_env, raw).json())
    model = route.model("gpt")
    assert model is not None
    credential = model.deployments[0].credentials[0]
    secret = ControlSettings.from_env(environ=cli_env, env_file=None).internal_secret
    assert (
        unseal(derive_sealing_key(secret), credential.sealed_key, context=credential.id)
        == PROVIDER_KEY
    )
    assert main(["rotate-master-key"]) == 0
    assert "re-wrapped 0 credential(s)" in capsys.readouterr().out


def test_add_master_key_refuses_a_keyring_from_the_environment(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUNCTION_MASTER_KEY", "v1:" + "A" * 43 + "=")

    assert main(["add-master-key"]) == 2
    assert "comes from JUNCTION_MASTER_KEY" in capsys.readouterr().err


def test_a_model_created_without_a_price_warns_unless_free(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["tenant", "create", "acme"])
    capsys.readouterr()
    assert main(["model", "create", "--tenant", "acme", "--name", "bare"]) == 0
    bare = capsys.readouterr().out
    assert main(["model", "create", "--tenant", "acme", "--name", "gift", "--free"]) == 0
    gift = capsys.readouterr().out
    assert (
        main(["model", "create", "--tenant", "acme", "--name", "paid", "--output-price", "2"]) == 0
    )
    paid = capsys.readouterr().out
    assert "warning: model acme/bare has no price and is not marked free" in bare
    assert "warning" not in gift
    assert "warning" not in paid
