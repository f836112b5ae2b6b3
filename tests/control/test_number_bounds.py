"""Numbers are held to what both databases store, with the same clear refusal on each.

PostgreSQL's INTEGER is 32-bit; SQLite stores 64 bits anywhere. A limit past
2,147,483,647 would be stored on one and fail with a driver error on the
other, so the admin API, the CLI and `apply -f` refuse it before any write,
naming the field, and the largest value that is allowed is stored on both.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from junction_control.bounds import INT32_MAX
from junction_control.cli import main
from junction_control.db import Database
from junction_control.settings import ControlSettings

from .conftest import Demo, World
from .test_telemetry import count_rows, counted, finished, send, started

FILE = """
tenants:
  - name: bounds
    providers:
      - name: mock
        type: openai
        base_url: http://127.0.0.1:8100/v1
        keys: [{name: default, value: sk-bounds-provider-key-0123456789, weight: 1}]
    models:
      - name: chat
        pricing: {input_per_mtok: 0.5, output_per_mtok: 1.5}
        deployments: [{provider: mock, model: gpt, priority: 0, weight: 1}]
    tokens:
      - name: app
        models: [chat]
        rpm: 60
        tpm: 1000
        budget_usd: 10.0
"""
JUST_OVER = str(INT32_MAX + 1)


def _rows(env: dict[str, str], sql: str) -> list[tuple[object, ...]]:
    async def read() -> list[tuple[object, ...]]:
        settings = ControlSettings.from_env(environ=env, env_file=None)
        database = Database(settings.database_url)
        try:
            async with database.engine.connect() as conn:
                return [tuple(row) for row in (await conn.execute(text(sql))).all()]
        finally:
            await database.dispose()

    return asyncio.run(read())


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (
            ("tpm: 1000", "tpm: 1e11"),
            "tenants[0].tokens[0].tpm: must be an integer from 1 to 2147483647, got '1e11'",
        ),
        (
            ("tpm: 1000", "tpm: 1.0e+11"),
            "tenants[0].tokens[0].tpm: must be an integer from 1 to 2147483647, got 100000000000.0",
        ),
        (
            ("tpm: 1000", f"tpm: {JUST_OVER}"),
            f"tenants[0].tokens[0].tpm: must be an integer from 1 to 2147483647, got {JUST_OVER}",
        ),
        (
            ("rpm: 60", "rpm: 0"),
            "tenants[0].tokens[0].rpm: must be an integer from 1 to 2147483647, got 0",
        ),
        (
            ("priority: 0", f"priority: {JUST_OVER}"),
            "tenants[0].models[0].deployments[0].priority: must be an integer "
            f"from -2147483647 to 2147483647, got {JUST_OVER}",
        ),
        (
            ("model: gpt, priority: 0, weight: 1", f"model: gpt, weight: {JUST_OVER}"),
            "tenants[0].models[0].deployments[0].weight: must be an integer from 1 to 2147483647",
        ),
        (
            (
                "sk-bounds-provider-key-0123456789, weight: 1",
                f"sk-x-0123456789abcdef, weight: {JUST_OVER}",
            ),
            "tenants[0].providers[0].keys[0].weight: must be an integer from 1 to 2147483647",
        ),
        (
            ("budget_usd: 10.0", "budget_usd: 1.0e+13"),
            "tenants[0].tokens[0].budget_usd: must be a number from 0 to 1000000000000",
        ),
        (
            ("budget_usd: 10.0", "budget_usd: .inf"),
            "tenants[0].tokens[0].budget_usd: must be a number from 0 to 1000000000000",
        ),
        (
            ("input_per_mtok: 0.5", "input_per_mtok: 2000000.0"),
            "tenants[0].models[0].pricing.input_per_mtok: must be a number from 0 to 1000000",
        ),
    ],
)
def test_apply_refuses_a_number_past_the_column_and_writes_nothing(
    cli_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: tuple[str, str],
    says: str,
) -> None:
    assert edit[0] in FILE
    (tmp_path / "junction.yaml").write_text(FILE.replace(*edit))
    assert main(["migrate"]) == 0
    capsys.readouterr()

    assert main(["apply", "-f", "junction.yaml"]) == 2

    err = capsys.readouterr().err
    assert err.startswith(f"junction-control: error: {says}")
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert _rows(cli_env, "SELECT name FROM tenants") == []


def test_apply_stores_the_largest_allowed_values_on_both_databases(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    biggest = (
        FILE.replace("tpm: 1000", f"tpm: {INT32_MAX}")
        .replace("rpm: 60", f"rpm: {INT32_MAX}")
        .replace("priority: 0, weight: 1", f"priority: -{INT32_MAX}, weight: {INT32_MAX}")
        .replace("0123456789, weight: 1", f"0123456789, weight: {INT32_MAX}")
        .replace("budget_usd: 10.0", "budget_usd: 1000000000000")
        .replace("input_per_mtok: 0.5", "input_per_mtok: 1000000")
    )
    (tmp_path / "junction.yaml").write_text(biggest)

    assert main(["apply", "-f", "junction.yaml"]) == 0

    assert _rows(cli_env, "SELECT rpm, tpm, budget_usd FROM user_tokens") == [
        (INT32_MAX, INT32_MAX, 1e12)
    ]
    assert _rows(cli_env, "SELECT priority, weight FROM deployments") == [(-INT32_MAX, INT32_MAX)]
    assert _rows(cli_env, "SELECT weight FROM credentials") == [(INT32_MAX,)]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (
            ["token", "create", "--tenant", "acme", "--name", "t", "--tpm", JUST_OVER],
            "junction-control: error: tpm must be an integer from 1 to 2147483647, "
            f"got {JUST_OVER}",
        ),
        (
            ["token", "create", "--tenant", "acme", "--name", "t", "--rpm", "100000000000"],
            "junction-control: error: rpm must be an integer from 1 to 2147483647, "
            "got 100000000000",
        ),
        (
            ["token", "create", "--tenant", "acme", "--name", "t", "--budget-usd", "inf"],
            "junction-control: error: budget_usd must be a number from 0 to 1000000000000",
        ),
        (
            ["token", "create", "--tenant", "acme", "--name", "t", "--expires-in-days", "1e9"],
            "junction-control: error: --expires-in-days must be a number above 0 and at most",
        ),
    ],
)
def test_the_cli_refuses_a_token_limit_past_the_column_and_writes_nothing(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    assert main(["tenant", "create", "acme"]) == 0
    capsys.readouterr()

    assert main(argv) == 2

    err = capsys.readouterr().err
    assert err.startswith(says)
    assert err.count("\n") == 1
    assert _rows(cli_env, "SELECT name FROM user_tokens") == []


def test_the_cli_refuses_a_fraction_for_a_whole_number(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["token", "create", "--tenant", "acme", "--name", "t", "--tpm", "1e11"])

    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --tpm: invalid int value: '1e11'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("deployment", "price", "says"),
    [
        (
            f"oai:gpt:{JUST_OVER}",
            "0.5",
            "priority must be an integer from -2147483647 to 2147483647",
        ),
        (f"oai:gpt:0:{JUST_OVER}", "0.5", "weight must be an integer from 1 to 2147483647"),
        ("oai:gpt", "2e6", "input price must be a number from 0 to 1000000"),
    ],
)
def test_the_cli_refuses_a_deployment_or_price_past_the_column_and_writes_nothing(
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    deployment: str,
    price: str,
    says: str,
) -> None:
    monkeypatch.setenv("OPENAI_KEY", "sk-cli-provider-key-abcdef123456")
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
            ]
        )
        == 0
    )
    capsys.readouterr()
    argv = ["model", "create", "--tenant", "acme", "--name", "m", "--deployment", deployment]

    assert main([*argv, "--input-price", price]) == 2

    err = capsys.readouterr().err
    assert err.startswith(f"junction-control: error: {says}")
    assert _rows(cli_env, "SELECT name FROM ai_models") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "big", "tpm": 1e11}, "tpm"),
        ({"name": "big", "tpm": INT32_MAX + 1}, "tpm"),
        ({"name": "big", "rpm": 0}, "rpm"),
        ({"name": "big", "budget_usd": 1e13}, "budget_usd"),
    ],
)
async def test_the_api_refuses_a_token_limit_past_the_column_naming_the_field(
    admin: httpx.AsyncClient, world: World, database: Database, body: dict[str, object], field: str
) -> None:
    refused = await admin.post(
        f"/tenants/{world.acme.tenant_id}/tokens", json=body, headers=world["admin"].headers
    )

    assert refused.status_code == 422
    error = refused.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_request", field)
    assert error["message"].startswith(f"{field}: ")
    async with database.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT name FROM user_tokens"))).all()
    assert "big" not in {row.name for row in stored}


async def test_the_api_stores_the_largest_limits_on_both_databases(
    admin: httpx.AsyncClient, world: World
) -> None:
    created = await admin.post(
        f"/tenants/{world.acme.tenant_id}/tokens",
        json={"name": "big", "rpm": INT32_MAX, "tpm": INT32_MAX, "budget_usd": 1e12},
        headers=world["admin"].headers,
    )
    assert created.status_code == 201
    assert (created.json()["rpm"], created.json()["tpm"]) == (INT32_MAX, INT32_MAX)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"upstream_model": "gpt", "priority": INT32_MAX + 1}, "priority"),
        ({"upstream_model": "gpt", "weight": INT32_MAX + 1}, "weight"),
    ],
)
async def test_the_api_refuses_a_deployment_number_past_the_column(
    admin: httpx.AsyncClient, world: World, body: dict[str, object], field: str
) -> None:
    refused = await admin.post(
        f"/tenants/{world.acme.tenant_id}/ai-models/{world.acme_model_id}/deployments",
        json={"provider_id": world.acme.provider_id, **body},
        headers=world["admin"].headers,
    )

    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == field


async def test_the_api_refuses_a_price_past_what_rollups_add_up(
    admin: httpx.AsyncClient, world: World
) -> None:
    refused = await admin.post(
        f"/tenants/{world.acme.tenant_id}/ai-models",
        json={"name": "dear", "pricing": {"input_per_mtok": 2e6}},
        headers=world["admin"].headers,
    )

    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "pricing.input_per_mtok"


@pytest.mark.parametrize("field", ["input_tokens", "reasoning_tokens"])
async def test_telemetry_with_a_count_past_the_column_is_refused_alone_on_both_databases(
    internal_client: httpx.AsyncClient,
    settings: ControlSettings,
    database: Database,
    demo: Demo,
    field: str,
) -> None:
    good, bad = uuid.uuid4().hex, uuid.uuid4().hex
    events = [
        started(demo, good),
        finished(demo, good),
        finished(demo, bad, **{field: INT32_MAX + 1}),
    ]

    answer = await send(internal_client, settings, events)

    assert answer.status_code == 202
    assert answer.json() == counted(2, 0, rejected=1)
    assert await count_rows(database) == 1
