"""Shared fixtures: which real services are reachable, and whether they must be."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from hypothesis import settings

# property tests check what is computed, never how fast: no per-example wall-clock
# deadline (on a loaded machine the first example can take longer than any fixed one)
settings.register_profile("junction", deadline=None)
settings.load_profile("junction")


def services_required() -> bool:
    """In CI every real service is required: a missing one fails instead of skipping."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(what: str) -> None:
    """Skip locally, fail in CI."""
    if services_required():
        pytest.fail(f"{what} is required when CI=true", pytrace=False)
    pytest.skip(f"{what} is not reachable")


DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _pg_server_url() -> str:
    return os.environ.get("JUNCTION_TEST_DATABASE_URL") or DEFAULT_PG_URL


async def _pg_execute(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The maintenance database URL of a reachable PostgreSQL (or skip / fail on CI)."""
    url = _pg_server_url()
    try:
        asyncio.run(_pg_execute(url, "SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        unavailable(f"PostgreSQL at {url} ({exc!r})")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database, as an operator would write it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'junction.db'}"
        return
    server: str = request.getfixturevalue("postgres_server_url")
    name = f"jt_{secrets.token_hex(6)}"
    asyncio.run(_pg_execute(server, f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(server, name)
    finally:
        asyncio.run(_pg_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis (database 15 by default), or skip / fail on CI."""
    import redis

    url = os.environ.get("JUNCTION_TEST_REDIS_URL") or DEFAULT_REDIS_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except (redis.RedisError, OSError) as exc:
        unavailable(f"Redis at {url} ({exc!r})")
    return url
