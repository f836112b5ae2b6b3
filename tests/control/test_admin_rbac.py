"""Who may do what: each role against each object, read and write, in tenant acme.

A role without the permission gets 403 inside its own tenant; somebody from
another tenant gets 404, as if the tenant did not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from .conftest import World


@dataclass(frozen=True)
class Probe:
    method: str
    path: Callable[[World], str]
    body: Callable[[World], Any] | None = None


T = "/tenants/{}"
PROBES: dict[tuple[str, str], Probe] = {
    ("tenants", "read"): Probe("GET", lambda w: T.format(w.acme.tenant_id)),
    ("tenants", "write"): Probe(
        "PATCH", lambda w: T.format(w.acme.tenant_id), lambda w: {"name": "acme"}
    ),
    ("users", "read"): Probe("GET", lambda w: T.format(w.acme.tenant_id) + "/members"),
    ("users", "write"): Probe(
        "PATCH",
        lambda w: T.format(w.acme.tenant_id) + f"/members/{w['viewer'].user_id}",
        lambda w: {"role": "viewer"},
    ),
    ("tokens", "read"): Probe("GET", lambda w: T.format(w.acme.tenant_id) + "/tokens"),
    ("tokens", "write"): Probe(
        "PATCH",
        lambda w: T.format(w.acme.tenant_id) + f"/tokens/{w.acme.token_id}",
        lambda w: {"rpm": 60},
    ),
    ("providers", "read"): Probe(
        "GET", lambda w: T.format(w.acme.tenant_id) + f"/providers/{w.acme.provider_id}"
    ),
    ("providers", "write"): Probe(
        "PATCH",
        lambda w: T.format(w.acme.tenant_id) + f"/providers/{w.acme.provider_id}",
        lambda w: {"base_url": "http://127.0.0.1:8100/v1"},
    ),
    ("credentials", "read"): Probe(
        "GET",
        lambda w: T.format(w.acme.tenant_id) + f"/providers/{w.acme.provider_id}/credentials",
    ),
    ("credentials", "write"): Probe(
        "PATCH",
        lambda w: (
            T.format(w.acme.tenant_id)
            + f"/providers/{w.acme.provider_id}/credentials/{w.acme.credential_id}"
        ),
        lambda w: {"weight": 2},
    ),
    ("models", "read"): Probe("GET", lambda w: T.format(w.acme.tenant_id) + "/ai-models"),
    ("models", "write"): Probe(
        "PATCH",
        lambda w: T.format(w.acme.tenant_id) + f"/ai-models/{w.acme_model_id}",
        lambda w: {"pricing": {"input_per_mtok": 1.0}},
    ),
    ("usage", "read"): Probe("GET", lambda w: T.format(w.acme.tenant_id) + "/usage"),
    ("calls", "read"): Probe("GET", lambda w: T.format(w.acme.tenant_id) + "/calls"),
    ("audit", "read"): Probe("GET", lambda w: T.format(w.acme.tenant_id) + "/audit"),
}

READ_ALL_BUT_CREDENTIALS = {key: 200 for key in PROBES if key[1] == "read"} | {
    ("credentials", "read"): 403
}
NO_WRITES = {key: 403 for key in PROBES if key[1] == "write"}
EVERYTHING = dict.fromkeys(PROBES, 200)

EXPECTED: dict[str, dict[tuple[str, str], int]] = {
    "platform": EVERYTHING,
    "owner": EVERYTHING,
    "admin": EVERYTHING,
    "member": READ_ALL_BUT_CREDENTIALS | NO_WRITES,
    "viewer": READ_ALL_BUT_CREDENTIALS | NO_WRITES,
    "outsider": dict.fromkeys(PROBES, 404),
}


@pytest.mark.parametrize("who", list(EXPECTED))
async def test_role_matrix(admin: httpx.AsyncClient, world: World, who: str) -> None:
    got = {}
    for key, probe in PROBES.items():
        body = None if probe.body is None else probe.body(world)
        answer = await admin.request(
            probe.method, probe.path(world), json=body, headers=world[who].headers
        )
        got[key] = answer.status_code
        if answer.status_code >= 400:
            assert answer.json()["error"]["code"] in ("forbidden", "not_found"), answer.text

    assert got == EXPECTED[who]


async def test_a_member_sees_and_revokes_only_their_own_tokens(
    admin: httpx.AsyncClient, world: World
) -> None:
    base = f"/tenants/{world.acme.tenant_id}/tokens"
    member = world["member"].headers
    created = await admin.post(base, json={"name": "mine"}, headers=member)
    assert created.status_code == 201
    mine = created.json()["id"]
    assert created.json()["owner_user_id"] == world["member"].user_id

    listed = await admin.get(base, headers=member)
    assert [t["id"] for t in listed.json()["items"]] == [mine]
    assert (await admin.get(f"{base}/{world.acme.token_id}", headers=member)).status_code == 404
    other = await admin.post(f"{base}/{world.acme.token_id}/revoke", headers=member)
    assert other.status_code == 404
    own = await admin.post(f"{base}/{mine}/revoke", headers=member)
    assert own.status_code == 200
    assert own.json()["revoked_at"] is not None

    everyone = await admin.get(base, headers=world["admin"].headers)
    assert {t["id"] for t in everyone.json()["items"]} == {world.acme.token_id, mine}


async def test_only_owners_handle_the_owner_role_and_a_tenant_keeps_one(
    admin: httpx.AsyncClient, world: World
) -> None:
    members = f"/tenants/{world.acme.tenant_id}/members"
    promote = {"role": "owner"}
    viewer = f"{members}/{world['viewer'].user_id}"
    owner = f"{members}/{world['owner'].user_id}"

    by_admin = await admin.patch(viewer, json=promote, headers=world["admin"].headers)
    demote_owner = await admin.delete(owner, headers=world["admin"].headers)
    last_owner = await admin.delete(owner, headers=world["owner"].headers)
    by_owner = await admin.patch(viewer, json=promote, headers=world["owner"].headers)
    now_allowed = await admin.delete(owner, headers=world["viewer"].headers)

    assert by_admin.status_code == 403
    assert demote_owner.status_code == 403
    assert last_owner.status_code == 409
    assert last_owner.json()["error"]["code"] == "last_owner"
    assert by_owner.status_code == 200
    assert now_allowed.status_code == 204


async def test_only_owners_and_platform_admins_delete_a_tenant(
    admin: httpx.AsyncClient, world: World
) -> None:
    path = f"/tenants/{world.acme.tenant_id}"

    assert (await admin.delete(path, headers=world["admin"].headers)).status_code == 403
    assert (await admin.delete(path, headers=world["owner"].headers)).status_code == 204
    assert (await admin.get(path, headers=world["platform"].headers)).status_code == 404


async def test_only_platform_admins_create_tenants(admin: httpx.AsyncClient, world: World) -> None:
    by_owner = await admin.post("/tenants", json={"name": "new"}, headers=world["owner"].headers)
    by_platform = await admin.post(
        "/tenants", json={"name": "new"}, headers=world["platform"].headers
    )
    again = await admin.post("/tenants", json={"name": "new"}, headers=world["platform"].headers)

    assert by_owner.status_code == 403
    assert by_platform.status_code == 201
    assert again.status_code == 409


async def test_a_role_change_counts_from_the_next_request(
    admin: httpx.AsyncClient, world: World
) -> None:
    providers = f"/tenants/{world.acme.tenant_id}/providers"
    body = {"name": "extra", "type": "openai", "base_url": "http://127.0.0.1:9/v1"}
    viewer = world["viewer"]

    before = await admin.post(providers, json=body, headers=viewer.headers)
    await admin.patch(
        f"/tenants/{world.acme.tenant_id}/members/{viewer.user_id}",
        json={"role": "admin"},
        headers=world["owner"].headers,
    )
    after = await admin.post(providers, json=body, headers=viewer.headers)

    assert before.status_code == 403
    assert after.status_code == 201
