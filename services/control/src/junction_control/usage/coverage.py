"""How far the hourly rollups are known to match model_calls: one row the rollup job keeps.

`rolled_until`: every hour before it has been rolled. `changes_before`: every
change to a call stamped (``updated_at``) before it is reflected in the
rollups of the hours before `rolled_until`. So a reader may take an hour
before `rolled_until` from `usage_hourly` unless one of its calls was changed
at or after `changes_before` (a late ``finished`` event, a spooled batch, the
stuck-call reaper): those hours, and every hour from `rolled_until` on, are
read from the raw calls. The index on ``model_calls.updated_at`` finds the
changed calls without scanning the hours.

The row is taken ``FOR UPDATE`` at the start of each rollup (every control
process runs the job), so runs queue: a slower run never writes rollups from
an older snapshot over a newer run's, nor moves the marks back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Index, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from junction_control.columns import UtcDateTime
from junction_control.usage.models import ModelCall

SCOPE = "hourly"
# how late a change may commit after its updated_at stamp (or how far a control
# process's clock may lag), and still be seen by the next rollup
CLOCK_SLACK = timedelta(minutes=2)


class RollupCoverage(SQLModel, table=True):
    """The marks of the hourly rollup (one row, ``scope = 'hourly'``); see the module doc."""

    __tablename__ = "usage_rollup_coverage"

    scope: str = Field(primary_key=True, max_length=16)
    rolled_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    changes_before: datetime | None = Field(default=None, sa_type=UtcDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


_calls: Table = ModelCall.__table__  # type: ignore[attr-defined]
_coverage: Table = RollupCoverage.__table__  # type: ignore[attr-defined]

# the calls changed since the last rollup, for the rollup and the usage readers
# (declared here, beside the marks it serves; created by migration 0011)
Index("ix_model_calls_updated", _calls.c.updated_at)


@dataclass(frozen=True, slots=True)
class Coverage:
    """The two marks (see the module doc)."""

    rolled_until: datetime
    changes_before: datetime


async def read_coverage(conn: AsyncConnection) -> Coverage | None:
    """The marks, or None before the first rollup of this schema (trust no rollup then)."""
    row = (
        await conn.execute(
            select(_coverage.c.rolled_until, _coverage.c.changes_before).where(
                _coverage.c.scope == SCOPE
            )
        )
    ).one_or_none()
    if row is None or row.rolled_until is None or row.changes_before is None:
        return None
    return Coverage(row.rolled_until, row.changes_before)


async def lock_coverage(conn: AsyncConnection) -> Coverage | None:
    """Take the marks' row for this transaction (creating it), so rollups run one at a time.

    The insert comes first: on SQLite it takes the write lock before anything
    is read, so a concurrent run waits instead of rolling from a stale snapshot.
    """
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    await conn.execute(insert(_coverage).values(scope=SCOPE).on_conflict_do_nothing())
    row = (
        await conn.execute(
            select(_coverage.c.rolled_until, _coverage.c.changes_before)
            .where(_coverage.c.scope == SCOPE)
            .with_for_update()
        )
    ).one()
    if row.rolled_until is None or row.changes_before is None:
        return None
    return Coverage(row.rolled_until, row.changes_before)


async def save_coverage(
    conn: AsyncConnection, previous: Coverage | None, *, rolled_until: datetime, started: datetime
) -> Coverage:
    """Move the marks on after a run that started at `started` (never back); the new marks."""
    changes_before = started - CLOCK_SLACK
    if previous is not None:
        rolled_until = max(rolled_until, previous.rolled_until)
        changes_before = max(changes_before, previous.changes_before)
    await conn.execute(
        _coverage.update()
        .where(_coverage.c.scope == SCOPE)
        .values(rolled_until=rolled_until, changes_before=changes_before, updated_at=started)
    )
    return Coverage(rolled_until, changes_before)
