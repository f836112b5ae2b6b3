"""`apply -f`: idempotent create-or-update by natural names."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from sqlalchemy import text

from junction_control.db import Database
from junction_control.declarative import ApplyReport, apply_spec, parse_spec
from junction_control.errors import InvalidInput, NotFound
from junction_control.models import service as models
from junction_control.providers import service as providers
from junction_control.settings import ControlSettings
from junction_control.tenants import service as tenants
from junction_control.tokens import service as tokens

from .test_schema import TABLES

FILE = """
tenants:
  - name: demo
    providers:
      - name: mock-openai
        type: openai
        base_url: http://127.0.0.1:8100/v1
        headers: {x-team: env:TEAM}
        keys: [{name: default, value: env:MOCK_KEY}]
    models:
      - name: demo
        deployments: [{provider: mock-openai, model: mock-gpt, priority: 0, weight: 1}]
        pricing: {input_per_mtok: 0.5, output_per_mtok: 1.5}
    tokens:
      - name: demo
        value: env:JUNCTION_DEMO_TOKEN
        models: [demo]
        rpm: 600
      - name: generated
"""
ENV = {
    "MOCK_KEY": "sk-mock-key-1234567890",
    "TEAM": "core",
    "JUNCTION_DEMO_TOKEN": "jk-demo-token-for-the-demo-only",
}


def _spec(text_: str = FILE, env: dict[str, str] | None = None) -> Any:
    return parse_spec(yaml.safe_load(text_), ENV if env is None else env)


async def _apply(database: Database, settings: ControlSettings, spec: Any) -> ApplyReport:
    async with database.session() as session:
        report = await apply_spec(session, settings.keyring, spec, egress=settings.egress)
        await session.commit()
    return report


async def _snapshot(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    async with database.engine.connect() as conn:
        return {
            t: sorted(tuple(r) for r in (await conn.execute(text(f"SELECT * FROM {t}"))).all())
            for t in TABLES
        }


async def test_applying_twice_changes_nothing_the_second_time(
    database: Database, settings: ControlSettings
) -> None:
    first = await _apply(database, settings, _spec())
    before = await _snapshot(database)
    second = await _apply(database, settings, _spec())
    after = await _snapshot(database)

    assert {c.outcome for c in first.changes} == {"created"}
    assert [c.line() for c in first.changes][:2] == [
        "tenant demo: created",
        "provider demo/mock-openai: created",
    ]
    assert len(first.generated_tokens) == 1
    assert first.generated_tokens[0][0] == "demo/generated"
    assert {len(rows) for rows in before.values()} == {1, 2}  # two tokens, one of the rest
    assert second.changed is False
    assert second.summary() == "nothing changed"
    assert "tenant demo: unchanged" in [c.line() for c in second.changes]
    assert second.generated_tokens == []
    assert after == before


async def test_declared_token_value_is_stored_as_its_hash(
    database: Database, settings: ControlSettings
) -> None:
    await _apply(database, settings, _spec())

    async with database.session() as session:
        token = await tokens.find_token_by_hash(
            session, tokens.hash_token(ENV["JUNCTION_DEMO_TOKEN"])
        )
        model = await models.find_model(session, await tenants.get_tenant(session, "demo"), "demo")
    assert token is not None
    assert model is not None
    # stored by the model's id, shown by its name
    assert (token.name, token.allowed_model_ids, token.rpm) == ("demo", [model.id], 600)
    dump = repr(await _snapshot(database))
    assert ENV["JUNCTION_DEMO_TOKEN"] not in dump
    assert ENV["MOCK_KEY"] not in dump


async def test_changes_are_updates_in_place(database: Database, settings: ControlSettings) -> None:
    await _apply(database, settings, _spec())
    ids_before = {t: [r[0] for r in rows] for t, rows in (await _snapshot(database)).items()}
    changed = (
        FILE.replace("http://127.0.0.1:8100/v1", "http://127.0.0.1:8200/v1")
        .replace("rpm: 600", "rpm: 60")
        .replace("output_per_mtok: 1.5", "output_per_mtok: 2.0")
    )

    report = await _apply(
        database, settings, _spec(changed, {**ENV, "MOCK_KEY": "sk-rotated-key-0987654321"})
    )

    lines = [c.line() for c in report.changes]
    assert "provider demo/mock-openai: updated (base_url)" in lines
    assert "key demo/mock-openai/default: updated (value)" in lines
    assert "model demo/demo: updated (pricing)" in lines
    assert "token demo/demo: updated (rpm)" in lines
    assert "token demo/generated: unchanged" in lines
    ids_after = {t: [r[0] for r in rows] for t, rows in (await _snapshot(database)).items()}
    assert ids_after == ids_before
    async with database.session() as session:
        tenant = await tenants.get_tenant(session, "demo")
        provider = await providers.get_provider(session, tenant, "mock-openai")
        credential = await providers.find_credential(session, provider, "default")
        assert credential is not None
        assert providers.credential_key(settings.keyring, credential) == "sk-rotated-key-0987654321"


def test_missing_environment_variable_is_a_clear_error() -> None:
    env = {k: v for k, v in ENV.items() if k != "MOCK_KEY"}
    with pytest.raises(InvalidInput) as caught:
        _spec(env=env)
    assert str(caught.value) == (
        "tenants[0].providers[0].keys[0].value: environment variable MOCK_KEY is not set"
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("type: openai", "type: opneai"), "tenants[0].providers[0]"),
        (
            ("rpm: 600", "rpm: many"),
            "tenants[0].tokens[0].rpm: must be an integer from 1 to 2147483647, got 'many'",
        ),
        (("pricing:", "pricingg:"), "tenants[0].models[0]: unknown field 'pricingg'"),
        (
            ("input_per_mtok: 0.5", "input_per_mtok: -1"),
            "pricing.input_per_mtok: must be a number from 0 to 1000000, got -1",
        ),
    ],
)
async def test_mistakes_name_their_place_in_the_file(
    database: Database, settings: ControlSettings, edit: tuple[str, str], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("]", r"\]")):
        await _apply(database, settings, _spec(FILE.replace(*edit)))


async def test_token_for_an_undeclared_model_is_refused(
    database: Database, settings: ControlSettings
) -> None:
    with pytest.raises(NotFound, match="model 'nope' does not exist"):
        await _apply(database, settings, _spec(FILE.replace("models: [demo]", "models: [nope]")))


def test_upstream_model_names_are_free_text_without_spaces() -> None:
    accepted = _spec(FILE.replace("model: mock-gpt", 'model: "mock-gpt+fault=500"'))
    assert accepted.tenants[0].models[0].deployments[0].model == "mock-gpt+fault=500"
    with pytest.raises(InvalidInput, match=r"deployments\[0\]\.model: upstream model name"):
        _spec(FILE.replace("model: mock-gpt", 'model: "mock gpt"'))


def test_base_url_may_come_from_the_environment() -> None:
    text_ = FILE.replace("base_url: http://127.0.0.1:8100/v1", "base_url: env:UPSTREAM_URL")
    spec = _spec(text_, {**ENV, "UPSTREAM_URL": "http://10.1.2.3:8000/v1"})
    assert spec.tenants[0].providers[0].base_url == "http://10.1.2.3:8000/v1"
    with pytest.raises(InvalidInput, match="environment variable UPSTREAM_URL is not set"):
        _spec(text_)
    with pytest.raises(InvalidInput, match="base_url"):
        _spec(text_, {**ENV, "UPSTREAM_URL": "not a url"})


async def test_a_model_without_a_price_warns_and_free_is_kept(
    database: Database, settings: ControlSettings
) -> None:
    unpriced = FILE.replace(
        "        pricing: {input_per_mtok: 0.5, output_per_mtok: 1.5}\n",
        "      - name: cheap\n        deployments: [{provider: mock-openai, model: mock-mini}]\n"
        "        pricing: {free: true}\n",
    )
    report = await _apply(database, settings, _spec(unpriced))
    # 'demo' lost its price: refused until priced or marked free; 'cheap' is free on purpose
    priced = [w for w in report.warnings if "price" in w]
    assert len(priced) == 1
    assert "demo/demo has no price" in priced[0]
    async with database.engine.connect() as conn:
        rows = dict((await conn.execute(text("SELECT name, free FROM ai_models"))).all())
    assert {name: bool(free) for name, free in rows.items()} == {"demo": False, "cheap": True}
