"""Tokens allow models by id: a rename keeps them, a new model under an old name is not theirs."""

from __future__ import annotations

import httpx
from sqlmodel import select
from starlette.applications import Starlette

from junction_contracts import Route
from junction_control.audit.models import AuditEntry
from junction_control.db import Database
from junction_control.settings import ControlSettings
from junction_control.tokens.models import UserToken
from junction_control.tokens.service import hash_token
from junction_engine.app import create_app as create_engine_app
from junction_engine.settings import EngineSettings
from junction_mockllm.app import create_app as create_mock_app

from .conftest import RESOLVE_PATH, World, signed_post


async def _route(internal: httpx.AsyncClient, settings: ControlSettings, raw: str) -> Route:
    resp = await signed_post(
        internal, settings.internal_secret, RESOLVE_PATH, {"token_hash": hash_token(raw)}
    )
    assert resp.status_code == 200, resp.text
    return Route.from_dict(resp.json())


async def _stored_ids(database: Database, token_id: str) -> list[str] | None:
    async with database.session() as session:
        token = await session.get(UserToken, token_id)
        assert token is not None
        return token.allowed_model_ids


async def test_a_renamed_model_stays_allowed_and_its_old_name_is_not_taken_over(
    admin: httpx.AsyncClient,
    internal_app: Starlette,
    internal_client: httpx.AsyncClient,
    settings: ControlSettings,
    database: Database,
    world: World,
) -> None:
    base = f"/tenants/{world.acme.tenant_id}"
    headers = world["admin"].headers
    made = await admin.post(
        f"{base}/tokens", json={"name": "chat-only", "models": ["chat"]}, headers=headers
    )
    assert made.status_code == 201, made.text
    assert made.json()["models"] == ["chat"]
    token_id, raw = made.json()["id"], made.json()["token"]
    assert await _stored_ids(database, token_id) == [world.acme_model_id]

    renamed = await admin.patch(
        f"{base}/ai-models/{world.acme_model_id}", json={"name": "chat-v2"}, headers=headers
    )
    assert renamed.status_code == 200, renamed.text
    # the old name is free: anyone may create a model under it
    squatter = await admin.post(
        f"{base}/ai-models", json={"name": "chat", "pricing": {"free": True}}, headers=headers
    )
    assert squatter.status_code == 201, squatter.text
    await admin.post(
        f"{base}/ai-models/{squatter.json()['id']}/deployments",
        json={"provider_id": world.acme.provider_id, "upstream_model": "mock-gpt"},
        headers=headers,
    )

    shown = await admin.get(f"{base}/tokens/{token_id}", headers=headers)
    assert shown.json()["models"] == ["chat-v2"]
    route = await _route(internal_client, settings, raw)
    assert [m.name for m in route.models] == ["chat-v2"]
    assert route.token.allowed_models == ("chat-v2",)

    # a real engine on that route: the new name is served, the old one refused
    engine = create_engine_app(
        EngineSettings.from_env(
            {"JUNCTION_VAR_DIR": str(settings.var_dir), "JUNCTION_CONTROL_URL": "http://control"},
            env_file=None,
        ),
        upstream_transport=httpx.ASGITransport(app=create_mock_app()),
        control_transport=httpx.ASGITransport(app=internal_app),
    )
    key = {"authorization": f"Bearer {raw}"}
    chat = {"messages": [{"role": "user", "content": "hi"}]}
    async with (
        engine.router.lifespan_context(engine),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=engine), base_url="http://e") as e,
    ):
        served = await e.post(
            "/v1/chat/completions", json={**chat, "model": "chat-v2"}, headers=key
        )
        taken = await e.post("/v1/chat/completions", json={**chat, "model": "chat"}, headers=key)
        listed = await e.get("/v1/models", headers=key)
    assert served.status_code == 200, served.text
    assert taken.status_code == 403, taken.text
    assert taken.json()["error"]["param"] == "model"
    assert "chat" not in {m["id"] for m in listed.json()["data"]}

    async with database.session() as session:
        rows = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "model.update"))
        ).all()
    assert [r.details for r in rows] == [
        {"fields": ["name"], "previous_name": "chat", "name": "chat-v2", "via": "api"}
    ]


async def test_deleting_a_model_takes_it_out_of_token_lists_without_widening_them(
    admin: httpx.AsyncClient,
    internal_client: httpx.AsyncClient,
    settings: ControlSettings,
    database: Database,
    world: World,
) -> None:
    base = f"/tenants/{world.acme.tenant_id}"
    headers = world["admin"].headers
    made = await admin.post(
        f"{base}/tokens", json={"name": "chat-only", "models": ["chat"]}, headers=headers
    )
    both = await admin.post(
        f"{base}/tokens", json={"name": "both", "models": ["chat", "embed"]}, headers=headers
    )

    gone = await admin.delete(f"{base}/ai-models/{world.acme_model_id}", headers=headers)
    assert gone.status_code == 204, gone.text
    again = await admin.post(
        f"{base}/ai-models", json={"name": "chat", "pricing": {"free": True}}, headers=headers
    )
    assert again.status_code == 201

    assert await _stored_ids(database, made.json()["id"]) == []
    shown = await admin.get(f"{base}/tokens/{made.json()['id']}", headers=headers)
    assert shown.json()["models"] == []  # nothing, not "every model"
    route = await _route(internal_client, settings, made.json()["token"])
    assert (route.models, route.token.allowed_models) == ((), ())
    narrowed = await _route(internal_client, settings, both.json()["token"])
    assert [m.name for m in narrowed.models] == ["embed"]
    async with database.session() as session:
        [row] = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "model.delete"))
        ).all()
    assert (row.details["name"], row.details["tokens_narrowed"]) == ("chat", 2)


async def test_a_token_may_not_name_a_model_its_tenant_lacks(
    admin: httpx.AsyncClient, world: World
) -> None:
    base = f"/tenants/{world.acme.tenant_id}"
    # globex has g-chat; acme does not
    resp = await admin.post(
        f"{base}/tokens", json={"name": "x", "models": ["g-chat"]}, headers=world["admin"].headers
    )

    assert resp.status_code == 422
    assert resp.json()["error"]["field"] == "models"
