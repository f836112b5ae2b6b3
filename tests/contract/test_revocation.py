"""A key revoked in the control plane is refused by every engine at once, not after the TTL."""

from __future__ import annotations

import asyncio
import io
import secrets
from pathlib import Path

import httpx
import pytest

from junction_control import commands
from junction_control.app import create_internal_app
from junction_control.db import Database
from junction_control.declarative.apply import apply_spec
from junction_control.declarative.spec import parse_spec
from junction_control.settings import ControlSettings
from junction_engine.app import create_app
from junction_engine.settings import EngineSettings
from junction_mockllm.app import create_app as create_mock_app

pytestmark = pytest.mark.redis


async def test_revocation_reaches_every_engine_before_the_ttl(
    tmp_path: Path, redis_url: str
) -> None:
    token = "jk-revocation-" + secrets.token_hex(16)
    env = {
        "JUNCTION_DATABASE_URL": f"sqlite:///{tmp_path / 'junction.db'}",
        "JUNCTION_VAR_DIR": str(tmp_path / "var"),
        "JUNCTION_REDIS_URL": redis_url,
    }
    control = ControlSettings.from_env(environ=env, env_file=None)
    database = Database(control.database_url)
    await database.migrate()
    spec = parse_spec(
        {
            "tenants": [
                {
                    "name": "acme",
                    "providers": [
                        {
                            "name": "p",
                            "type": "openai",
                            "base_url": "http://mock/v1",
                            "keys": [{"name": "k", "value": "mock-key"}],
                        }
                    ],
                    "models": [
                        {"name": "m", "deployments": [{"provider": "p", "model": "mock-gpt"}]}
                    ],
                    "tokens": [{"name": "app", "value": token}],
                }
            ]
        },
        {},
    )
    async with database.session() as session:
        await apply_spec(session, control.keyring, spec)
        await session.commit()
    internal = create_internal_app(control, database=database)
    engine_env = {
        "JUNCTION_VAR_DIR": env["JUNCTION_VAR_DIR"],
        "JUNCTION_REDIS_URL": redis_url,
        "JUNCTION_CONTROL_URL": "http://control",
        "JUNCTION_ROUTE_TTL_SECONDS": "600",
    }  # the TTL alone would take 10 minutes
    mock = create_mock_app()
    engines = [
        create_app(
            EngineSettings.from_env(engine_env, env_file=None),
            upstream_transport=httpx.ASGITransport(app=mock),
            control_transport=httpx.ASGITransport(app=internal),
        )
        for _ in range(2)
    ]
    headers = {"authorization": f"Bearer {token}"}
    try:
        async with (
            engines[0].router.lifespan_context(engines[0]),
            engines[1].router.lifespan_context(engines[1]),
        ):
            clients = [
                httpx.AsyncClient(transport=httpx.ASGITransport(app=e), base_url="http://e")
                for e in engines
            ]
            for client, engine in zip(clients, engines, strict=True):
                assert (await client.get("/v1/models", headers=headers)).status_code == 200
                await asyncio.wait_for(engine.state.revocations.subscribed.wait(), 5)

            await commands.revoke_token(control, tenant="acme", name="app", out=io.StringIO())

            for client in clients:
                for _ in range(100):
                    resp = await client.get("/v1/models", headers=headers)
                    if resp.status_code == 401:
                        break
                    await asyncio.sleep(0.02)
                assert resp.status_code == 401
                assert resp.json()["error"]["code"] == "revoked_api_key"
                await client.aclose()
    finally:
        await database.dispose()
