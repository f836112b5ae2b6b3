"""Background jobs run by one control replica at a time: an advisory lock per job.

Every control process runs the loops of the background jobs (stuck-call
reaper, usage rollup and prune, budget periods, webhook deliveries). On
PostgreSQL a pass first asks for the job's session-level advisory lock
(``pg_try_advisory_lock``) on a connection of its own. The replica that gets
it runs the pass and keeps the lock, on that connection, for as long as it
lives: so each job runs once per period across the replicas, not once per
replica at whatever offsets their loops started. The others find the lock
taken and skip their pass. The holder checks its connection before each
pass; when it dies or loses the database, PostgreSQL ends the session and
its locks with it, and the next replica to try takes the job over (within
one period). Shutdown releases the locks at once.

On SQLite one control process is assumed (the database is a local file; a
second `serve` on it is not a supported setup): every pass runs, as before.
The jobs stay idempotent either way, so a lock lost mid-pass costs work, not
correctness.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from junction_control.db import Database
from junction_control.errors import DatabaseUnavailable
from junction_control.migrations import LOCK_NAMESPACE

log = logging.getLogger(__name__)

#: the second key of each job's lock (the first is the migrations' `LOCK_NAMESPACE`)
JOB_KEYS = {"reaper": 1, "rollup": 2, "budgets": 3, "deliveries": 4}

_TRY = text("SELECT pg_try_advisory_lock(:namespace, :job)")
_UNLOCK = text("SELECT pg_advisory_unlock(:namespace, :job)")
_ALIVE = text("SELECT 1")


class JobLock:
    """One job's lock in this process; `mine` says whether this pass is this replica's."""

    def __init__(self, engine: AsyncEngine | None, job: str) -> None:
        self.job = job
        self._engine = engine
        self._params = {"namespace": LOCK_NAMESPACE, "job": JOB_KEYS[job]}
        self._conn: AsyncConnection | None = None

    @property
    def held(self) -> bool:
        """Whether this process holds the lock (always true on SQLite)."""
        return self._engine is None or self._conn is not None

    async def mine(self) -> bool:
        """True when this process runs the job now: it holds the lock, or just took it.

        DatabaseUnavailable when the database cannot be asked.
        """
        if self._engine is None:
            return True
        if self._conn is not None:
            try:
                await self._conn.execute(_ALIVE)
                return True
            except (DBAPIError, OSError):
                # the session is gone, and the lock with it: try for it again
                log.warning("lost the %s job's lock with its database connection", self.job)
                await self._drop()
        try:
            conn = await self._engine.connect()
        except (DBAPIError, OSError) as exc:
            raise DatabaseUnavailable("the database cannot be reached for a job lock") from exc
        try:
            # autocommit: the connection waits idle, never idle in a transaction
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            taken = bool((await conn.execute(_TRY, self._params)).scalar())
        except (DBAPIError, OSError) as exc:
            await _close(conn)
            raise DatabaseUnavailable("the database cannot be reached for a job lock") from exc
        if not taken:
            await _close(conn)
            return False
        self._conn = conn
        log.info("this control replica runs the %s job", self.job)
        return True

    async def release(self) -> None:
        """Give the lock up (another replica takes the job at its next pass)."""
        conn = self._conn
        if conn is None:
            return
        with contextlib.suppress(DBAPIError, OSError):  # a dead session holds nothing
            await conn.execute(_UNLOCK, self._params)
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await _close(conn)


class JobLocks:
    """The locks of one control process, on connections outside the request pool."""

    def __init__(self, database: Database) -> None:
        # a connection of its own per held lock: closing it ends the session, and the lock
        self._engine = (
            create_async_engine(database.url, poolclass=NullPool)
            if database.dialect == "postgresql"
            else None
        )
        self._locks: dict[str, JobLock] = {}

    def lock(self, job: str) -> JobLock:
        """The lock of `job` (one of `JOB_KEYS`)."""
        if job not in self._locks:
            self._locks[job] = JobLock(self._engine, job)
        return self._locks[job]

    async def close(self) -> None:
        """Release every lock held and close their connections."""
        for lock in self._locks.values():
            await lock.release()
        if self._engine is not None:
            await self._engine.dispose()


async def run_pass(lock: JobLock | None, step: Callable[[], Awaitable[object]]) -> bool:
    """Run `step` if this replica runs the job (no lock: always); whether it ran."""
    if lock is not None and not await lock.mine():
        return False
    await step()
    return True


async def _close(conn: AsyncConnection) -> None:
    with contextlib.suppress(DBAPIError, OSError):
        await conn.close()
