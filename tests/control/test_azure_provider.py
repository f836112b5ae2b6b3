"""The ``azure-openai`` provider type: accepted, held to the same egress rules, its URL checked."""

from __future__ import annotations

import httpx
import pytest

from junction_contracts import Route
from junction_contracts.errors import ContractError

from .conftest import World

RESOURCE = "http://127.0.0.1:9100?api-version=2024-10-21"


async def test_an_azure_provider_is_created_with_its_api_version(
    admin: httpx.AsyncClient, world: World
) -> None:
    headers = world["admin"].headers
    created = await admin.post(
        f"/tenants/{world.acme.tenant_id}/providers",
        json={"name": "azure-east", "type": "azure-openai", "base_url": RESOURCE},
        headers=headers,
    )
    assert created.status_code == 201
    assert (created.json()["type"], created.json()["base_url"]) == ("azure-openai", RESOURCE)


async def test_an_azure_provider_at_a_refused_address_is_refused_like_any_other(
    admin: httpx.AsyncClient, world: World
) -> None:
    headers = world["admin"].headers
    answers = [
        await admin.post(
            f"/tenants/{world.acme.tenant_id}/providers",
            json={"name": f"p-{ptype}", "type": ptype, "base_url": "http://169.254.169.254"},
            headers=headers,
        )
        for ptype in ("azure-openai", "openai")
    ]
    assert [a.status_code for a in answers] == [400, 400]
    assert answers[0].json()["error"] == answers[1].json()["error"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9100/openai/deployments/gpt-4o",
        "http://127.0.0.1:9100?api-version=latest",
        "http://127.0.0.1:9100?api-version=2024-10-21&x=1",
    ],
)
async def test_an_azure_base_url_is_the_resource_with_at_most_an_api_version(
    admin: httpx.AsyncClient, world: World, url: str
) -> None:
    headers = world["admin"].headers
    base = f"/tenants/{world.acme.tenant_id}/providers"
    created = await admin.post(
        base, json={"name": "az", "type": "azure-openai", "base_url": url}, headers=headers
    )
    assert created.status_code == 400
    assert created.json()["error"]["code"] == "invalid_request"
    assert "azure-openai" in created.json()["error"]["message"]


async def test_a_provider_becomes_azure_only_with_a_url_that_fits(
    admin: httpx.AsyncClient, world: World
) -> None:
    headers = world["admin"].headers
    path = f"/tenants/{world.acme.tenant_id}/providers/{world.acme.provider_id}"
    listed = await admin.get(path, headers=headers)
    url = listed.json()["base_url"]
    refused = await admin.patch(
        path, json={"type": "azure-openai", "base_url": url + "?v=1"}, headers=headers
    )
    switched = await admin.patch(path, json={"type": "azure-openai"}, headers=headers)
    assert refused.status_code == 400
    assert switched.status_code == 200
    assert switched.json()["type"] == "azure-openai"


def test_routes_name_the_azure_type_and_refuse_unknown_ones() -> None:
    provider = {"id": "p", "name": "az", "type": "azure-openai", "base_url": RESOURCE}
    data = {
        "version": 1,
        "token": {"id": "t", "tenant_id": "x", "name": "k", "prefix": "jk"},
        "models": [
            {
                "name": "gpt-4o",
                "deployments": [{"id": "d", "provider": provider, "upstream_model": "prod"}],
            }
        ],
    }
    parsed = Route.from_dict(data)
    assert parsed.models[0].deployments[0].provider.type == "azure-openai"
    provider["type"] = "azure"
    with pytest.raises(ContractError):
        Route.from_dict(data)
