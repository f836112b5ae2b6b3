"""The contract test: the engine against the real control plane, in-process.

Both apps run in this process over ASGI transports, with a real database
(SQLite and PostgreSQL), the real signing and sealing, and the mock LLM as
provider. The engine reads the internal secret the control plane wrote, the
way a deployment on one host does.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from junction_contracts.telemetry import CallEvent
from junction_control.app import create_internal_app
from junction_control.credits.models import LedgerEntry
from junction_control.db import Database
from junction_control.declarative.apply import apply_spec
from junction_control.declarative.spec import parse_spec
from junction_control.settings import ControlSettings
from junction_control.tables import UserToken
from junction_control.tokens import service as tokens
from junction_control.usage.ingest import ingest_events
from junction_control.usage.models import ModelCall
from junction_control.usage.service import usage_summary
from junction_engine.app import create_app
from junction_engine.settings import EngineSettings
from junction_mockllm.app import create_app as create_mock_app

TOKEN = "jk-contract-" + "a" * 32
CAPPED = "jk-contract-" + "c" * 32
PROVIDER_KEY = "mock-contract-provider-key"
SPEC = {
    "tenants": [
        {
            "name": "acme",
            "providers": [
                {
                    "name": "mock-openai",
                    "type": "openai",
                    "base_url": "http://mock/v1",
                    "keys": [{"name": "default", "value": "env:PROVIDER_KEY"}],
                },
                {
                    "name": "mock-anthropic",
                    "type": "anthropic",
                    "base_url": "http://mock",
                    "keys": [{"name": "default", "value": "env:PROVIDER_KEY"}],
                },
            ],
            "models": [
                {
                    "name": "chat",
                    "pricing": {"input_per_mtok": 0.5, "output_per_mtok": 1.5},
                    "deployments": [{"provider": "mock-openai", "model": "mock-gpt"}],
                },
                {
                    "name": "claude",
                    "pricing": {"free": True},
                    "deployments": [{"provider": "mock-anthropic", "model": "mock-claude"}],
                },
                # no price and not free: refused
                {"name": "hidden", "deployments": [{"provider": "mock-openai", "model": "x"}]},
            ],
            "tokens": [
                {"name": "app", "value": "env:TOKEN", "models": ["chat", "claude"]},
                {"name": "capped", "value": "env:CAPPED", "budget_usd": 0.5},
            ],
        }
    ],
}


@dataclass
class Planes:
    engine: httpx.AsyncClient
    mock: httpx.AsyncClient
    database: Database
    engine_app: Starlette

    async def refresh_routes(self, key: str = TOKEN) -> None:
        """Let the engine fetch the key's route again (past its TTL, a call serves the
        stale route and refreshes it behind the caller)."""
        await self.engine.get("/v1/models", headers={"authorization": f"Bearer {key}"})
        await self.engine_app.state.engine.routes.drain()

    async def flush_telemetry(self) -> None:
        """Send the engine's pending call events to the control plane now."""
        await self.engine_app.state.engine.telemetry.flush()


@pytest.fixture
async def planes(database_url: str, tmp_path: Path) -> AsyncIterator[Planes]:
    env = {"JUNCTION_DATABASE_URL": database_url, "JUNCTION_VAR_DIR": str(tmp_path / "var")}
    control_settings = ControlSettings.from_env(environ=env, env_file=None)
    database = Database(control_settings.database_url)
    await database.migrate()
    async with database.session() as session:
        spec = parse_spec(SPEC, {"PROVIDER_KEY": PROVIDER_KEY, "TOKEN": TOKEN, "CAPPED": CAPPED})
        await apply_spec(session, control_settings.keyring, spec)
        await session.commit()
    internal = create_internal_app(control_settings, database=database)
    engine_settings = EngineSettings.from_env(
        {
            "JUNCTION_VAR_DIR": env["JUNCTION_VAR_DIR"],
            "JUNCTION_CONTROL_URL": "http://control",
            "JUNCTION_ROUTE_TTL_SECONDS": "0.001",
        },
        env_file=None,
    )
    mock_app = create_mock_app()
    engine = create_app(
        engine_settings,
        upstream_transport=httpx.ASGITransport(app=mock_app),
        control_transport=httpx.ASGITransport(app=internal),
    )
    try:
        async with (
            engine.router.lifespan_context(engine),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=engine),
                base_url="http://e",
                headers={"authorization": f"Bearer {TOKEN}"},
            ) as client,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=mock_app), base_url="http://mock"
            ) as mock,
        ):
            yield Planes(engine=client, mock=mock, database=database, engine_app=engine)
    finally:
        await database.dispose()


async def test_a_key_created_in_control_calls_the_provider_through_the_engine(
    planes: Planes,
) -> None:
    resp = await planes.engine.post(
        "/v1/chat/completions",
        json={"model": "chat", "messages": [{"role": "user", "content": "over the contract"}]},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"].endswith("over the contract")
    [sent] = (await planes.mock.get("/_mock/requests")).json()["requests"]
    # the provider key was unsealed only for the upstream call
    assert sent["headers"]["authorization"] == f"Bearer {PROVIDER_KEY}"
    assert json.loads(sent["body"])["model"] == "mock-gpt"


async def test_streams_and_conversion_work_over_the_contract(planes: Planes) -> None:
    resp = await planes.engine.post(
        "/v1/chat/completions",
        json={"model": "claude", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert resp.status_code == 200
    assert resp.text.rstrip().endswith("data: [DONE]")
    assert "mock-claude" in resp.text


async def test_models_are_what_the_token_allows(planes: Planes) -> None:
    ids = [m["id"] for m in (await planes.engine.get("/v1/models")).json()["data"]]
    assert ids[:2] == ["chat", "claude"]
    assert "hidden" not in ids
    denied = await planes.engine.post(
        "/v1/chat/completions",
        json={"model": "hidden", "messages": [{"role": "user", "content": "x"}]},
    )
    assert denied.status_code == 403


async def test_revocation_in_control_reaches_the_engine(planes: Planes) -> None:
    assert (await planes.engine.get("/v1/models")).status_code == 200
    async with planes.database.session() as session:
        token = (
            await session.exec(
                select(UserToken).where(UserToken.token_hash == tokens.hash_token(TOKEN))
            )
        ).one()
        await tokens.revoke_token(session, token)
        await session.commit()
    await planes.refresh_routes()
    resp = await planes.engine.get("/v1/models")
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "revoked_api_key"


async def test_an_unknown_key_is_401_after_asking_control(planes: Planes) -> None:
    resp = await planes.engine.get("/v1/models", headers={"authorization": "Bearer jk-unknown"})
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "invalid_api_key"


async def test_spend_recorded_by_control_caps_the_key_in_the_engine(planes: Planes) -> None:
    ok = await planes.engine.post(
        "/v1/chat/completions",
        headers={"authorization": f"Bearer {CAPPED}"},
        json={"model": "chat", "messages": [{"role": "user", "content": "x"}]},
    )
    assert ok.status_code == 200
    async with planes.database.session() as session:
        token = (
            await session.exec(
                select(UserToken).where(UserToken.token_hash == tokens.hash_token(CAPPED))
            )
        ).one()
        await ingest_events(
            session,
            [
                CallEvent(
                    id="e1",
                    kind="finished",
                    call_id="earlier-call",
                    at=time.time(),
                    tenant_id=token.tenant_id,
                    token_id=token.id,
                    model="chat",
                    status="success",
                    started_at=time.time() - 1,
                    cost_usd=0.75,
                )
            ],
        )
        await session.commit()
    await planes.refresh_routes(CAPPED)
    refused = await planes.engine.post(
        "/v1/chat/completions",
        headers={"authorization": f"Bearer {CAPPED}"},
        json={"model": "chat", "messages": [{"role": "user", "content": "x"}]},
    )
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "insufficient_quota"


async def test_a_model_without_a_price_is_refused_and_a_free_one_served(planes: Planes) -> None:
    unpriced = await planes.engine.post(
        "/v1/chat/completions",
        headers={"authorization": f"Bearer {CAPPED}"},
        json={"model": "hidden", "messages": [{"role": "user", "content": "x"}]},
    )
    assert unpriced.status_code == 403
    assert unpriced.json()["error"]["code"] == "model_not_priced"
    free = await planes.engine.post(
        "/v1/messages",
        headers={"authorization": f"Bearer {TOKEN}", "anthropic-version": "2023-06-01"},
        json={"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
    )
    assert free.status_code == 200


async def test_a_call_no_provider_offers_is_recorded_refused_and_never_billed(
    planes: Planes,
) -> None:
    # claude's only provider speaks Anthropic, which has no embeddings
    resp = await planes.engine.post("/v1/embeddings", json={"model": "claude", "input": "x"})
    await planes.flush_telemetry()

    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "unsupported_operation"
    async with planes.database.session() as session:
        [call] = (await session.exec(select(ModelCall))).all()
        charges = (await session.exec(select(LedgerEntry))).all()
        since = call.started_at.replace(minute=0, second=0, microsecond=0)
        [usage] = await usage_summary(session, call.tenant_id, since, since + timedelta(hours=1))
    assert (call.status, call.operation, call.attempts, call.cost_usd) == (
        "refused",
        "embeddings",
        0,
        0.0,
    )
    assert (call.http_status, call.error_code) == (400, "unsupported_operation")
    assert charges == []
    assert (usage.calls, usage.failed_calls, usage.refused_calls) == (1, 0, 1)
