"""``GET /auth/me`` lists what each role permits per tenant: exactly what the API lets through."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from junction_control.admin.registry import Endpoint
from junction_control.admin.routes import endpoints
from junction_control.rbac.policy import ACTS, POLICIES

from .conftest import ROLES, World

Pairs = set[tuple[str, str]]


async def _me(admin: httpx.AsyncClient, world: World, who: str) -> dict[str, Any]:
    resp = await admin.get("/auth/me", headers=world[who].headers)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _pairs(permissions: list[dict[str, str]]) -> Pairs:
    return {(p["resource"], p["action"]) for p in permissions}


def _tenant_pairs(me: dict[str, Any], tenant_id: str) -> Pairs:
    (tenant,) = [t for t in me["tenants"] if t["tenant_id"] == tenant_id]
    return _pairs(tenant["permissions"])


def _granted(role: str) -> Pairs:
    return {(obj, one) for obj, act in POLICIES[role] for one in (ACTS if act == "*" else (act,))}


def _shown_as_allowed(endpoint: Endpoint, pairs: Pairs) -> bool:
    permission = endpoint.permission
    assert permission is not None
    assert permission.obj is not None
    if (permission.obj, permission.act) in pairs:
        return True
    return permission.own and (f"{permission.obj}:own", permission.act) in pairs


def _probe_path(endpoint: Endpoint, tenant_id: str) -> str:
    # the tenant is real; any other id is not, so a permitted call answers 404, never changes a row
    return re.sub(
        r"{(\w+)}", lambda m: tenant_id if m[1] == "tenant_id" else "no-such-id", endpoint.path
    )


def _probed(endpoint: Endpoint) -> bool:
    """Whether calling the endpoint with made-up ids and a broken body cannot change anything."""
    if endpoint.method == "GET" or endpoint.body is not None:
        return True
    return len(endpoint.path_params) > 1


TENANT_ENDPOINTS = [ep for ep in endpoints() if "{tenant_id}" in ep.path]


async def test_me_keeps_who_the_user_is_and_adds_their_tenants(
    admin: httpx.AsyncClient, world: World
) -> None:
    me = await _me(admin, world, "owner")

    assert me["id"] == world["owner"].user_id
    assert me["email"] == "owner@acme.test"
    assert me["is_platform_admin"] is False
    assert me["memberships"] == [{"tenant_id": world.acme.tenant_id, "role": "owner"}]
    assert [(t["tenant_id"], t["tenant_name"], t["role"]) for t in me["tenants"]] == [
        (world.acme.tenant_id, "acme", "owner")
    ]
    assert me["platform_permissions"] == []


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_is_shown_what_its_policy_grants(
    admin: httpx.AsyncClient, world: World, role: str
) -> None:
    pairs = _tenant_pairs(await _me(admin, world, role), world.acme.tenant_id)

    # the policy's own pairs, an act of "*" read as read and write: all shown, nothing else
    assert pairs == _granted(role)


@pytest.mark.parametrize("role", ROLES)
async def test_what_me_shows_is_what_every_tenant_endpoint_allows(
    admin: httpx.AsyncClient, world: World, role: str
) -> None:
    pairs = _tenant_pairs(await _me(admin, world, role), world.acme.tenant_id)
    headers = world[role].headers
    checked = 0
    for endpoint in TENANT_ENDPOINTS:
        if not _probed(endpoint):
            continue
        resp = await admin.request(
            endpoint.method,
            _probe_path(endpoint, world.acme.tenant_id),
            headers={**headers, "content-type": "application/json"},
            content=None if endpoint.method == "GET" else b"{not json",
        )
        refused = resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"
        assert refused != _shown_as_allowed(endpoint, pairs), (
            role,
            endpoint.method,
            endpoint.path,
            resp.status_code,
        )
        checked += 1
    assert checked > 40  # the sweep reached the API, not a handful of routes


async def test_a_viewer_is_shown_no_token_write_and_is_refused_one(
    admin: httpx.AsyncClient, world: World
) -> None:
    pairs = _tenant_pairs(await _me(admin, world, "viewer"), world.acme.tenant_id)
    assert ("tokens", "read") in pairs
    assert ("tokens", "write") not in pairs
    assert ("tokens:own", "write") not in pairs

    resp = await admin.post(
        f"/tenants/{world.acme.tenant_id}/tokens",
        json={"name": "not-allowed"},
        headers=world["viewer"].headers,
    )

    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "forbidden"


async def test_a_member_is_shown_their_own_tokens_only(
    admin: httpx.AsyncClient, world: World
) -> None:
    pairs = _tenant_pairs(await _me(admin, world, "member"), world.acme.tenant_id)
    assert {("tokens:own", "read"), ("tokens:own", "write")} <= pairs
    assert ("tokens", "read") not in pairs
    assert ("credentials", "read") not in pairs

    created = await admin.post(
        f"/tenants/{world.acme.tenant_id}/tokens",
        json={"name": "members-own"},
        headers=world["member"].headers,
    )
    assert created.status_code == 201, created.text


async def test_a_platform_admin_holds_every_pair_outside_any_tenant(
    admin: httpx.AsyncClient, world: World
) -> None:
    me = await _me(admin, world, "platform")

    assert me["is_platform_admin"] is True
    assert me["tenants"] == []
    pairs = _pairs(me["platform_permissions"])
    assert {("tenants", "write"), ("credits", "write"), ("tenants", "delete")} <= pairs


async def test_an_admin_of_another_tenant_is_shown_only_that_tenant(
    admin: httpx.AsyncClient, world: World
) -> None:
    me = await _me(admin, world, "outsider")

    assert [t["tenant_id"] for t in me["tenants"]] == [world.globex_id]
    assert _tenant_pairs(me, world.globex_id) == _granted("admin")
    assert me["platform_permissions"] == []
