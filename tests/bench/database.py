"""The control plane's database for a bench run: a fresh PostgreSQL database when reachable.

Production runs the control plane on PostgreSQL, so that is what its cost per
ingested call is measured on. The run makes a database of its own on the
given server (``junction_bench_stack_<pid>``, dropped afterwards; the database
named in the URL is only used to connect); ``sqlite`` (or an unreachable
server) falls back to the embedded SQLite file of the stack's directory.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
#: the start of the bench database's name, and so of its backends' process titles
DATABASE_MARK = "junction_bench_stack_"


async def _execute(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _reachable(url: str) -> bool:
    try:
        asyncio.run(_execute(url, "SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        print(f"PostgreSQL at {url} is not usable ({exc}); using SQLite", file=sys.stderr)
        return False
    return True


@contextmanager
def bench_database(url: str) -> Iterator[str | None]:
    """Yield the URL of a fresh PostgreSQL database, or None for the stack's SQLite."""
    if url == "sqlite" or not _reachable(url):
        yield None
        return
    name = f"{DATABASE_MARK}{os.getpid()}"
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    asyncio.run(_execute(url, drop))
    asyncio.run(_execute(url, f'CREATE DATABASE "{name}"'))
    try:
        yield f"{url.rpartition('/')[0]}/{name}"
    finally:
        asyncio.run(_execute(url, drop))
