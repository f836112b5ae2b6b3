"""The internal API the engine calls: resolve, signatures, health, metrics, telemetry."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from junction_contracts.provider_headers import open_headers
from junction_contracts.route import Route
from junction_contracts.sealing import derive_sealing_key, unseal
from junction_contracts.signing import HEADER_SIGNATURE, sign
from junction_control.app import create_internal_app
from junction_control.db import Database
from junction_control.models import service as models
from junction_control.providers import service as providers
from junction_control.settings import ControlSettings
from junction_control.tenants import service as tenants
from junction_control.tokens import service as tokens
from junction_control.tokens.models import UserToken

from .conftest import RESOLVE_PATH, Demo, signed_post


async def test_resolve_returns_a_contract_route_with_sealed_keys(
    internal_client: httpx.AsyncClient, settings: ControlSettings, demo: Demo
) -> None:
    response = await signed_post(
        internal_client, settings.internal_secret, RESOLVE_PATH, {"token_hash": demo.token_hash}
    )

    assert response.status_code == 200
    route = Route.from_dict(response.json())
    assert route.token.id == demo.token_id
    assert route.token.tenant_id == demo.tenant_id
    assert route.token.prefix == demo.raw_token[:12]
    assert route.token.revoked is False
    assert [m.name for m in route.models] == ["chat", "embed"]
    chat = route.model("chat")
    assert chat is not None
    assert chat.pricing.input_per_mtok == 0.5
    (deployment,) = chat.deployments
    assert deployment.upstream_model == "mock-gpt"
    assert deployment.weight == 2
    assert deployment.provider.type == "openai"
    sealing_key = derive_sealing_key(settings.internal_secret)
    # header values travel sealed, like keys
    assert deployment.provider.extra_headers == {}
    provider = deployment.provider
    assert open_headers(sealing_key, provider.id, provider.sealed_headers) == {"x-team": "core"}
    (credential,) = deployment.credentials
    assert credential.id == demo.credential_id
    assert demo.provider_key not in response.text
    assert unseal(sealing_key, credential.sealed_key, context=credential.id) == demo.provider_key


async def test_unknown_token_hash_is_404_unknown_token(
    internal_client: httpx.AsyncClient, settings: ControlSettings, demo: Demo
) -> None:
    response = await signed_post(
        internal_client,
        settings.internal_secret,
        RESOLVE_PATH,
        {"token_hash": tokens.hash_token("jk-not-a-real-token-value")},
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_token"


async def test_malformed_resolve_body_is_400(
    internal_client: httpx.AsyncClient, settings: ControlSettings, demo: Demo
) -> None:
    response = await signed_post(
        internal_client, settings.internal_secret, RESOLVE_PATH, {"token_hash": demo.raw_token}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


async def test_unsigned_resolve_is_refused(internal_client: httpx.AsyncClient, demo: Demo) -> None:
    response = await internal_client.post(RESOLVE_PATH, json={"token_hash": demo.token_hash})
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "bad_signature", "message": "unsigned request"}}


async def test_signature_with_another_secret_is_refused(
    internal_client: httpx.AsyncClient, demo: Demo
) -> None:
    response = await signed_post(
        internal_client, b"x" * 32, RESOLVE_PATH, {"token_hash": demo.token_hash}
    )
    assert response.status_code == 401
    assert response.json()["error"] == {"code": "bad_signature", "message": "bad signature"}


async def test_signature_over_another_body_is_refused(
    internal_client: httpx.AsyncClient, settings: ControlSettings, demo: Demo
) -> None:
    headers = sign(settings.internal_secret, "POST", RESOLVE_PATH, b"{}")
    response = await internal_client.post(
        RESOLVE_PATH, json={"token_hash": demo.token_hash}, headers=headers
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"


async def test_stale_signature_is_refused(
    internal_client: httpx.AsyncClient, settings: ControlSettings, demo: Demo
) -> None:
    response = await signed_post(
        internal_client,
        settings.internal_secret,
        RESOLVE_PATH,
        {"token_hash": demo.token_hash},
        now=time.time() - 300,
    )
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "stale request"


async def test_replayed_call_is_refused(
    internal_client: httpx.AsyncClient, settings: ControlSettings, demo: Demo
) -> None:
    body = b'{"token_hash": "%s"}' % demo.token_hash.encode()
    headers = sign(settings.internal_secret, "POST", RESOLVE_PATH, body)

    first = await internal_client.post(RESOLVE_PATH, content=body, headers=headers)
    replay = await internal_client.post(RESOLVE_PATH, content=body, headers=headers)

    assert first.status_code == 200
    assert replay.status_code == 401
    assert replay.json()["error"]["message"] == "replayed request"


async def test_unknown_signature_scheme_is_refused(
    internal_client: httpx.AsyncClient, settings: ControlSettings, demo: Demo
) -> None:
    body = b"{}"
    headers = sign(settings.internal_secret, "POST", RESOLVE_PATH, body)
    headers[HEADER_SIGNATURE] = "v0=" + headers[HEADER_SIGNATURE].partition("=")[2]
    response = await internal_client.post(RESOLVE_PATH, content=body, headers=headers)
    assert response.status_code == 401


async def test_revoked_token_still_resolves_marked_revoked(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    async with database.session() as session:
        token = await session.get(UserToken, demo.token_id)
        assert token is not None
        await tokens.revoke_token(session, token)
        await session.commit()

    response = await signed_post(
        internal_client, settings.internal_secret, RESOLVE_PATH, {"token_hash": demo.token_hash}
    )

    assert response.status_code == 200
    assert Route.from_dict(response.json()).token.revoked is True


async def test_allowed_models_limit_the_route_and_limits_are_carried(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    expires = time.time() + 3600
    async with database.session() as session:
        tenant = await tenants.get_tenant(session, "acme")
        created = await tokens.create_token(
            session,
            tenant,
            "embed-only",
            tokens.TokenLimits(
                allowed_models=("embed",),
                rpm=60,
                tpm=1000,
                expires_at=datetime.fromtimestamp(expires, UTC),
            ),
        )
        await session.commit()

    response = await signed_post(
        internal_client,
        settings.internal_secret,
        RESOLVE_PATH,
        {"token_hash": tokens.hash_token(created.raw)},
    )

    route = Route.from_dict(response.json())
    assert [m.name for m in route.models] == ["embed"]
    assert route.token.allowed_models == ("embed",)
    assert (route.token.rpm, route.token.tpm) == (60, 1000)
    assert route.token.expires_at is not None
    assert abs(route.token.expires_at - expires) < 1


async def test_disabled_deployments_and_keys_stay_out_of_the_route(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    async with database.session() as session:
        tenant = await tenants.get_tenant(session, "acme")
        provider = await providers.get_provider(session, tenant, "mock-openai")
        await providers.add_credential(
            session, settings.keyring, provider, "old", "sk-old-key-000000", status="disabled"
        )
        model = await models.find_model(session, tenant, "chat")
        assert model is not None
        await models.add_deployment(session, model, provider, "mock-gpt-off", enabled=False)
        await session.commit()

    response = await signed_post(
        internal_client, settings.internal_secret, RESOLVE_PATH, {"token_hash": demo.token_hash}
    )

    chat = Route.from_dict(response.json()).model("chat")
    assert chat is not None
    assert [d.upstream_model for d in chat.deployments] == ["mock-gpt"]
    assert [c.id for c in chat.deployments[0].credentials] == [demo.credential_id]


async def test_healthz_answers_ok_when_the_database_answers(
    internal_client: httpx.AsyncClient,
) -> None:
    response = await internal_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_healthz_is_503_when_the_database_is_down(tmp_path: Path) -> None:
    settings = ControlSettings.from_env(
        environ={"JUNCTION_VAR_DIR": str(tmp_path / "var")}, env_file=None
    )
    unreachable = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    app = create_internal_app(settings, database=unreachable)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://control") as client:
            health = await client.get("/healthz")
            resolve = await signed_post(
                client, settings.internal_secret, RESOLVE_PATH, {"token_hash": "0" * 64}
            )
    finally:
        await unreachable.dispose()

    assert health.status_code == 503
    assert resolve.status_code == 503
    assert resolve.json()["error"]["code"] == "database_unavailable"


async def test_metrics_count_resolves_by_outcome(
    internal_client: httpx.AsyncClient, settings: ControlSettings, demo: Demo
) -> None:
    await signed_post(
        internal_client, settings.internal_secret, RESOLVE_PATH, {"token_hash": demo.token_hash}
    )
    await signed_post(
        internal_client, settings.internal_secret, RESOLVE_PATH, {"token_hash": "0" * 64}
    )
    await internal_client.post(RESOLVE_PATH, json={})

    text = (await internal_client.get("/metrics")).text

    assert 'junction_control_route_resolves_total{outcome="found"} 1.0' in text
    assert 'junction_control_route_resolves_total{outcome="unknown_token"} 1.0' in text
    assert 'junction_control_internal_rejected_total{reason="unsigned request"} 1.0' in text
