"""A provider's base URL moves only with its secrets entered again, on every write path.

Whoever may edit a provider must not be able to send its stored keys (or
header values) to a host of their choosing: a new base URL takes every key,
and the extra headers when there are any, in the same write.
"""

from __future__ import annotations

import httpx
import pytest
import yaml

from junction_control.db import Database
from junction_control.declarative import apply_spec, parse_spec
from junction_control.errors import InvalidInput
from junction_control.providers import service as providers
from junction_control.settings import ControlSettings
from junction_control.tenants import service as tenants

from .conftest import World
from .test_declarative import ENV, FILE

NEW_URL = "http://127.0.0.1:9100/v1"
NEW_KEY = "sk-entered-again-key-55667788"


def _path(world: World) -> str:
    return f"/tenants/{world.acme.tenant_id}/providers/{world.acme.provider_id}"


async def _add_second_key(database: Database, settings: ControlSettings) -> None:
    async with database.session() as session:
        acme = await tenants.get_tenant(session, "acme")
        provider = await providers.get_provider(session, acme, "mock-openai")
        await providers.add_credential(
            session,
            settings.keyring,
            provider,
            "backup",
            "sk-backup-key-000111222",
            status="disabled",
        )
        await session.commit()


async def _stored(database: Database, settings: ControlSettings) -> tuple[str, str]:
    async with database.session() as session:
        acme = await tenants.get_tenant(session, "acme")
        provider = await providers.get_provider(session, acme, "mock-openai")
        credential = await providers.find_credential(session, provider, "default")
        assert credential is not None
        return provider.base_url, providers.credential_key(settings.keyring, credential)


async def test_a_new_base_url_without_every_key_is_refused(
    admin: httpx.AsyncClient, world: World, database: Database, settings: ControlSettings
) -> None:
    await _add_second_key(database, settings)
    headers = world["admin"].headers
    team = {"x-team": "core"}

    alone = await admin.patch(_path(world), json={"base_url": NEW_URL}, headers=headers)
    one_key = await admin.patch(
        _path(world),
        json={"base_url": NEW_URL, "keys": {"default": NEW_KEY}, "headers": team},
        headers=headers,
    )
    no_headers = await admin.patch(
        _path(world),
        json={"base_url": NEW_URL, "keys": {"default": NEW_KEY, "backup": NEW_KEY}},
        headers=headers,
    )
    unknown = await admin.patch(
        _path(world),
        json={"base_url": NEW_URL, "keys": {"default": NEW_KEY, "nope": NEW_KEY}, "headers": team},
        headers=headers,
    )

    for resp, code, field in (
        (alone, "key_required", "keys"),
        (one_key, "key_required", "keys"),
        (no_headers, "headers_required", "headers"),
    ):
        assert resp.status_code == 422, resp.text
        assert (resp.json()["error"]["code"], resp.json()["error"]["field"]) == (code, field)
        assert NEW_KEY not in resp.text
    assert "backup" in one_key.json()["error"]["message"]
    assert unknown.status_code == 400
    assert NEW_KEY not in unknown.text
    # nothing moved, nothing was rotated
    assert await _stored(database, settings) == (
        "http://127.0.0.1:8100/v1",
        world.acme.provider_key,
    )


async def test_a_new_base_url_with_its_secrets_entered_again_moves_them_all(
    admin: httpx.AsyncClient, world: World, database: Database, settings: ControlSettings
) -> None:
    resp = await admin.patch(
        _path(world),
        json={"base_url": NEW_URL, "keys": {"default": NEW_KEY}, "headers": {"x-team": "blue"}},
        headers=world["admin"].headers,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["base_url"] == NEW_URL
    assert NEW_KEY not in resp.text
    assert await _stored(database, settings) == (NEW_URL, NEW_KEY)


async def test_other_changes_and_the_same_url_need_no_key(
    admin: httpx.AsyncClient, world: World, database: Database, settings: ControlSettings
) -> None:
    headers = world["admin"].headers
    same = await admin.patch(
        _path(world), json={"base_url": "http://127.0.0.1:8100/v1/"}, headers=headers
    )
    renamed = await admin.patch(_path(world), json={"name": "renamed"}, headers=headers)
    assert (same.status_code, renamed.status_code) == (200, 200)


async def test_the_service_refuses_the_same_for_every_caller(
    database: Database, settings: ControlSettings, world: World
) -> None:
    async with database.session() as session:
        acme = await tenants.get_tenant(session, "acme")
        provider = await providers.get_provider(session, acme, "mock-openai")
        with pytest.raises(InvalidInput, match="entered again"):
            await providers.update_provider(
                session, provider, base_url=NEW_URL, egress=settings.egress
            )


async def test_apply_moves_a_base_url_only_when_the_file_names_every_key(
    database: Database, settings: ControlSettings
) -> None:
    async def apply(file: str) -> list[str]:
        async with database.session() as session:
            report = await apply_spec(
                session,
                settings.keyring,
                parse_spec(yaml.safe_load(file), ENV),
                egress=settings.egress,
            )
            await session.commit()
        return [c.line() for c in report.changes]

    await apply(FILE)
    async with database.session() as session:
        demo = await tenants.get_tenant(session, "demo")
        provider = await providers.get_provider(session, demo, "mock-openai")
        await providers.add_credential(
            session, settings.keyring, provider, "backup", "sk-b-12345678"
        )
        await session.commit()
    moved = FILE.replace("http://127.0.0.1:8100/v1", NEW_URL)

    with pytest.raises(InvalidInput, match=r"entered again \(missing: backup\)"):
        await apply(moved)
    both = moved.replace(
        "keys: [{name: default, value: env:MOCK_KEY}]",
        "keys: [{name: default, value: env:MOCK_KEY}, {name: backup, value: env:MOCK_KEY}]",
    )
    lines = await apply(both)

    assert "provider demo/mock-openai: updated (base_url)" in lines
    assert "key demo/mock-openai/backup: updated (value)" in lines
