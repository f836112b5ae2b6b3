"""Route resolve: sealed keys follow every change of a stored key; odd tenants still resolve."""

from __future__ import annotations

import json

import httpx
import orjson
import pytest

from junction_contracts.route import Route
from junction_contracts.sealing import derive_sealing_key, unseal
from junction_control.crypto import Keyring, encrypt_secret, generate_master_key, rewrap_secret
from junction_control.db import Database
from junction_control.errors import CryptoError
from junction_control.internal.resolve import resolve_route
from junction_control.internal.sealed_keys import SealedKeys
from junction_control.models import service as models
from junction_control.providers import service as providers
from junction_control.providers.models import Credential
from junction_control.settings import ControlSettings
from junction_control.tenants import service as tenants
from junction_control.tokens import service as tokens

from .conftest import RESOLVE_PATH, Demo, signed_post


async def resolve(client: httpx.AsyncClient, settings: ControlSettings, token_hash: str) -> Route:
    response = await signed_post(
        client, settings.internal_secret, RESOLVE_PATH, {"token_hash": token_hash}
    )
    assert response.status_code == 200
    return Route.from_dict(response.json())


def keys_of(route: Route, settings: ControlSettings) -> list[str]:
    sealing_key = derive_sealing_key(settings.internal_secret)
    return [
        unseal(sealing_key, c.sealed_key, context=c.id)
        for m in route.models
        for d in m.deployments
        for c in d.credentials
    ]


async def test_a_replaced_provider_key_is_in_the_next_route(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    before = await resolve(internal_client, settings, demo.token_hash)
    async with database.session() as session:
        credential = await session.get(Credential, demo.credential_id)
        assert credential is not None
        providers.set_credential_key(settings.keyring, credential, "sk-replaced-key-0123456789")
        session.add(credential)
        await session.commit()

    after = await resolve(internal_client, settings, demo.token_hash)

    assert set(keys_of(before, settings)) == {demo.provider_key}
    assert set(keys_of(after, settings)) == {"sk-replaced-key-0123456789"}


async def test_a_key_that_does_not_open_is_left_out_and_counted_on_every_resolve(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    stranger = Keyring((generate_master_key("v1"),))
    async with database.session() as session:
        tenant = await tenants.get_tenant(session, "acme")
        provider = await providers.get_provider(session, tenant, "mock-openai")
        # a key sealed under a master key this control plane does not hold
        await providers.add_credential(session, stranger, provider, "lost", "sk-lost-key-0000000")
        await session.commit()

    first = await resolve(internal_client, settings, demo.token_hash)
    second = await resolve(internal_client, settings, demo.token_hash)

    for route in (first, second):
        assert {c.id for m in route.models for d in m.deployments for c in d.credentials} == {
            demo.credential_id
        }
    metrics = (await internal_client.get("/metrics")).text
    assert "junction_control_undecryptable_credentials_total 2.0" in metrics


async def test_models_without_deployments_and_tenants_without_models_still_resolve(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    async with database.session() as session:
        acme = await tenants.get_tenant(session, "acme")
        await models.create_model(session, acme, "soon")
        empty = await tenants.create_tenant(session, "empty")
        lonely = await tokens.create_token(session, empty, "lonely")
        await session.commit()

    acme_route = await resolve(internal_client, settings, demo.token_hash)
    empty_route = await resolve(internal_client, settings, tokens.hash_token(lonely.raw))

    assert [(m.name, len(m.deployments)) for m in acme_route.models] == [
        ("chat", 1),
        ("embed", 1),
        ("soon", 0),
    ]
    assert empty_route.models == ()
    assert empty_route.token.tenant_id == empty.id


async def test_the_answer_is_exactly_the_contracts_route_dict(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    response = await signed_post(
        internal_client, settings.internal_secret, RESOLVE_PATH, {"token_hash": demo.token_hash}
    )
    async with database.reader() as conn:
        route = await resolve_route(
            conn,
            demo.token_hash,
            sealed_keys=SealedKeys(settings.keyring, derive_sealing_key(settings.internal_secret)),
        )
    assert route is not None

    # what the engine gets holds the same fields as Route.to_dict, nothing more or less
    answer = response.json()
    assert set(answer) == set(route.to_dict())
    assert json.loads(json.dumps(Route.from_dict(answer).to_dict())) == answer
    assert orjson.loads(orjson.dumps(route)) == json.loads(json.dumps(route.to_dict()))


def test_sealed_keys_are_kept_per_stored_envelope_and_bounded() -> None:
    keyring = Keyring((generate_master_key("v1"),))
    sealing_key = derive_sealing_key(b"s" * 32)
    cache = SealedKeys(keyring, sealing_key, capacity=2)
    first = encrypt_secret(keyring, "sk-first", record_id="c1")
    rotated = keyring.with_key(generate_master_key("v2"))

    sealed = cache.sealed("c1", first)
    again = cache.sealed("c1", first)
    moved = SealedKeys(rotated, sealing_key).sealed(
        "c1", rewrap_secret(rotated, first, record_id="c1")
    )
    cache.sealed("c2", encrypt_secret(keyring, "sk-second", record_id="c2"))
    cache.sealed("c3", encrypt_secret(keyring, "sk-third", record_id="c3"))

    assert again == sealed  # opened once
    assert unseal(sealing_key, moved, context="c1") == "sk-first"
    assert len(cache) == 2  # the oldest went
    with pytest.raises(CryptoError):
        # a ciphertext moved onto another credential does not open
        cache.sealed("c2", first)


async def test_every_deployment_of_a_provider_carries_all_its_keys_in_the_order_they_were_added(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    async with database.session() as session:
        tenant = await tenants.get_tenant(session, "acme")
        provider = await providers.get_provider(session, tenant, "mock-openai")
        second = await providers.add_credential(
            session, settings.keyring, provider, "second", "sk-second-key-0123456789", weight=3
        )
        chat = await models.find_model(session, tenant, "chat")
        assert chat is not None
        await models.add_deployment(session, chat, provider, "mock-gpt-backup", priority=1)
        await session.commit()

    route = await resolve(internal_client, settings, demo.token_hash)

    chat_route = route.model("chat")
    assert chat_route is not None
    assert [d.upstream_model for d in chat_route.deployments] == ["mock-gpt", "mock-gpt-backup"]
    for deployment in chat_route.deployments:
        assert [(c.id, c.weight) for c in deployment.credentials] == [
            (demo.credential_id, 1),
            (second.id, 3),
        ]
    assert keys_of(route, settings).count("sk-second-key-0123456789") == 3  # 2 chat + 1 embed
