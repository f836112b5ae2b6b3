"""The database: one async engine and its session factory per process.

SQLite runs in WAL mode with foreign keys on (set on every new connection);
PostgreSQL runs through asyncpg. Driver errors that mean "the database is not
there" are mapped to DatabaseUnavailable at this boundary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from junction_control import migrations
from junction_control.errors import Conflict, DatabaseUnavailable

SQLITE_BUSY_TIMEOUT_MS = 5000


class Database:
    """Owns the async engine; hands out sessions; applies migrations."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine: AsyncEngine = create_engine(url, echo=echo)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; the caller commits. Connection failures become DatabaseUnavailable."""
        async with self._sessions() as session:
            try:
                yield session
            except IntegrityError as exc:
                # a concurrent writer took the same natural name between check and insert
                raise Conflict("a row with the same name was written concurrently") from exc
            except (OperationalError, InterfaceError, OSError) as exc:
                raise DatabaseUnavailable(_describe(exc)) from exc

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncConnection]:
        """A connection for Core reads outside a transaction; failures as in `session`.

        Autocommit saves the BEGIN and ROLLBACK round trips a session would
        add; each statement still reads one consistent snapshot.
        """
        try:
            async with self.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                yield conn
        except (OperationalError, InterfaceError, OSError) as exc:
            raise DatabaseUnavailable(_describe(exc)) from exc

    async def migrate(self) -> None:
        """Bring the schema to the newest revision."""
        try:
            await migrations.upgrade(self.engine)
        except (OperationalError, InterfaceError, OSError) as exc:
            raise DatabaseUnavailable(_describe(exc)) from exc

    async def ping(self) -> None:
        """A cheap round trip; DatabaseUnavailable if the database does not answer."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (DBAPIError, OSError) as exc:
            raise DatabaseUnavailable(_describe(exc)) from exc

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for `url`, with SQLite tuned for a small server."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, echo=echo, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, echo=echo)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # per-connection settings: WAL lets readers run beside the writer, NORMAL
    # sync is safe under WAL, foreign keys are off by default in SQLite
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _describe(exc: BaseException) -> str:
    # the driver's own message may quote the URL; keep only the error class
    # and the first line of the message, with the password never present
    orig = getattr(exc, "orig", None) or exc
    first_line = str(orig).splitlines()[0] if str(orig) else ""
    return f"database unavailable ({type(orig).__name__}: {first_line})"[:300]
