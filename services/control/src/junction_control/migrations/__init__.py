"""Alembic owns the schema: `env.py` plus hand-written revisions in `versions/`.

`upgrade()` follows Alembic's recipe for sharing an asyncio connection with
the programmatic API: the async engine opens a transaction and runs the
synchronous Alembic command on it through `run_sync`. On PostgreSQL the
transaction first takes an advisory lock, so two migrations started at once
(two `migrate` steps, or `serve`s with JUNCTION_MIGRATE_ON_START on) run one
after the other: the second finds the schema current and does nothing.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

SCRIPT_LOCATION = Path(__file__).resolve().parent
#: the first key of every Junction advisory lock on PostgreSQL ("JUNC"); the second
#: is 0 for migrations, and names the job for background jobs (`job_locks`)
LOCK_NAMESPACE = 0x4A554E43
_MIGRATION_LOCK = text(f"SELECT pg_advisory_xact_lock({LOCK_NAMESPACE}, 0)")


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at this package (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if url is not None:
        # ConfigParser interpolates "%", which URL-encoded passwords contain
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision` in one transaction."""

    def run_upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(_MIGRATION_LOCK)  # released when the transaction ends
        await conn.run_sync(run_upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None before the first migration)."""

    def read(connection: Connection) -> str | None:
        rev: str | None = MigrationContext.configure(connection).get_current_revision()
        return rev

    async with engine.connect() as conn:
        return await conn.run_sync(read)


def head_revision() -> str:
    """The newest revision shipped with this package."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships a revision
        raise RuntimeError("no migration revisions found")
    return str(head)
