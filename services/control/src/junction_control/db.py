"""The database: one async engine and its session factory per process.

SQLite runs in WAL mode with foreign keys on (set on every new connection);
PostgreSQL runs through asyncpg, and a pooled connection that sat idle is
checked before use (see `_ping_when_idle`). Driver errors that mean "the
database is not there" are mapped to DatabaseUnavailable at this boundary.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry
from sqlmodel.ext.asyncio.session import AsyncSession

from junction_control import migrations
from junction_control.errors import Conflict, ConnectionLost, DatabaseUnavailable

SQLITE_BUSY_TIMEOUT_MS = 5000
# a pooled PostgreSQL connection idle this long is pinged before it is used again
IDLE_PING_SECONDS = 10.0
# PostgreSQL connections kept open, and how many more a burst may open (and close
# again when it ends): a burst of route resolves from starting engines must not
# pay a connection setup per request
POOL_SIZE = 10
MAX_OVERFLOW = 20


class Database:
    """Owns the async engine; hands out sessions; applies migrations."""

    def __init__(
        self, url: str, *, echo: bool = False, idle_ping_seconds: float = IDLE_PING_SECONDS
    ) -> None:
        self.url = url
        self.engine: AsyncEngine = create_engine(
            url, echo=echo, idle_ping_seconds=idle_ping_seconds
        )
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
                raise _unavailable(exc) from exc

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
            raise _unavailable(exc) from exc

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

    def watch_pool_waits(self, observe: Callable[[float], None]) -> None:
        """Have `observe` told the seconds each connection checkout waited (PostgreSQL's pool)."""
        pool = self.engine.sync_engine.pool
        if isinstance(pool, TimedQueuePool):
            pool.on_wait = observe

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def create_engine(
    url: str, *, echo: bool = False, idle_ping_seconds: float = IDLE_PING_SECONDS
) -> AsyncEngine:
    """An async engine for `url`, with SQLite tuned for a small server."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_async_engine(
            url,
            echo=echo,
            pool_size=POOL_SIZE,
            max_overflow=MAX_OVERFLOW,
            poolclass=TimedQueuePool,
        )
        _ping_when_idle(engine, idle_ping_seconds)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, echo=echo)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


class TimedQueuePool(AsyncAdaptedQueuePool):
    """SQLAlchemy's async queue pool, timing each checkout (a full pool makes callers wait)."""

    on_wait: Callable[[float], None] | None = None

    def _do_get(self) -> ConnectionPoolEntry:
        started = time.perf_counter()
        try:
            return super()._do_get()
        finally:
            if self.on_wait is not None:
                self.on_wait(time.perf_counter() - started)

    def recreate(self) -> TimedQueuePool:
        # a disposed engine gets a new pool: the watcher carries over
        pool = super().recreate()
        assert isinstance(pool, TimedQueuePool)
        pool.on_wait = self.on_wait
        return pool


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Ping a pooled connection before use once it sat idle `idle_seconds`; replace a dead one.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout, and with asyncpg a
    ping is three round trips (BEGIN, an empty query, ROLLBACK): more than a
    route resolve's own two queries. A connection used moments ago is trusted;
    should the server have gone away since, its statement fails, SQLAlchemy
    drops the whole pool, and the caller gets ConnectionLost (resolve and
    ingest, being idempotent, try again at once on a new connection).
    """
    pool = engine.sync_engine.pool
    dbapi_error = engine.dialect.loaded_dbapi.Error

    def fresh(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_IDLE_SINCE, 0.0) < idle_seconds:
            return
        try:
            dbapi_connection.ping()
        except (dbapi_error, OSError) as exc:
            # the pool discards this connection and checks out another one
            raise DisconnectionError("a pooled database connection is gone") from exc

    event.listen(pool, "connect", fresh)
    event.listen(pool, "checkin", fresh)
    event.listen(pool, "checkout", checkout)


_IDLE_SINCE = "junction.idle_since"


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


def _unavailable(exc: BaseException) -> DatabaseUnavailable:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return ConnectionLost(_describe(exc))
    return DatabaseUnavailable(_describe(exc))


def _describe(exc: BaseException) -> str:
    # the driver's own message may quote the URL; keep only the error class
    # and the first line of the message, with the password never present
    orig = getattr(exc, "orig", None) or exc
    first_line = str(orig).splitlines()[0] if str(orig) else ""
    return f"database unavailable ({type(orig).__name__}: {first_line})"[:300]
