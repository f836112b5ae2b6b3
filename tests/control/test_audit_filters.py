"""The audit log is filtered by the server: action or its family, object type, actor, time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from .conftest import World


async def _actions(admin: httpx.AsyncClient, world: World, **params: str) -> list[str]:
    res = await admin.get(
        f"/tenants/{world.acme.tenant_id}/audit", params=params, headers=world["admin"].headers
    )
    assert res.status_code == 200, res.text
    return [e["action"] for e in res.json()["items"]]


async def test_each_filter_narrows_the_log_and_they_combine(
    admin: httpx.AsyncClient, world: World
) -> None:
    tenant = f"/tenants/{world.acme.tenant_id}"
    before = datetime.now(UTC) - timedelta(seconds=1)
    made = await admin.post(f"{tenant}/tokens", json={"name": "a"}, headers=world["admin"].headers)
    await admin.post(f"{tenant}/tokens/{made.json()['id']}/revoke", headers=world["admin"].headers)
    await admin.post(f"{tenant}/tokens", json={"name": "b"}, headers=world["owner"].headers)
    await admin.patch(
        f"{tenant}/ai-models/{world.acme_model_id}",
        json={"pricing": {"input_per_mtok": 1, "output_per_mtok": 2}},
        headers=world["admin"].headers,
    )

    assert await _actions(admin, world, action="token") == [
        "token.create",
        "token.revoke",
        "token.create",
    ]
    assert await _actions(admin, world, action="token.revoke") == ["token.revoke"]
    assert await _actions(admin, world, action="tok") == []  # a family is a whole word
    assert await _actions(admin, world, object_type="model") == ["model.update"]
    assert await _actions(admin, world, user_id=world["owner"].user_id) == ["token.create"]
    assert await _actions(admin, world, action="token", user_id=world["admin"].user_id) == [
        "token.revoke",
        "token.create",
    ]
    assert await _actions(admin, world, since=before.isoformat()) == [
        "model.update",
        "token.create",
        "token.revoke",
        "token.create",
    ]
    assert await _actions(admin, world, until=before.isoformat()) == []


async def test_wildcards_in_a_filter_match_only_themselves(
    admin: httpx.AsyncClient, world: World
) -> None:
    await admin.post(
        f"/tenants/{world.acme.tenant_id}/tokens",
        json={"name": "c"},
        headers=world["admin"].headers,
    )
    assert await _actions(admin, world, action="%") == []
    assert await _actions(admin, world, action="t_ken") == []


async def test_a_filtered_log_pages_within_the_filter(
    admin: httpx.AsyncClient, world: World
) -> None:
    tenant = f"/tenants/{world.acme.tenant_id}"
    for i in range(5):
        await admin.post(f"{tenant}/tokens", json={"name": f"p{i}"}, headers=world["admin"].headers)
        await admin.patch(
            f"{tenant}/ai-models/{world.acme_model_id}",
            json={"pricing": {"input_per_mtok": i, "output_per_mtok": 1}},
            headers=world["admin"].headers,
        )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"action": "token.create", "limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = (
            await admin.get(f"{tenant}/audit", params=params, headers=world["admin"].headers)
        ).json()
        seen.extend(e["details"]["name"] for e in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["p4", "p3", "p2", "p1", "p0"]


async def test_a_bad_filter_is_refused_with_its_field(
    admin: httpx.AsyncClient, world: World
) -> None:
    tenant = f"/tenants/{world.acme.tenant_id}/audit"
    headers = world["admin"].headers
    empty_range = await admin.get(
        tenant, params={"since": "2026-01-02", "until": "2026-01-01"}, headers=headers
    )
    assert empty_range.status_code == 422
    assert empty_range.json()["error"]["field"] == "since"
    bad_time = await admin.get(tenant, params={"since": "yesterday"}, headers=headers)
    assert bad_time.status_code == 422
    assert bad_time.json()["error"]["field"] == "since"
    long_action = await admin.get(tenant, params={"action": "x" * 65}, headers=headers)
    assert long_action.status_code == 422
    assert long_action.json()["error"]["field"] == "action"
