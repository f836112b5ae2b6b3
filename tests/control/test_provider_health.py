"""Provider health: engines report breaker changes, admins read them per provider.

The first test runs an engine in-process against the real control plane
(internal API over ASGI) and the mock LLM, which refuses the tenant's key:
the credential is marked invalid by the engine, reported, and shown to the
tenant's admins, and no longer once an admin enters a new key.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from starlette.applications import Starlette

from junction_contracts.health import HEALTH_PATH
from junction_control.settings import ControlSettings
from junction_engine.app import create_app
from junction_engine.settings import EngineSettings
from junction_mockllm.app import create_app as create_mock_app
from junction_mockllm.settings import MockSettings

from .conftest import World, signed_post

CHAT = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}


def _health_path(world: World) -> str:
    return f"/tenants/{world.acme.tenant_id}/providers/{world.acme.provider_id}/health"


def _report(target_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "kind": "deployment",
        "target_id": target_id,
        "state": "open",
        "failures": 5,
        "last_error": "upstream_timeout",
        "changed_at": time.time(),
        "open_until": time.time() + 30,
        "engine_id": "engine-1:100",
        **fields,
    }


async def _deployment_id(admin: httpx.AsyncClient, world: World) -> str:
    health = await admin.get(_health_path(world), headers=world["admin"].headers)
    found: str = health.json()["deployments"][0]["id"]
    return found


async def test_a_credential_refused_by_the_provider_shows_as_invalid_to_admins(
    settings: ControlSettings, internal_app: Starlette, admin: httpx.AsyncClient, world: World
) -> None:
    mock = create_mock_app(MockSettings(api_keys=("the-key-the-provider-wants",)))
    engine = create_app(
        EngineSettings(internal_secret=settings.internal_secret, control_url="http://control"),
        upstream_transport=httpx.ASGITransport(app=mock),
        control_transport=httpx.ASGITransport(app=internal_app),
    )
    async with (
        engine.router.lifespan_context(engine),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=engine),
            base_url="http://engine",
            headers={"authorization": f"Bearer {world.acme.raw_token}"},
        ) as client,
    ):
        refused = await client.post("/v1/chat/completions", json=CHAT)
        assert refused.status_code == 502
        assert refused.json()["error"]["code"] == "upstream_auth_failed"
        await engine.state.health_reports.flush()
        assert engine.state.health_reports.sent >= 1
        again = await client.post("/v1/chat/completions", json=CHAT)
        assert again.status_code == 503  # the only key is out: nothing left to try
        assert again.json()["error"]["code"] == "no_healthy_deployment"

    health = await admin.get(_health_path(world), headers=world["viewer"].headers)
    assert health.status_code == 200
    body = health.json()
    cid = world.acme.credential_id
    assert body["invalid_credentials"] == [cid]
    [credential] = body["credentials"]
    assert credential["invalid"] is True
    assert credential["breaker"]["state"] == "invalid"
    assert credential["breaker"]["last_error"] == "upstream_auth_failed"
    assert len(credential["breaker"]["engines"]) == 1
    assert world.acme.provider_key not in health.text
    assert all(d["breaker"]["state"] == "closed" for d in body["deployments"])

    # an admin enters a new key: the old verdict no longer applies
    rotated = await admin.put(
        f"/tenants/{world.acme.tenant_id}/providers/{world.acme.provider_id}/credentials/{cid}/key",
        json={"key": "the-key-the-provider-wants"},
        headers=world["admin"].headers,
    )
    assert rotated.status_code == 200
    after = (await admin.get(_health_path(world), headers=world["admin"].headers)).json()
    assert after["invalid_credentials"] == []
    assert after["credentials"][0]["breaker"]["state"] == "closed"


async def test_the_health_read_is_tenant_scoped_like_provider_reads(
    admin: httpx.AsyncClient, world: World
) -> None:
    path = _health_path(world)
    assert (await admin.get(path, headers=world["outsider"].headers)).status_code == 404
    assert (await admin.get(path)).status_code == 401
    for who in ("owner", "admin", "member", "viewer", "platform"):
        assert (await admin.get(path, headers=world[who].headers)).status_code == 200
    other = f"/tenants/{world.acme.tenant_id}/providers/{world.globex_provider_id}/health"
    assert (await admin.get(other, headers=world["admin"].headers)).status_code == 404


async def test_the_latest_word_across_engines_wins_and_time_makes_open_half_open(
    settings: ControlSettings,
    internal_client: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    world: World,
) -> None:
    dep = await _deployment_id(admin, world)
    now = time.time()
    opened = _report(dep, changed_at=now - 60, open_until=now - 1)  # its time has passed
    other = _report(dep, engine_id="engine-2:7", state="open", changed_at=now - 30)
    answer = await signed_post(
        internal_client,
        settings.internal_secret,
        HEALTH_PATH,
        {"version": 1, "reports": [opened, other, _report("no-such-deployment")]},
    )
    assert answer.status_code == 202
    assert answer.json() == {"accepted": 2, "rejected": 1}
    read = (await admin.get(_health_path(world), headers=world["admin"].headers)).json()
    breaker = next(d for d in read["deployments"] if d["id"] == dep)["breaker"]
    assert breaker["state"] == "open"  # engine-2 spoke last, and its breaker is still open
    assert [e["engine_id"] for e in breaker["engines"]] == ["engine-2:7", "engine-1:100"]
    assert breaker["engines"][1]["state"] == "half_open"

    closed = _report(dep, engine_id="engine-2:7", state="closed", open_until=None, failures=0)
    late = _report(dep, engine_id="engine-2:7", state="open", changed_at=now - 3600)
    for report in (closed, late):  # a late batch does not undo the newer word
        await signed_post(
            internal_client,
            settings.internal_secret,
            HEALTH_PATH,
            {"version": 1, "reports": [report]},
        )
    read = (await admin.get(_health_path(world), headers=world["admin"].headers)).json()
    breaker = next(d for d in read["deployments"] if d["id"] == dep)["breaker"]
    assert (breaker["state"], breaker["failures"]) == ("closed", 0)


async def test_bad_health_batches_are_refused_whole(
    settings: ControlSettings, internal_client: httpx.AsyncClient, world: World
) -> None:
    secret = settings.internal_secret
    for body in (
        {"version": 2, "reports": []},
        {"version": 1, "reports": [_report("x", state="melted")]},
        {"version": 1, "reports": [_report("x", failures=-1)]},
        {"version": 1, "reports": [_report("x", changed_at="yesterday")]},
        {"version": 1, "reports": [_report("x", engine_id="")]},
        [],
    ):
        answer = await signed_post(internal_client, secret, HEALTH_PATH, body)
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "invalid_request"
    unsigned = await internal_client.post(HEALTH_PATH, json={"version": 1, "reports": []})
    assert unsigned.status_code == 401
