"""The admin app skeleton: health, JSON 404s, and owning its database."""

from __future__ import annotations

import httpx

from junction_control.app import create_admin_app, create_internal_app
from junction_control.db import Database
from junction_control.migrations import current_revision, head_revision
from junction_control.settings import ControlSettings


async def test_health_and_unknown_api_paths(settings: ControlSettings, database: Database) -> None:
    app = create_admin_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        health = await client.get("/api/v1/health")
        missing = await client.get("/api/v1/no-such-thing")
        wrong_method = await client.post("/api/v1/health")

    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_an_app_that_owns_its_database_migrates_it_at_start(
    settings: ControlSettings,
) -> None:
    app = create_internal_app(settings)

    async with app.router.lifespan_context(app):
        probe = Database(settings.database_url)
        try:
            assert await current_revision(probe.engine) == head_revision()
        finally:
            await probe.dispose()


async def test_both_apps_share_one_database(settings: ControlSettings, database: Database) -> None:
    admin = create_admin_app(settings, database=database)
    internal = create_internal_app(settings, database=database)

    assert admin.state.context.database is internal.state.context.database is database
