"""Every write leaves one audit row; lists page stably; usage and calls read the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func
from sqlmodel import select

from junction_control.audit.models import AuditEntry
from junction_control.db import Database
from junction_control.usage.models import ModelCall

from .conftest import World


async def _audit_count(database: Database) -> int:
    async with database.session() as session:
        return (await session.exec(select(func.count()).select_from(AuditEntry))).one()


async def test_each_write_appends_one_audit_row_without_secrets(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    headers = world["admin"].headers
    tenant = f"/tenants/{world.acme.tenant_id}"
    before = await _audit_count(database)

    token = await admin.post(f"{tenant}/tokens", json={"name": "audited"}, headers=headers)
    await admin.post(f"{tenant}/tokens/{token.json()['id']}/revoke", headers=headers)
    await admin.put(
        f"{tenant}/providers/{world.acme.provider_id}/credentials/{world.acme.credential_id}/key",
        json={"key": "sk-brand-new-secret-0000"},
        headers=headers,
    )
    await admin.get(f"{tenant}/tokens", headers=headers)  # reads are not audited
    refused = await admin.post(f"{tenant}/tokens", json={"name": "app"}, headers=headers)

    assert refused.status_code == 409  # a failed write leaves no row either
    assert await _audit_count(database) == before + 3
    trail = await admin.get(f"{tenant}/audit", headers=headers)
    entries = trail.json()["items"]
    assert [e["action"] for e in entries] == ["credential.rotate", "token.revoke", "token.create"]
    assert {e["user_id"] for e in entries} == {world["admin"].user_id}
    assert entries[0]["details"] == {"last4": "0000", "via": "api"}
    assert token.json()["token"] not in trail.text
    assert "sk-brand-new-secret-0000" not in trail.text


async def test_pages_are_stable_while_rows_are_added(
    admin: httpx.AsyncClient, world: World
) -> None:
    base = f"/tenants/{world.acme.tenant_id}/tokens"
    headers = world["admin"].headers
    for i in range(6):
        await admin.post(base, json={"name": f"t{i}"}, headers=headers)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await admin.get(base, params=params, headers=headers)).json()
        seen.extend(t["name"] for t in page["items"])
        pages += 1
        if pages == 1:  # a row written mid-listing lands after the cursor, once
            await admin.post(base, json={"name": "late"}, headers=headers)
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == ["app", "t0", "t1", "t2", "t3", "t4", "t5", "late"]
    assert pages == 3
    bad = await admin.get(base, params={"cursor": "nope"}, headers=headers)
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "cursor"


async def test_usage_and_calls_read_the_tenants_model_calls(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    async with database.session() as session:
        for i in range(5):
            session.add(
                ModelCall(
                    id=f"call-{i}",
                    tenant_id=world.acme.tenant_id,
                    token_id=world.acme.token_id,
                    model="chat" if i % 2 else "embed",
                    status="success",
                    input_tokens=10,
                    output_tokens=5,
                    cost_usd=0.5,
                    started_at=start + timedelta(minutes=i // 2),  # pairs share an instant
                )
            )
        await session.commit()
    tenant = f"/tenants/{world.acme.tenant_id}"
    headers = world["viewer"].headers

    usage = await admin.get(
        f"{tenant}/usage",
        params={"since": "2025-03-01T00:00:00Z", "until": "2025-03-02T00:00:00+00:00"},
        headers=headers,
    )
    backwards = await admin.get(
        f"{tenant}/usage",
        params={"since": "2025-03-02T00:00:00Z", "until": "2025-03-01T00:00:00Z"},
        headers=headers,
    )
    ids: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await admin.get(f"{tenant}/calls", params=params, headers=headers)).json()
        ids.extend(c["id"] for c in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert usage.status_code == 200
    none = {"failed_calls": 0, "refused_calls": 0}  # every call here succeeded
    assert usage.json()["models"] == [
        {
            "model": "chat",
            "calls": 2,
            **none,
            "input_tokens": 20,
            "output_tokens": 10,
            "cost_usd": 1.0,
        },
        {
            "model": "embed",
            "calls": 3,
            **none,
            "input_tokens": 30,
            "output_tokens": 15,
            "cost_usd": 1.5,
        },
    ]
    assert backwards.status_code == 422
    assert backwards.json()["error"]["field"] == "since"
    assert ids == ["call-4", "call-3", "call-2", "call-1", "call-0"]
