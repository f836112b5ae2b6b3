"""A key's `last_used_at`: written from the telemetry that reports its calls, never by a request."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from junction_control.db import Database
from junction_control.settings import ControlSettings
from junction_control.tokens.models import UserToken

from .conftest import World
from .test_telemetry import NOW, finished, refused, send, started


async def last_used(database: Database, token_id: str) -> datetime | None:
    async with database.session() as session:
        token = await session.get(UserToken, token_id)
        assert token is not None
        return token.last_used_at


async def test_a_finished_call_moves_its_key_last_use_forward_never_back(
    internal_client: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    settings: ControlSettings,
    database: Database,
    world: World,
) -> None:
    demo = world.acme
    assert await last_used(database, demo.token_id) is None

    await send(internal_client, settings, [started(demo, "c1")])
    only_started = await last_used(database, demo.token_id)
    # two calls in one batch: the later end wins, whatever the order
    await send(
        internal_client,
        settings,
        [finished(demo, "c2", started_at=NOW - 10), finished(demo, "c1", started_at=NOW - 60)],
    )
    after = await last_used(database, demo.token_id)
    # a late batch with an older call does not move it back; a refused call is a use too
    await send(internal_client, settings, [finished(demo, "c3", started_at=NOW - 3600)])
    after_late = await last_used(database, demo.token_id)
    await send(internal_client, settings, [refused(demo, "c4", started_at=NOW - 1)])
    after_refused = await last_used(database, demo.token_id)
    listed = await admin.get(
        f"/tenants/{demo.tenant_id}/tokens/{demo.token_id}", headers=world["viewer"].headers
    )

    assert only_started is None  # a call still running has not ended its use yet
    assert after is not None
    assert after.timestamp() == pytest.approx(NOW - 10 + 1, abs=1e-3)  # finished at start + 1 s
    assert after_late == after
    assert after_refused is not None
    assert after_refused.timestamp() == pytest.approx(NOW, abs=1e-3)
    assert listed.status_code == 200, listed.text
    shown = datetime.fromisoformat(listed.json()["last_used_at"])
    assert shown.astimezone(UTC).timestamp() == pytest.approx(NOW, abs=1e-3)
