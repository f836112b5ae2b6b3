"""A tenant admin never sees another tenant's rows: other ids are 404, lists hold none."""

from __future__ import annotations

import httpx

from .conftest import World


async def test_another_tenants_ids_are_not_found_from_your_own_tenant(
    admin: httpx.AsyncClient, world: World
) -> None:
    outsider = world["outsider"].headers
    mine = f"/tenants/{world.globex_id}"
    acme = world.acme
    paths = [
        f"{mine}/tokens/{acme.token_id}",
        f"{mine}/tokens/{acme.token_id}/revoke",
        f"{mine}/providers/{acme.provider_id}",
        f"{mine}/providers/{acme.provider_id}/credentials",
        f"{mine}/providers/{world.globex_provider_id}/credentials/{acme.credential_id}",
        f"{mine}/ai-models/{world.acme_model_id}",
    ]
    answers = {}
    for path in paths:
        method = "POST" if path.endswith("/revoke") else "GET"
        answers[path] = (await admin.request(method, path, headers=outsider)).status_code
    answers["patch"] = (
        await admin.patch(f"{mine}/tokens/{acme.token_id}", json={"rpm": 1}, headers=outsider)
    ).status_code
    answers["member"] = (
        await admin.patch(
            f"{mine}/members/{world['owner'].user_id}", json={"role": "viewer"}, headers=outsider
        )
    ).status_code
    answers["delete"] = (
        await admin.delete(f"{mine}/providers/{acme.provider_id}", headers=outsider)
    ).status_code

    assert set(answers.values()) == {404}, answers


async def test_lists_hold_only_your_tenants_rows(admin: httpx.AsyncClient, world: World) -> None:
    outsider = world["outsider"].headers
    mine = f"/tenants/{world.globex_id}"

    tenants = await admin.get("/tenants", headers=outsider)
    tokens = await admin.get(f"{mine}/tokens", headers=outsider)
    providers = await admin.get(f"{mine}/providers", headers=outsider)
    models = await admin.get(f"{mine}/ai-models", headers=outsider)
    members = await admin.get(f"{mine}/members", headers=outsider)

    assert [t["id"] for t in tenants.json()["items"]] == [world.globex_id]
    assert [t["id"] for t in tokens.json()["items"]] == [world.globex_token_id]
    assert [p["id"] for p in providers.json()["items"]] == [world.globex_provider_id]
    assert [m["id"] for m in models.json()["items"]] == [world.globex_model_id]
    assert [m["user_id"] for m in members.json()["items"]] == [world["outsider"].user_id]


async def test_a_platform_admin_lists_every_tenant(admin: httpx.AsyncClient, world: World) -> None:
    tenants = await admin.get("/tenants", headers=world["platform"].headers)

    assert {t["name"] for t in tenants.json()["items"]} == {"acme", "globex"}


async def test_a_deployment_cannot_point_at_another_tenants_provider(
    admin: httpx.AsyncClient, world: World
) -> None:
    answer = await admin.post(
        f"/tenants/{world.globex_id}/ai-models/{world.globex_model_id}/deployments",
        json={"provider_id": world.acme.provider_id, "upstream_model": "gpt"},
        headers=world["outsider"].headers,
    )

    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "provider_id"
