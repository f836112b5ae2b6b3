"""Budget periods over the contract: the control plane's route, the engine's boundary.

The control plane (in-process, real database) resolves a key whose daily
budget in New York is spent; the engine refuses it, then, with its clock
moved to the period's end, serves it: the reset needs no new route.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from junction_contracts.periods import window_at
from junction_contracts.telemetry import CallEvent
from junction_control.app import create_internal_app
from junction_control.db import Database
from junction_control.declarative.apply import apply_spec
from junction_control.declarative.spec import parse_spec
from junction_control.settings import ControlSettings
from junction_control.tokens import service as tokens
from junction_control.usage.ingest import ingest_events
from junction_engine.app import create_app
from junction_engine.settings import EngineSettings
from junction_mockllm.app import create_app as create_mock_app

KEY = "jk-contract-period-" + "d" * 24
NY = "America/New_York"
SPEC = {
    "tenants": [
        {
            "name": "acme",
            "providers": [
                {
                    "name": "mock-openai",
                    "type": "openai",
                    "base_url": "http://mock/v1",
                    "keys": [{"name": "default", "value": "mock-contract-provider-key"}],
                },
            ],
            "models": [
                {
                    "name": "chat",
                    "pricing": {"input_per_mtok": 0.5, "output_per_mtok": 1.5},
                    "deployments": [{"provider": "mock-openai", "model": "mock-gpt"}],
                },
            ],
            "tokens": [
                {
                    "name": "daily",
                    "value": KEY,
                    "budget_usd": 0.01,
                    "budget_period": "daily",
                    "budget_timezone": NY,
                },
            ],
        }
    ],
}
CALL = {"model": "chat", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Planes:
    engine: httpx.AsyncClient
    database: Database
    clock: Clock


@pytest.fixture
async def planes(database_url: str, tmp_path: Path) -> AsyncIterator[Planes]:
    env = {"JUNCTION_DATABASE_URL": database_url, "JUNCTION_VAR_DIR": str(tmp_path / "var")}
    settings = ControlSettings.from_env(environ=env, env_file=None)
    database = Database(settings.database_url)
    await database.migrate()
    async with database.session() as session:
        await apply_spec(session, settings.keyring, parse_spec(SPEC, {}))
        await session.commit()
    engine_settings = EngineSettings.from_env(
        {"JUNCTION_VAR_DIR": env["JUNCTION_VAR_DIR"], "JUNCTION_CONTROL_URL": "http://control"},
        env_file=None,
    )
    clock = Clock()
    mock_app = create_mock_app()
    engine = create_app(
        engine_settings,
        upstream_transport=httpx.ASGITransport(app=mock_app),
        control_transport=httpx.ASGITransport(app=create_internal_app(settings, database=database)),
        wall_clock=clock,
    )
    try:
        async with (
            engine.router.lifespan_context(engine),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=engine),
                base_url="http://e",
                headers={"authorization": f"Bearer {KEY}"},
            ) as client,
        ):
            yield Planes(client, database, clock)
    finally:
        await database.dispose()


async def spend_the_day(database: Database, cost: float) -> None:
    """A call of the key, started a minute ago (in today's period), that cost `cost`."""
    async with database.session() as session:
        token = await tokens.find_token_by_hash(session, tokens.hash_token(KEY))
        assert token is not None
        started = max(time.time() - 60, window_at("daily", NY, time.time()).start)
        event = CallEvent(
            id=uuid.uuid4().hex,
            kind="finished",
            call_id=uuid.uuid4().hex,
            at=started + 1,
            tenant_id=token.tenant_id,
            token_id=token.id,
            model="chat",
            started_at=started,
            status="success",
            http_status=200,
            cost_usd=cost,
        )
        assert (await ingest_events(session, [event])).accepted == 1
        await session.commit()


async def test_a_spent_daily_budget_is_served_again_at_midnight_in_its_zone(
    planes: Planes,
) -> None:
    await spend_the_day(planes.database, 0.01)
    refused = await planes.engine.post("/v1/chat/completions", json=CALL)
    midnight = window_at("daily", NY, planes.clock.now).end
    planes.clock.now = midnight - 0.5
    still = await planes.engine.post("/v1/chat/completions", json=CALL)
    planes.clock.now = midnight
    served = await planes.engine.post("/v1/chat/completions", json=CALL)

    assert (refused.status_code, still.status_code) == (402, 402)
    assert "daily budget of $0.01" in refused.json()["error"]["message"]
    assert served.status_code == 200, served.text
