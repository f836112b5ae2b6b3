"""Background jobs on several control replicas: one replica at a time makes the passes.

Each "replica" here is a `JobLocks` of its own on one database, as each
`serve` process has. On PostgreSQL the first to ask keeps the job while it
lives; when its session ends (shutdown, or a death the database notices),
the next to ask takes over. On SQLite one process is assumed: every pass runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from junction_control.db import Database
from junction_control.job_locks import JobLocks
from junction_control.usage.reaper import run_reaper


@pytest.fixture
async def replicas(database: Database) -> AsyncIterator[tuple[JobLocks, JobLocks]]:
    first, second = JobLocks(database), JobLocks(database)
    yield first, second
    await first.close()
    await second.close()


async def test_one_replica_runs_a_job_and_keeps_it_until_it_lets_go(
    database: Database, replicas: tuple[JobLocks, JobLocks]
) -> None:
    first, second = replicas
    if database.dialect == "sqlite":
        # a single process is assumed: no lock, every pass is this process's
        assert await first.lock("reaper").mine() is True
        assert await second.lock("reaper").mine() is True
        return
    assert await first.lock("reaper").mine() is True
    assert await second.lock("reaper").mine() is False
    # kept across passes, not taken again per pass: once per period across replicas
    assert await first.lock("reaper").mine() is True
    assert await second.lock("reaper").mine() is False
    # each job has its own lock
    assert await second.lock("rollup").mine() is True
    assert await first.lock("rollup").mine() is False

    await first.close()  # a replica shutting down hands its jobs over at once
    assert await second.lock("reaper").mine() is True
    assert await first.lock("reaper").mine() is False


async def test_a_holder_whose_session_ends_loses_the_job_to_the_next_replica(
    database: Database, replicas: tuple[JobLocks, JobLocks]
) -> None:
    if database.dialect == "sqlite":
        pytest.skip("no advisory locks on SQLite: one control process is assumed")
    first, second = replicas
    assert await first.lock("deliveries").mine() is True
    # the holder's session dies (a replica killed, a connection cut): the database
    # drops its locks with it
    async with database.engine.connect() as conn:
        await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND objid = 4 AND pid <> pg_backend_pid()"
            )
        )
        await conn.commit()
    assert await second.lock("deliveries").mine() is True
    # the old holder notices at its next pass and does not run the job twice
    assert await first.lock("deliveries").mine() is False
    assert first.lock("deliveries").held is False


async def test_the_reaper_of_the_second_replica_reports_its_passes_as_elsewhere(
    database: Database, replicas: tuple[JobLocks, JobLocks]
) -> None:
    first, second = replicas
    results: dict[str, list[str]] = {"first": [], "second": []}
    loops = [
        asyncio.create_task(
            run_reaper(
                database,
                timedelta(minutes=30),
                interval=0.05,
                report=results[name].append,
                lock=locks.lock("reaper"),
            )
        )
        for name, locks in (("first", first), ("second", second))
    ]
    while min(len(r) for r in results.values()) < 3:
        await asyncio.sleep(0.02)
    for loop in loops:
        loop.cancel()
    await asyncio.wait(loops)
    if database.dialect == "sqlite":
        assert set(results["first"]) == set(results["second"]) == {"ok"}
        return
    # whichever asked first makes every pass; the other skips every one
    outcomes = sorted((set(r) for r in results.values()), key=sorted)
    assert outcomes == [{"elsewhere"}, {"ok"}]
