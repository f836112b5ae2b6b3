"""Statements over a whole batch of rows at once, on PostgreSQL and SQLite alike.

A statement reads the batch as a table named ``batch`` with named columns (it
says ``FROM batch`` once, and that becomes a derived table), so one SQL text
serves any number of rows and each dialect only differs in how the rows get
there. Not a WITH clause in front: Python's sqlite3 opens its implicit
transaction only before statements that start with INSERT, UPDATE, DELETE or
REPLACE, and a batch written outside the caller's transaction would survive
its rollback.

- PostgreSQL: the rows as one JSON array of arrays (orjson writes it in C),
  unpacked by ``json_array_elements`` and cast to the column types by the
  server. The statement is the same text for every batch, so asyncpg prepares
  it once per connection; one round trip, whatever the batch size. (Arrays
  per column cost ten times more client CPU: asyncpg checks every element.)
- SQLite: a ``VALUES`` list of ``?`` placeholders, run in chunks that stay far
  below SQLite's bind-parameter limit; timestamps become the naive-UTC text
  SQLAlchemy's SQLite DateTime stores (see `columns.UtcDateTime`), so the
  rows read back exactly like ORM-written ones.

Either way there is no per-row SQLAlchemy work: no compiled multi-row VALUES,
no ORM objects. Errors still go through SQLAlchemy, so callers see the usual
DBAPIError family (deadlock retries and outage mapping keep working).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

# rows per SQLite statement: 500 rows of 30 columns stay below the 32,766 bind
# parameters SQLite (3.32+) allows
SQLITE_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a batch: its name and its PostgreSQL type (``text``, ``int4``, …)."""

    name: str
    pg_type: str


Columns = tuple[Column, ...]


def columns(spec: str) -> Columns:
    """Columns from ``"name type, name type"`` (types as PostgreSQL names them)."""
    parts = (item.split() for item in spec.split(","))
    return tuple(Column(name, pg_type) for name, pg_type in parts)


async def with_batch(
    conn: AsyncConnection,
    cols: Columns,
    rows: Sequence[Sequence[Any]],
    statement: str,
    *,
    postgres_suffix: str = "",
) -> list[tuple[Any, ...]]:
    """Run `statement` with ``FROM batch`` reading `rows`; the rows it returns.

    `statement` must act on each batch row on its own (an insert, an update by
    key, a select of matches): SQLite runs it in chunks. `postgres_suffix`
    (e.g. ``FOR UPDATE``) is appended on PostgreSQL only.
    """
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        clause = _postgres_statement(cols, statement + postgres_suffix)
        # SQLAlchemy's asyncpg json codec takes text
        result = await conn.execute(clause, {"rows": orjson.dumps(rows).decode()})
        return [tuple(row) for row in result.all()] if result.returns_rows else []
    found: list[tuple[Any, ...]] = []
    times = [i for i, c in enumerate(cols) if c.pg_type == "timestamptz"]
    for start in range(0, len(rows), SQLITE_CHUNK):
        chunk = rows[start : start + SQLITE_CHUNK]
        params: list[Any] = []
        for row in chunk:
            if times:
                row = list(row)
                for i in times:
                    row[i] = sqlite_time(row[i])
            params.extend(row)
        result = await conn.exec_driver_sql(
            _sqlite_statement(cols, statement, len(chunk)), tuple(params)
        )
        if result.returns_rows:
            found.extend(tuple(row) for row in result.all())
    return found


def insert_sql(table: str, cols: Columns, *, conflict: str) -> str:
    """``INSERT INTO <table> (<cols>) SELECT <cols> FROM batch <conflict>`` for `with_batch`.

    `conflict` is the ON CONFLICT clause, with RETURNING if wanted.
    """
    names = ", ".join(c.name for c in cols)
    # `WHERE true`: SQLite reads ON CONFLICT after a bare SELECT as a join constraint
    return f"INSERT INTO {table} ({names}) SELECT {names} FROM batch WHERE true {conflict}"  # noqa: S608 - identifiers are this package's constants; values are bound


def update_sql(table: str, key: str, cols: Columns, *, where: str, returning: str) -> str:
    """``UPDATE <table> SET <col> = batch.<col>, … FROM batch`` matched on `key` (`with_batch`)."""
    assignments = ", ".join(f"{c.name} = batch.{c.name}" for c in cols)
    return (
        f"UPDATE {table} SET {assignments} FROM batch "  # noqa: S608 - as in insert_sql
        f"WHERE {table}.{key} = batch.{key} AND {where} RETURNING {returning}"
    )


def sqlite_time(value: datetime | None) -> str | None:
    """A timestamp as SQLAlchemy's SQLite DateTime stores it: naive UTC, microseconds."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


@lru_cache(maxsize=64)
def _postgres_statement(cols: Columns, statement: str) -> TextClause:
    values = ", ".join(f"CAST(r ->> {i} AS {c.pg_type}) AS {c.name}" for i, c in enumerate(cols))
    rows = "json_array_elements(CAST(:rows AS json)) AS r"
    return text(_reading(statement, f"SELECT {values} FROM {rows}"))  # noqa: S608 - as in insert_sql


@lru_cache(maxsize=64)
def _sqlite_statement(cols: Columns, statement: str, count: int) -> str:
    # a VALUES list names its columns column1, column2, …
    values = ", ".join(f"column{i} AS {c.name}" for i, c in enumerate(cols, start=1))
    row = "(" + ", ".join(["?"] * len(cols)) + ")"
    return _reading(statement, f"SELECT {values} FROM (VALUES {', '.join([row] * count)})")  # noqa: S608 - as in insert_sql


def _reading(statement: str, rows: str) -> str:
    if statement.count(_FROM_BATCH) != 1:
        raise ValueError(f"a batch statement says {_FROM_BATCH!r} once: {statement[:80]}")
    return statement.replace(_FROM_BATCH, f"FROM ({rows}) AS batch")


_FROM_BATCH = "FROM batch"
