"""User tokens through the admin API: shown once, stored as a hash, limits checked."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from junction_control.db import Database
from junction_control.tokens.service import hash_token

from .conftest import World


async def test_a_new_token_is_shown_once_and_stored_as_a_hash(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    base = f"/tenants/{world.acme.tenant_id}/tokens"
    headers = world["admin"].headers
    created = await admin.post(
        base,
        json={
            "name": "ci",
            "models": ["chat"],
            "rpm": 60,
            "tpm": 10_000,
            "budget_usd": 5.5,
            "expires_at": "2030-01-01T00:00:00+02:00",
        },
        headers=headers,
    )
    assert created.status_code == 201
    body = created.json()
    raw = body["token"]
    assert raw.startswith("jk-")
    assert body["prefix"] == raw[:12]
    assert body["models"] == ["chat"]
    assert body["expires_at"] == "2029-12-31T22:00:00Z"

    again = await admin.get(f"{base}/{body['id']}", headers=headers)
    listed = await admin.get(base, headers=headers)
    assert "token" not in again.json()
    assert raw not in again.text + listed.text

    async with database.engine.connect() as conn:
        row = (
            await conn.execute(text("SELECT * FROM user_tokens WHERE id = :id"), {"id": body["id"]})
        ).one()
    assert row.token_hash == hash_token(raw)
    assert raw not in repr(tuple(row))


async def test_patch_changes_limits_and_null_lifts_them(
    admin: httpx.AsyncClient, world: World
) -> None:
    path = f"/tenants/{world.acme.tenant_id}/tokens/{world.acme.token_id}"
    headers = world["admin"].headers

    limited = await admin.patch(path, json={"rpm": 10, "models": ["embed"]}, headers=headers)
    lifted = await admin.patch(path, json={"rpm": None}, headers=headers)

    assert (limited.json()["rpm"], limited.json()["models"]) == (10, ["embed"])
    assert (lifted.json()["rpm"], lifted.json()["models"]) == (None, ["embed"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "bad name!"}, "name"),
        ({"name": "ok", "rpm": 0}, "rpm"),
        ({"name": "ok", "tpm": "many"}, "tpm"),
        ({"name": "ok", "budget_usd": -1}, "budget_usd"),
        ({"name": "ok", "models": ["no-such-model"]}, "models"),
        ({"name": "ok", "expires_at": "2030-01-01T00:00:00"}, "expires_at"),
        ({"name": "ok", "colour": "blue"}, "colour"),
        ({}, "name"),
    ],
)
async def test_validation_errors_name_the_field(
    admin: httpx.AsyncClient, world: World, body: dict[str, object], field: str
) -> None:
    answer = await admin.post(
        f"/tenants/{world.acme.tenant_id}/tokens", json=body, headers=world["admin"].headers
    )

    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["field"] == field
    assert error["message"].startswith(f"{field}: ")


async def test_duplicate_names_conflict(admin: httpx.AsyncClient, world: World) -> None:
    answer = await admin.post(
        f"/tenants/{world.acme.tenant_id}/tokens",
        json={"name": "app"},
        headers=world["admin"].headers,
    )

    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "conflict"


async def test_malformed_ids_and_bodies_are_client_errors(
    admin: httpx.AsyncClient, world: World
) -> None:
    base = f"/tenants/{world.acme.tenant_id}/tokens"
    headers = world["admin"].headers

    odd_id = await admin.get(f"{base}/%00%01", headers=headers)
    not_object = await admin.post(base, json=[1, 2], headers=headers)
    nan = await admin.post(base, content=b'{"name": "x", "budget_usd": NaN}', headers=headers)
    empty = await admin.post(base, headers=headers)

    assert odd_id.status_code == 404
    assert not_object.status_code == 422
    assert nan.status_code in (400, 422)
    assert empty.status_code == 400
