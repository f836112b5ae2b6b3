"""/readyz: ready, degraded (serving from local state) or not ready, at no cost per poll."""

from __future__ import annotations

import httpx

from junction_engine.app import create_app
from junction_engine.client_keys import hash_key
from junction_engine.control_client import ControlClient
from junction_engine.readiness import Readiness
from junction_engine.route_cache import RouteCache
from junction_engine.settings import EngineSettings
from tests.engine.conftest import KEY, build_engine, default_route
from tests.support.routes import SECRET, FakeControl


async def test_ready_when_the_control_plane_accepts_the_signature() -> None:
    async with build_engine() as engine:
        resp = await engine.client.get("/readyz")
        assert resp.status_code == 200
        body = resp.json()
        assert body["status"] == "ready"
        assert body["checks"]["control_plane"]["status"] == "ok"


async def test_polls_cost_no_control_call_while_the_verdict_is_fresh() -> None:
    async with build_engine() as engine:
        for _ in range(20):
            assert (await engine.client.get("/readyz")).json()["status"] == "ready"
        assert engine.control.calls == 1  # one signed probe, then its answer was reused


async def test_answers_to_real_calls_stand_in_for_the_probe() -> None:
    async with build_engine() as engine:
        assert (await engine.client.get("/v1/models")).status_code == 200
        assert (await engine.client.get("/readyz")).json()["status"] == "ready"
        assert engine.control.calls == 1  # the key's resolve; no probe was needed


async def test_not_ready_while_the_control_plane_refuses_the_signature() -> None:
    # what the control plane answers a call signed with another secret
    refusing = httpx.MockTransport(
        lambda request: httpx.Response(
            401, json={"error": {"code": "bad_signature", "message": "bad signature"}}
        )
    )
    settings = EngineSettings(internal_secret=SECRET, control_url="http://control")
    app = create_app(settings, control_transport=refusing)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://e") as client,
    ):
        resp = await client.get("/readyz")
        assert resp.status_code == 503
        body = resp.json()
        assert body["status"] == "not_ready"
        assert body["checks"]["control_plane"]["status"] == "refused"
        call = await client.get("/v1/models", headers={"authorization": f"Bearer {KEY}"})
        assert call.status_code == 503
        assert call.json()["error"]["code"] == "control_plane_unavailable"
        assert (await client.get("/healthz")).status_code == 200  # alive all the same


async def test_a_control_outage_is_degraded_with_cached_routes_and_not_ready_without() -> None:
    fake = FakeControl({hash_key(KEY): default_route()})
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        control = ControlClient(http, "http://control", SECRET)
        routes = RouteCache(control.resolve)
        # the verdict comes from the probe the test sends; polls send none of their own
        readiness = Readiness(control, routes, probe_every=3600)
        fake.down = True
        await control.probe()
        report = await readiness.report()
        assert (report.http_status, report.status) == (503, "not_ready")
        assert report.checks["control_plane"]["status"] == "unavailable"
        fake.down = False
        await routes.get(hash_key(KEY))
        fake.down = True
        await control.probe()
        report = await readiness.report()
        assert (report.http_status, report.status) == (200, "degraded")
        assert report.checks["routes"]["cached"] == 1
        fake.down = False
        await control.probe()
        assert (await readiness.report()).status == "ready"


async def test_healthz_is_liveness_only() -> None:
    async with build_engine() as engine:
        engine.control.down = True
        resp = await engine.client.get("/healthz")
        assert (resp.status_code, resp.json()) == (200, {"status": "ok"})
        assert engine.control.calls == 0
