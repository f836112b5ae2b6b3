"""Providers and credentials: a provider key goes in and never comes out."""

from __future__ import annotations

from typing import Any

import httpx

from .conftest import World

FIRST_KEY = "sk-first-secret-key-AAAA1111"
ROTATED_KEY = "sk-rotated-secret-key-BBBB2222"


async def test_credential_keys_never_appear_in_any_response(
    admin: httpx.AsyncClient, world: World
) -> None:
    headers = world["admin"].headers
    tenant = f"/tenants/{world.acme.tenant_id}"
    bodies: list[str] = []

    async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer = await admin.request(method, tenant + path, headers=headers, **kwargs)
        bodies.append(answer.text)
        return answer

    provider = await call(
        "POST",
        "/providers",
        json={
            "name": "anthropic",
            "type": "anthropic",
            "base_url": "https://api.anthropic.test/",
            "headers": {"x-secret-header": "header-secret-value"},
        },
    )
    assert provider.status_code == 201
    assert provider.json()["base_url"] == "https://api.anthropic.test"
    assert provider.json()["header_names"] == ["x-secret-header"]
    pid = provider.json()["id"]

    created = await call(
        "POST", f"/providers/{pid}/credentials", json={"name": "main", "key": FIRST_KEY}
    )
    assert created.status_code == 201
    assert created.json()["last4"] == "1111"
    cid = created.json()["id"]

    rotated = await call(
        "PUT", f"/providers/{pid}/credentials/{cid}/key", json={"key": ROTATED_KEY}
    )
    assert rotated.json()["last4"] == "2222"
    bad_key = await call(
        "POST", f"/providers/{pid}/credentials", json={"name": "x", "key": "has space " + FIRST_KEY}
    )
    assert bad_key.status_code == 422
    assert bad_key.json()["error"]["field"] == "key"
    await call("PATCH", f"/providers/{pid}/credentials/{cid}", json={"weight": 3})
    await call("GET", f"/providers/{pid}/credentials/{cid}")
    await call("GET", f"/providers/{pid}/credentials")
    await call("GET", f"/providers/{pid}")
    await call("GET", "/providers")
    await call("GET", "/audit")
    deleted = await call("DELETE", f"/providers/{pid}/credentials/{cid}")
    assert deleted.status_code == 204

    everything = "\n".join(bodies)
    for secret in (FIRST_KEY, ROTATED_KEY, "header-secret-value", world.acme.provider_key):
        assert secret not in everything


async def test_provider_crud(admin: httpx.AsyncClient, world: World) -> None:
    headers = world["owner"].headers
    base = f"/tenants/{world.acme.tenant_id}/providers"

    bad_type = await admin.post(
        base, json={"name": "p", "type": "nope", "base_url": "http://x"}, headers=headers
    )
    duplicate = await admin.post(
        base,
        json={"name": "mock-openai", "type": "openai", "base_url": "http://x"},
        headers=headers,
    )
    renamed = await admin.patch(
        f"{base}/{world.acme.provider_id}", json={"name": "renamed"}, headers=headers
    )
    deleted = await admin.delete(f"{base}/{world.acme.provider_id}", headers=headers)
    gone = await admin.get(f"{base}/{world.acme.provider_id}", headers=headers)

    assert bad_type.status_code == 422
    assert bad_type.json()["error"]["field"] == "type"
    assert duplicate.status_code == 409
    assert renamed.json()["name"] == "renamed"
    assert deleted.status_code == 204
    assert gone.status_code == 404


async def test_models_deployments_and_pricing(admin: httpx.AsyncClient, world: World) -> None:
    headers = world["admin"].headers
    base = f"/tenants/{world.acme.tenant_id}/ai-models"

    model = await admin.post(
        base,
        json={"name": "openai/gpt-4o", "pricing": {"input_per_mtok": 2.5, "output_per_mtok": 10}},
        headers=headers,
    )
    assert model.status_code == 201
    mid = model.json()["id"]
    deployment = await admin.post(
        f"{base}/{mid}/deployments",
        json={"provider_id": world.acme.provider_id, "upstream_model": "gpt-4o", "priority": 1},
        headers=headers,
    )
    assert deployment.status_code == 201
    did = deployment.json()["id"]
    twice = await admin.post(
        f"{base}/{mid}/deployments",
        json={"provider_id": world.acme.provider_id, "upstream_model": "gpt-4o"},
        headers=headers,
    )
    disabled = await admin.patch(
        f"{base}/{mid}/deployments/{did}", json={"enabled": False}, headers=headers
    )
    repriced = await admin.patch(
        f"{base}/{mid}", json={"pricing": {"cached_input_per_mtok": 1.25}}, headers=headers
    )
    listed = await admin.get(f"{base}/{mid}/deployments", headers=headers)
    removed = await admin.delete(f"{base}/{mid}/deployments/{did}", headers=headers)

    assert twice.status_code == 409
    assert disabled.json()["enabled"] is False
    assert repriced.json()["pricing"] == {
        "input_per_mtok": 0.0,
        "output_per_mtok": 0.0,
        "cached_input_per_mtok": 1.25,
        "free": False,
    }
    # a cached-input price alone does not price the model: its calls would be refused
    assert "no price" in repriced.json()["warnings"][0]
    freed = await admin.patch(f"{base}/{mid}", json={"pricing": {"free": True}}, headers=headers)
    assert freed.json()["pricing"]["free"] is True
    assert freed.json()["warnings"] == []
    assert [d["id"] for d in listed.json()["items"]] == [did]
    assert removed.status_code == 204


async def test_provider_urls_at_refused_addresses_are_refused_alike(
    admin: httpx.AsyncClient, world: World
) -> None:
    """A tenant admin cannot point a provider at the metadata service, the LAN or loopback.

    The test settings allow 127.0.0.1 (the mock's address) and nothing else.
    """
    headers = world["admin"].headers
    tenant = f"/tenants/{world.acme.tenant_id}"
    answers = []
    for n, url in enumerate(
        [
            "http://169.254.169.254/latest",
            "http://0xa9fea9fe/latest",  # the same, in hex
            "http://[::ffff:169.254.169.254]/v1",
            "http://10.0.0.1:5432/v1",
            "http://[::1]:6379/v1",
            "http://user:secret@api.example.test/v1",
        ]
    ):
        answers.append(
            await admin.post(
                tenant + "/providers",
                json={"name": f"p{n}", "type": "openai", "base_url": url},
                headers=headers,
            )
        )
    assert {a.status_code for a in answers} == {400}
    messages = {a.json()["error"]["message"] for a in answers}
    assert len(messages) == 1  # the same for every target: no oracle
    assert "not allowed" in messages.pop()
    assert all("secret" not in a.text for a in answers)
    allowed = await admin.post(
        tenant + "/providers",
        json={"name": "local", "type": "openai", "base_url": "http://2130706433:8100/v1"},
        headers=headers,
    )
    assert allowed.status_code == 201  # 127.0.0.1 in decimal: on the allow-list
