"""The PostgreSQL pool: connections the server dropped are replaced, and callers rarely notice.

A pooled connection idle for a while is pinged before use; one used moments
ago is trusted, so when the server drops it (a restart) the next statement on
it fails: resolves and telemetry batches, being idempotent, are then tried
once more on a new connection.
"""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from junction_contracts.telemetry import TELEMETRY_PATH
from junction_control.db import Database
from junction_control.errors import ConnectionLost
from junction_control.settings import ControlSettings

from .conftest import RESOLVE_PATH, Demo, signed_post
from .test_telemetry import batch, counted, started

# every test on a PostgreSQL database of its own: the connections dropped are only its own
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]


async def backend_pid(database: Database) -> int:
    async with database.reader() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def drop_connections(operator_url: str) -> None:
    """What a server restart does to a pool: every other connection to the database is gone."""
    conn = await asyncpg.connect(operator_url)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    # the pooled connections hear of it (the server closes their sockets) before the
    # next request, as they would during a restart
    await asyncio.sleep(0.2)


async def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    settings: ControlSettings, database_url: str
) -> None:
    database = Database(settings.database_url, idle_ping_seconds=0.0)
    try:
        before = await backend_pid(database)
        await drop_connections(database_url)

        assert await backend_pid(database) != before
    finally:
        await database.dispose()


async def test_a_busy_connection_the_server_dropped_fails_once_then_the_pool_is_new(
    settings: ControlSettings, database_url: str
) -> None:
    database = Database(settings.database_url, idle_ping_seconds=3600.0)
    try:
        before = await backend_pid(database)
        await drop_connections(database_url)

        with pytest.raises(ConnectionLost):
            await backend_pid(database)
        assert await backend_pid(database) != before
    finally:
        await database.dispose()


async def test_resolves_and_batches_ride_over_dropped_connections(
    internal_client: httpx.AsyncClient,
    settings: ControlSettings,
    database: Database,
    database_url: str,
    demo: Demo,
) -> None:
    await backend_pid(database)

    await drop_connections(database_url)
    resolved = await signed_post(
        internal_client, settings.internal_secret, RESOLVE_PATH, {"token_hash": demo.token_hash}
    )
    await drop_connections(database_url)
    ingested = await signed_post(
        internal_client, settings.internal_secret, TELEMETRY_PATH, batch([started(demo, "c1")])
    )

    assert resolved.status_code == 200
    assert (ingested.status_code, ingested.json()) == (202, counted(1, 0))
