"""One call's detail with its upstream attempts, and the exact filters of the call list."""

from __future__ import annotations

from datetime import timedelta

import httpx

from junction_contracts.telemetry import AttemptNote
from junction_control.db import Database
from junction_control.settings import ControlSettings

from .conftest import World
from .test_telemetry import counted, finished, row, send, started
from .test_usage import T0, add_calls, call

FAILED = AttemptNote(
    deployment_id="dep-1",
    provider_id="prov-a",
    outcome="failed",
    latency_ms=31.5,
    credential_id="cred-a",
    http_status=503,
    error_code="upstream_error",
)
ANSWERED = AttemptNote(
    deployment_id="dep-2",
    provider_id="prov-b",
    outcome="answered",
    latency_ms=420.0,
    credential_id="cred-b",
    http_status=200,
)


async def test_a_failed_over_call_shows_each_attempt_in_order(
    internal_client: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    settings: ControlSettings,
    database: Database,
    world: World,
) -> None:
    demo = world.acme
    done = finished(demo, "c1", attempts=2, deployment_id="dep-2", attempt_log=(FAILED, ANSWERED))
    sent = await send(internal_client, settings, [started(demo, "c1"), done])
    replayed = await send(internal_client, settings, [done])

    detail = await admin.get(f"/tenants/{demo.tenant_id}/calls/c1", headers=world["viewer"].headers)

    assert sent.json() == counted(2, 0)
    assert replayed.json() == counted(0, 1)  # the same log again: a duplicate, not a conflict
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert (body["id"], body["status"], body["attempts"]) == ("c1", "success", 2)
    assert body["attempt_log"] == [
        {"number": 1, **FAILED.to_dict()},
        {"number": 2, **ANSWERED.to_dict()},
    ]


async def test_a_replay_with_another_attempt_log_is_a_conflict(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, world: World
) -> None:
    demo = world.acme
    first = finished(demo, "c2", attempt_log=(ANSWERED,))
    other = finished(demo, "c2", attempt_log=(FAILED, ANSWERED))
    await send(internal_client, settings, [first])

    again = await send(internal_client, settings, [other])
    stored = await row(database, "c2")

    assert again.json() == counted(0, 0, rejected=1, conflicts=[other.id])
    assert stored is not None
    assert stored.attempt_log is not None
    assert '"dep-1"' not in stored.attempt_log  # the first final state wins


async def test_calls_without_a_log_and_other_tenants_calls(
    admin: httpx.AsyncClient, database: Database, world: World
) -> None:
    acme = world.acme.tenant_id
    await add_calls(
        database,
        call(acme, "old", T0, attempts=1),
        call(world.globex_id, "theirs", T0),
    )
    viewer = world["viewer"].headers

    old = await admin.get(f"/tenants/{acme}/calls/old", headers=viewer)
    theirs = await admin.get(f"/tenants/{acme}/calls/theirs", headers=viewer)
    missing = await admin.get(f"/tenants/{acme}/calls/nope", headers=viewer)
    outsider = await admin.get(f"/tenants/{acme}/calls/old", headers=world["outsider"].headers)

    # recorded before attempts were: no log, the count still says one attempt
    assert (old.status_code, old.json()["attempt_log"], old.json()["attempts"]) == (200, [], 1)
    assert (theirs.status_code, theirs.json()["error"]["code"]) == (404, "not_found")
    assert missing.status_code == 404
    assert outsider.status_code in (403, 404)
    assert "attempt_log" not in outsider.text


async def test_the_call_list_filters_exactly_and_combines_filters(
    admin: httpx.AsyncClient, database: Database, world: World
) -> None:
    acme = world.acme.tenant_id
    await add_calls(
        database,
        call(acme, "a", T0, model="chat", request_id="req-a"),
        call(acme, "b", T0 + timedelta(hours=1), model="chat", status="failed"),
        call(acme, "c", T0 + timedelta(days=1), model="chat-2", deployment_id="dep-x"),
        call(acme, "d", T0 + timedelta(days=2), model="chat", token_id="other-token"),
    )
    viewer = world["viewer"].headers

    async def ids(**params: str) -> list[str]:
        resp = await admin.get(f"/tenants/{acme}/calls", params=params, headers=viewer)
        assert resp.status_code == 200, resp.text
        return [c["id"] for c in resp.json()["items"]]

    assert await ids() == ["d", "c", "b", "a"]
    assert await ids(status="failed") == ["b"]
    assert await ids(model="chat") == ["d", "b", "a"]
    assert await ids(model="chat", status="success") == ["d", "a"]
    assert await ids(request_id="req-a") == ["a"]
    assert await ids(deployment_id="dep-x") == ["c"]
    assert await ids(token_id="other-token") == ["d"]
    day = T0.date().isoformat()
    assert await ids(since=day, until=(T0 + timedelta(days=1)).date().isoformat()) == ["b", "a"]
    assert await ids(since=(T0 + timedelta(minutes=30)).isoformat(), model="chat") == ["d", "b"]

    bad_status = await admin.get(f"/tenants/{acme}/calls?status=great", headers=viewer)
    backwards = await admin.get(
        f"/tenants/{acme}/calls",
        params={"since": "2026-01-02", "until": "2026-01-01"},
        headers=viewer,
    )
    assert bad_status.status_code == 422
    assert backwards.status_code in (400, 422)
    assert backwards.json()["error"]["field"] == "since"
