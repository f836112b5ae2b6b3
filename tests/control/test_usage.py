"""Reading recorded calls, and closing calls stuck in `processing` (CLI and `serve`)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from junction_control.cli import main
from junction_control.db import Database
from junction_control.errors import InvalidInput
from junction_control.settings import ControlSettings
from junction_control.tenants import service as tenants
from junction_control.usage.models import ModelCall
from junction_control.usage.service import CallCursor, ModelUsage, list_calls, usage_summary

from .conftest import Demo, World
from .test_serve import _free_port, _wait_for

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def call(tenant_id: str, call_id: str, started_at: datetime, **fields: object) -> ModelCall:
    """A recorded call (a finished success unless `fields` say otherwise)."""
    values: dict[str, object] = {
        "token_id": "tok",
        "model": "chat",
        "status": "success",
        "finished_at": started_at,
        **fields,
    }
    return ModelCall(id=call_id, tenant_id=tenant_id, started_at=started_at, **values)


async def add_calls(database: Database, *calls: ModelCall) -> None:
    async with database.session() as session:
        session.add_all(calls)
        await session.commit()


async def test_list_calls_pages_newest_first_without_losing_ties(
    database: Database, demo: Demo
) -> None:
    same_instant = T0 + timedelta(minutes=5)
    await add_calls(
        database,
        call(demo.tenant_id, "a", T0),
        call(demo.tenant_id, "b", same_instant),
        call(demo.tenant_id, "c", same_instant),
        call(demo.tenant_id, "d", same_instant),
        call(demo.tenant_id, "e", T0 + timedelta(minutes=9)),
    )

    pages: list[list[str]] = []
    cursor: CallCursor | None = None
    async with database.session() as session:
        while True:
            page = await list_calls(session, demo.tenant_id, limit=2, before=cursor)
            if not page:
                break
            pages.append([c.id for c in page])
            cursor = CallCursor.after(page[-1])

    assert pages == [["e", "d"], ["c", "b"], ["a"]]


async def test_list_calls_shows_one_tenant_only(database: Database, demo: Demo) -> None:
    async with database.session() as session:
        other = await tenants.create_tenant(session, "other")
        await session.commit()
    await add_calls(database, call(demo.tenant_id, "mine", T0), call(other.id, "theirs", T0))

    async with database.session() as session:
        mine = await list_calls(session, demo.tenant_id, limit=10)
        with pytest.raises(InvalidInput):
            await list_calls(session, demo.tenant_id, limit=0)

    assert [c.id for c in mine] == ["mine"]


async def test_usage_summary_totals_each_model_in_the_range(database: Database, demo: Demo) -> None:
    await add_calls(
        database,
        call(demo.tenant_id, "1", T0, input_tokens=100, output_tokens=10, cost_usd=0.25),
        call(
            demo.tenant_id,
            "2",
            T0 + timedelta(minutes=1),
            input_tokens=50,
            output_tokens=5,
            cost_usd=0.5,
        ),
        call(demo.tenant_id, "3", T0, model="embed", input_tokens=7, cost_usd=0.125),
        call(demo.tenant_id, "4", T0 + timedelta(minutes=2), status="processing", finished_at=None),
        call(demo.tenant_id, "5", T0 + timedelta(minutes=3), status="failed", input_tokens=9),
        call(demo.tenant_id, "6", T0 + timedelta(minutes=4), status="refused", attempts=0),
        call(demo.tenant_id, "7", T0, model="embed", status="refused", attempts=0),
        call(demo.tenant_id, "early", T0 - timedelta(seconds=1), input_tokens=1000),
        call(demo.tenant_id, "late", T0 + timedelta(hours=1), input_tokens=1000),
    )

    async with database.session() as session:
        summary = await usage_summary(session, demo.tenant_id, T0, T0 + timedelta(hours=1))
        empty = await usage_summary(
            session, demo.tenant_id, T0 - timedelta(days=9), T0 - timedelta(days=8)
        )

    assert summary == [
        ModelUsage(
            model="chat",
            calls=5,
            failed_calls=1,
            refused_calls=1,
            input_tokens=159,
            output_tokens=15,
            cost_usd=0.75,
        ),
        ModelUsage(
            model="embed",
            calls=2,
            failed_calls=0,
            refused_calls=1,
            input_tokens=7,
            output_tokens=0,
            cost_usd=0.125,
        ),
    ]
    assert empty == []


async def test_the_usage_api_shows_refused_calls_apart_from_failed_ones(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    tenant_id = world.acme.tenant_id
    await add_calls(
        database,
        call(tenant_id, "ok", T0, input_tokens=10, cost_usd=0.5),
        call(tenant_id, "broke", T0, status="failed", http_status=502, error_code="upstream_error"),
        call(tenant_id, "stuck", T0, status="failed", error_code="stuck"),
        call(
            tenant_id,
            "no-provider",
            T0,
            status="refused",
            http_status=400,
            error_code="unsupported_operation",
        ),
    )

    response = await admin.get(
        f"/tenants/{tenant_id}/usage",
        params={"since": T0.isoformat(), "until": (T0 + timedelta(hours=1)).isoformat()},
        headers=world["viewer"].headers,
    )
    calls = await admin.get(f"/tenants/{tenant_id}/calls", headers=world["viewer"].headers)

    assert response.status_code == 200, response.text
    assert response.json()["models"] == [
        {
            "model": "chat",
            "calls": 4,
            "failed_calls": 2,
            "refused_calls": 1,
            "input_tokens": 10,
            "output_tokens": 0,
            "cost_usd": 0.5,
        }
    ]
    statuses = {c["id"]: (c["status"], c["cost_usd"]) for c in calls.json()["items"]}
    assert statuses["no-provider"] == ("refused", 0.0)


async def _seed_stuck_call(url: str) -> None:
    """A tenant with one call started two hours ago that never finished."""
    database = Database(url)
    try:
        await database.migrate()
        async with database.session() as session:
            tenant = await tenants.create_tenant(session, "acme")
            await session.commit()
        two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
        await add_calls(
            database,
            call(tenant.id, "stuck", two_hours_ago, status="processing", finished_at=None),
            call(tenant.id, "recent", datetime.now(UTC), status="processing", finished_at=None),
        )
    finally:
        await database.dispose()


async def _statuses(url: str) -> dict[str, tuple[str, str | None]]:
    database = Database(url)
    try:
        async with database.session() as session:
            tenant = await tenants.get_tenant(session, "acme")
            calls = await list_calls(session, tenant.id, limit=10)
            return {c.id: (c.status, c.error_code) for c in calls}
    finally:
        await database.dispose()


def test_reap_stuck_command_fails_old_processing_calls_once(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    url = ControlSettings.from_env(environ=cli_env, env_file=None).database_url
    asyncio.run(_seed_stuck_call(url))

    first = main(["reap-stuck", "--older-than-minutes", "60"])
    again = main(["reap-stuck"])  # default threshold: 30 minutes

    out = capsys.readouterr().out
    assert (first, again) == (0, 0)
    assert "marked 1 call(s) processing for over 60 minute(s) as failed (stuck)" in out
    assert "marked 0 call(s) processing for over 30 minute(s)" in out
    assert asyncio.run(_statuses(url)) == {
        "stuck": ("failed", "stuck"),
        "recent": ("processing", None),
    }


def test_reap_stuck_refuses_a_threshold_that_is_not_positive(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["reap-stuck", "--older-than-minutes", "0"])

    assert exit_info.value.code == 2
    assert "must be positive" in capsys.readouterr().err


def test_serve_reaps_stuck_calls_in_the_background(tmp_path: Path) -> None:
    var = tmp_path / "var"
    url = f"sqlite+aiosqlite:///{var / 'junction.db'}"
    asyncio.run(_seed_stuck_call(url))
    internal_port = _free_port()
    env = {
        **os.environ,
        "JUNCTION_VAR_DIR": str(var),
        "JUNCTION_ADMIN_PORT": str(_free_port()),
        "JUNCTION_INTERNAL_PORT": str(internal_port),
        "JUNCTION_LOG_LEVEL": "warning",
        "JUNCTION_STUCK_CALL_MINUTES": "60",
    }
    env.pop("JUNCTION_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "junction_control", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        _wait_for(f"http://127.0.0.1:{internal_port}/healthz", deadline)
        statuses = asyncio.run(_statuses(url))
        while statuses["stuck"][0] == "processing" and time.monotonic() < deadline:
            time.sleep(0.1)
            statuses = asyncio.run(_statuses(url))
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)

    assert statuses == {"stuck": ("failed", "stuck"), "recent": ("processing", None)}
    assert process.returncode == 0, output.decode()
    assert b"marked 1 call(s) still processing" in output
