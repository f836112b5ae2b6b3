"""The schema: Alembic migrations on both backends, and what rows may hold."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from junction_control.db import Database
from junction_control.migrations import current_revision, head_revision
from junction_control.tables import metadata

from .conftest import Demo

TABLES = ("tenants", "user_tokens", "providers", "credentials", "ai_models", "deployments")


async def test_migrations_reach_head_and_rerun_as_a_no_op(database: Database) -> None:
    await database.migrate()

    assert await current_revision(database.engine) == head_revision()


async def test_tables_match_the_models_exactly(database: Database) -> None:
    def diff(conn: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))

    async with database.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'j.db'}")
    try:
        async with database.engine.connect() as conn:
            journal = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            foreign_keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
            synchronous = (await conn.execute(text("PRAGMA synchronous"))).scalar()
    finally:
        await database.dispose()
    assert (journal, foreign_keys, synchronous) == ("wal", 1, 1)


async def _all_rows_text(database: Database) -> str:
    dump = []
    async with database.engine.connect() as conn:
        for table in TABLES:
            rows = (await conn.execute(text(f"SELECT * FROM {table}"))).all()
            dump.extend(repr(tuple(row)) for row in rows)
    return "\n".join(dump)


async def test_tokens_are_stored_as_hash_and_prefix_only(database: Database, demo: Demo) -> None:
    async with database.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT prefix, token_hash FROM user_tokens WHERE id = :id"),
                {"id": demo.token_id},
            )
        ).one()

    assert demo.raw_token.startswith("jk-")
    assert len(demo.raw_token) == 43
    assert row.prefix == demo.raw_token[:12]
    assert row.token_hash == demo.token_hash
    assert demo.raw_token not in await _all_rows_text(database)


async def test_provider_keys_are_stored_encrypted_only(database: Database, demo: Demo) -> None:
    dump = await _all_rows_text(database)

    assert demo.provider_key not in dump
    assert demo.provider_key[-4:] in dump  # the visible last four


async def test_no_secret_reaches_the_sqlite_files(
    database: Database, demo: Demo, tmp_path: Path
) -> None:
    if database.dialect != "sqlite":
        pytest.skip("PostgreSQL's files are not ours to read; the row checks cover it")
    await database.dispose()  # checkpoint nothing away: read the db and its WAL as they are
    files = [p for p in tmp_path.iterdir() if p.name.startswith("junction.db")]
    content = b"".join(p.read_bytes() for p in files)

    assert files
    assert demo.raw_token.encode() not in content
    assert demo.provider_key.encode() not in content
